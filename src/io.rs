//! Formatted output without an allocator: `print!`, `println!`, `eprint!`, `eprintln!`.
//!
//! `core::fmt` formats into anything that implements [`fmt::Write`]; it never allocates. What
//! libstd adds is the buffering, and that is all this module does:
//!
//! ```text
//!   println!("{} blocks", n)
//!     └─ format_args! ─► fragments "…", "42", " blocks", "\n"
//!          └─ LineBuffer: copies fragments into a fixed array
//!               └─ on '\n' or when full ─► one write(2) of the whole line
//! ```
//!
//! Standard output has one buffer for the whole process, behind a spin lock, flushed at every
//! newline and by [`flush_stdout`] before the process exits or panics. Standard error gets a
//! fresh buffer on the stack for each `eprint!`, flushed when the call ends; stdout is flushed
//! first so that the two streams appear in the order they were written.
//!
//! **Lost output is reported, once.** A write to standard output can fail: the disk is full
//! (`> /dev/full`: `ENOSPC`), standard output was closed (`>&-`: `EBADF`). The first such error
//! is remembered; the program goes on (its checks still run), and [`finish`] reports it on
//! standard error, as coreutils do, and turns the exit status into
//! [`ExitCode::OutputLost`]. (A reader that goes away, `| head -1`, raises `SIGPIPE` first,
//! which ends the process the usual Unix way.) Errors writing to standard error itself have
//! no one to be reported to and are dropped.

use core::fmt::{self, Write};
use core::sync::atomic::{AtomicI32, Ordering};

use spin::Mutex;

use crate::ExitCode;
use crate::sys::{self, Errno, Fd};

/// Bytes buffered for standard output; lines longer than this go out in several writes.
const STDOUT_BUFFER_SIZE: usize = 4096;
/// Bytes buffered for one `eprint!` call.
const STDERR_BUFFER_SIZE: usize = 1024;

/// A fixed-size output buffer for one file descriptor, written out at newlines and when full.
struct LineBuffer<const N: usize> {
    fd: Fd,
    bytes: [u8; N],
    len: usize,
}

impl<const N: usize> LineBuffer<N> {
    const fn new(fd: Fd) -> Self {
        Self {
            fd,
            bytes: [0; N],
            len: 0,
        }
    }

    /// Writes out everything buffered so far; a failed write to standard output is
    /// remembered for [`finish`].
    fn flush(&mut self) {
        if let Err(errno) = sys::write_all(self.fd, &self.bytes[..self.len])
            && self.fd == Fd::STDOUT
        {
            // Only the first error counts; later ones are usually the same again.
            let _ = LOST_OUTPUT.compare_exchange(
                0,
                errno.into_raw(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
        self.len = 0;
    }
}

impl<const N: usize> Write for LineBuffer<N> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        for chunk in text.as_bytes().chunks(N) {
            if self.len + chunk.len() > N {
                self.flush();
            }
            self.bytes[self.len..self.len + chunk.len()].copy_from_slice(chunk);
            self.len += chunk.len();
        }
        if text.contains('\n') {
            self.flush();
        }
        Ok(())
    }
}

static STDOUT: Mutex<LineBuffer<STDOUT_BUFFER_SIZE>> = Mutex::new(LineBuffer::new(Fd::STDOUT));

/// The error of the first failed write to standard output, or 0.
static LOST_OUTPUT: AtomicI32 = AtomicI32::new(0);

/// Formats `args` into the standard-output buffer. Used by [`print!`](crate::print!) and
/// [`println!`](crate::println!).
pub fn print(args: fmt::Arguments<'_>) {
    let _ = STDOUT.lock().write_fmt(args);
}

/// Formats `args` to standard error in one write. Used by [`eprint!`](crate::eprint!)
/// and [`eprintln!`](crate::eprintln!).
pub fn eprint(args: fmt::Arguments<'_>) {
    flush_stdout();
    let mut buffer = LineBuffer::<STDERR_BUFFER_SIZE>::new(Fd::STDERR);
    let _ = buffer.write_fmt(args);
    buffer.flush();
}

/// Writes out whatever standard output still buffers.
///
/// Uses `try_lock`, so that a panic raised while the buffer is locked (inside a `print!`) does
/// not deadlock; that partial line is then lost.
pub fn flush_stdout() {
    if let Some(mut stdout) = STDOUT.try_lock() {
        stdout.flush();
    }
}

/// The end of the program's output: flushes standard output; if any write to it failed, says
/// so on standard error and returns [`ExitCode::OutputLost`] instead of `code`.
pub fn finish(code: u8) -> u8 {
    flush_stdout();
    match LOST_OUTPUT.load(Ordering::Relaxed) {
        0 => code,
        errno => {
            let errno = Errno::new(errno);
            let reason = errno.description().unwrap_or("unknown error");
            crate::eprintln!("bareheap-demo: write error: {reason}");
            ExitCode::OutputLost as u8
        }
    }
}

/// Prints to standard output, like std's `print!`.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::io::print(format_args!($($arg)*)) };
}

/// Prints a line to standard output, like std's `println!`.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::io::print(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints to standard error, like std's `eprint!`.
#[macro_export]
macro_rules! eprint {
    ($($arg:tt)*) => { $crate::io::eprint(format_args!($($arg)*)) };
}

/// Prints a line to standard error, like std's `eprintln!`.
#[macro_export]
macro_rules! eprintln {
    () => { $crate::eprint!("\n") };
    ($($arg:tt)*) => { $crate::io::eprint(format_args!("{}\n", format_args!($($arg)*))) };
}
