//! System calls: the only place in the demo that talks to the kernel.
//!
//! A thin, typed layer over the `syscalls` crate, in the spirit of rustix: each function is one
//! kernel operation with Rust types in and `Result<_, Errno>` out, and the ABI's numbers have
//! names. Memory mapping (`mmap`, `munmap`) is the library's own layer, [`bareheap::sys`], because
//! the library's `MmapGrower` needs it; this module re-exports what the demo uses of it.
//!
//! ```text
//!   write_all(fd, bytes) ──► write(2), repeated until every byte is written
//!   exit_group(code)     ──► exit_group(2), ends every thread of the process
//!   monotonic_time()     ──► clock_gettime(2) on CLOCK_MONOTONIC
//! ```

use core::time::Duration;

pub use bareheap::sys::Errno;
use syscalls::{Sysno, syscall};

/// An open file descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fd(usize);

impl Fd {
    /// Standard output, open when the process starts.
    pub const STDOUT: Self = Self(1);
    /// Standard error, open when the process starts.
    pub const STDERR: Self = Self(2);
}

/// Writes all of `bytes` to `fd`.
///
/// `write(2)` may write fewer bytes than asked (a pipe that is nearly full) or be interrupted by
/// a signal before writing anything (`EINTR`); both are retried until every byte is out.
///
/// # Errors
/// The first error other than `EINTR`, e.g. `EPIPE` when the reader went away.
pub fn write_all(fd: Fd, mut bytes: &[u8]) -> Result<(), Errno> {
    while !bytes.is_empty() {
        // SAFETY: the kernel only reads `bytes.len()` bytes from a pointer into a live slice.
        let written = unsafe {
            syscall!(
                Sysno::write,
                fd.0,
                bytes.as_ptr().expose_provenance(),
                bytes.len()
            )
        };
        match written {
            Ok(count) => bytes = &bytes[count..],
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// Ends the process with `code` as its exit status.
pub fn exit_group(code: u8) -> ! {
    // SAFETY: exit_group takes no pointers and does not return; nothing after it can observe
    // memory in an inconsistent state.
    let _ = unsafe { syscall!(Sysno::exit_group, usize::from(code)) };
    // exit_group does not return; the loop only gives this function its type `!`.
    loop {
        core::hint::spin_loop();
    }
}

/// `CLOCK_MONOTONIC`: time since an arbitrary start, never set back.
const CLOCK_MONOTONIC: usize = 1;

/// The kernel's `struct timespec`.
#[repr(C)]
#[derive(Default)]
struct Timespec {
    seconds: i64,
    nanoseconds: i64,
}

/// The time on the monotonic clock, as a duration since its (arbitrary) start.
///
/// # Errors
/// The kernel's error; none is expected for this clock.
pub fn monotonic_time() -> Result<Duration, Errno> {
    let mut now = Timespec::default();
    // SAFETY: the kernel writes one `struct timespec` to a pointer to a live, writable,
    // correctly laid out (repr(C)) local.
    unsafe {
        syscall!(
            Sysno::clock_gettime,
            CLOCK_MONOTONIC,
            (&raw mut now).expose_provenance()
        )
    }?;
    let seconds = u64::try_from(now.seconds).unwrap_or(0);
    let nanoseconds = u32::try_from(now.nanoseconds).unwrap_or(0);
    Ok(Duration::new(seconds, nanoseconds))
}
