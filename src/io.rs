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
//! first so that the two streams appear in the order they were written. Write errors (a closed
//! pipe) are dropped: a demo that cannot print has no one to report to.

use core::fmt::{self, Write};

use spin::Mutex;

use crate::sys::{self, Fd};

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

    /// Writes out everything buffered so far.
    fn flush(&mut self) {
        let _ = sys::write_all(self.fd, &self.bytes[..self.len]);
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
