//! Two clocks for measuring workloads: CPU cycles and wall time.
//!
//! - **Cycles** come from the time-stamp counter (`rdtsc`), which on current x86 CPUs ticks at
//!   a constant rate whatever the clock speed. Reading it costs tens of cycles and no system
//!   call, so it suits short intervals; `rdtscp` also waits for earlier instructions to finish,
//!   which makes it the one to put *after* the code being timed.
//! - **Wall time** comes from `clock_gettime(CLOCK_MONOTONIC)` (see [`crate::sys`]), one system
//!   call per reading: right for whole workloads, too coarse and too slow for single calls.

use core::arch::x86_64::{__rdtscp, _rdtsc};
use core::time::Duration;

use crate::sys;

/// The time-stamp counter now.
pub fn cycles() -> u64 {
    // SAFETY: `rdtsc` reads a counter; every x86_64 CPU has it and it has no side effects.
    unsafe { _rdtsc() }
}

/// The time-stamp counter once every earlier instruction has completed.
pub fn cycles_after() -> u64 {
    let mut processor = 0;
    // SAFETY: `rdtscp` reads the counter and the processor id into a live local; x86_64 CPUs
    // of the last fifteen years (and qemu's default CPU) implement it.
    unsafe { __rdtscp(&mut processor) }
}

/// Wall time on the monotonic clock; zero if the kernel refuses (it does not for this clock).
pub fn now() -> Duration {
    sys::monotonic_time().unwrap_or_default()
}

/// Cycles and wall time of one stretch of work.
#[derive(Debug, Clone, Copy, Default)]
pub struct Elapsed {
    /// Time-stamp counter ticks.
    pub cycles: u64,
    /// Wall time.
    pub wall: Duration,
}

/// Runs `work` and measures it.
pub fn measure(work: impl FnOnce()) -> Elapsed {
    let (start_wall, start_cycles) = (now(), cycles());
    work();
    let (end_cycles, end_wall) = (cycles_after(), now());
    Elapsed {
        cycles: end_cycles.wrapping_sub(start_cycles),
        wall: end_wall.saturating_sub(start_wall),
    }
}

/// The processor's name, as `cpuid` reports it (leaves 0x8000_0002 to 0x8000_0004: 48 bytes
/// of ASCII), so that printed times say which machine made them. Empty when the CPU (or an
/// emulator) does not report one.
pub struct CpuName {
    bytes: [u8; 48],
}

impl CpuName {
    /// Asks the processor.
    // `__cpuid` is an unsafe function on older compilers, the MSRV among them, and a safe one
    // on current ones: the `unsafe` blocks are needed there and redundant here.
    #[allow(unused_unsafe)]
    pub fn read() -> Self {
        use core::arch::x86_64::__cpuid;
        let mut bytes = [0; 48];
        // SAFETY: `cpuid` has no side effects and every x86_64 CPU implements it; leaf
        // 0x8000_0000 says whether the brand-string leaves exist before they are read.
        let highest = unsafe { __cpuid(0x8000_0000) }.eax;
        if highest >= 0x8000_0004 {
            for (leaf, chunk) in (0x8000_0002..=0x8000_0004).zip(bytes.chunks_exact_mut(16)) {
                // SAFETY: as above; the leaf exists.
                let regs = unsafe { __cpuid(leaf) };
                for (word, out) in [regs.eax, regs.ebx, regs.ecx, regs.edx]
                    .into_iter()
                    .zip(chunk.chunks_exact_mut(4))
                {
                    out.copy_from_slice(&word.to_le_bytes());
                }
            }
        }
        Self { bytes }
    }

    /// The name without its padding (NUL bytes and spaces), or "" if it is not ASCII.
    pub fn as_str(&self) -> &str {
        let end = self.bytes.iter().position(|&b| b == 0).unwrap_or(48);
        core::str::from_utf8(&self.bytes[..end]).map_or("", str::trim)
    }
}
