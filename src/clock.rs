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
