//! What happens when the program panics: a message on stderr and exit status 101.
//!
//! Without libstd there is no default panic handler; a `no_std` binary must define exactly one.
//! Unwinding is off (`panic = "abort"` in Cargo.toml), so the handler is the end of the road:
//! it flushes what stdout still buffers (so the output before the panic is not lost), prints the
//! message and where it was raised, and exits with 101, the status Rust programs use for a panic.
//!
//! A failed allocation lands here too: `alloc`'s default error handler panics with
//! "memory allocation of N bytes failed", which names the size that could not be served.

use core::panic::PanicInfo;

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    crate::io::flush_stdout();
    match info.location() {
        Some(location) => {
            crate::eprintln!("bareheap-demo panicked at {location}:\n{}", info.message())
        }
        None => crate::eprintln!("bareheap-demo panicked:\n{}", info.message()),
    }
    crate::sys::exit_group(crate::ExitCode::Panic as u8)
}
