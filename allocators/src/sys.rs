//! The operating-system memory interface: anonymous `mmap` and `munmap` on Linux.
//!
//! This is the only module of the library that issues system calls. It is a thin, typed layer
//! over the `syscalls` crate (no libc): lengths and addresses go in as Rust types, failures come
//! back as [`Errno`] values, and the magic numbers of the mmap ABI have names.
//!
//! ```text
//!   map_anonymous(len) ──► mmap(NULL, len, PROT_READ|PROT_WRITE,
//!                               MAP_PRIVATE|MAP_ANONYMOUS, fd = -1, offset = 0)
//!   unmap(ptr, len)    ──► munmap(ptr, len)
//! ```
//!
//! Each call is one system call: a few hundred nanoseconds to microseconds natively, plus the
//! kernel's cost of populating pages on first touch.

use core::ptr::NonNull;

pub use syscalls::Errno;
use syscalls::{Sysno, syscall};

/// Pages may be read.
const PROT_READ: usize = 0x1;
/// Pages may be written.
const PROT_WRITE: usize = 0x2;
/// Changes are private to this process (copy-on-write).
const MAP_PRIVATE: usize = 0x02;
/// The mapping is not backed by any file; its contents start zeroed.
const MAP_ANONYMOUS: usize = 0x20;
/// The file descriptor an anonymous mapping must pass: -1, not 0 (0 is stdin).
const NO_FILE: usize = -1isize as usize;

/// Maps `len` bytes of fresh, zeroed, readable and writable memory.
///
/// The kernel rounds `len` up to whole pages; the returned address is page-aligned. The caller
/// owns the mapping and ends it with [`unmap`] using the same `len`.
///
/// # Errors
/// The kernel's error: `ENOMEM` when the address space or the memory limit is exhausted,
/// `EINVAL` when `len` is zero.
pub fn map_anonymous(len: usize) -> Result<NonNull<u8>, Errno> {
    // SAFETY: an anonymous private mapping at a kernel-chosen address (hint 0, no MAP_FIXED)
    // cannot replace or alias any existing memory of this process, so the call has no effect
    // on memory Rust already knows about.
    let address = unsafe {
        syscall!(
            Sysno::mmap,
            0,
            len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS,
            NO_FILE,
            0
        )
    }?;
    // The kernel returns a plain integer; the mapping is a new allocation in the abstract
    // machine, so it gets fresh provenance rather than borrowing any existing pointer's.
    NonNull::new(core::ptr::with_exposed_provenance_mut(address)).ok_or(Errno::ENOMEM)
}

/// Ends the mapping of `len` bytes at `ptr`, returning the memory to the kernel.
///
/// # Errors
/// `EINVAL` when `ptr` is not page-aligned or `len` is zero.
///
/// # Safety
/// `ptr..ptr + len` must be (part of) a mapping this program made with [`map_anonymous`], and
/// nothing may use that memory afterwards: every pointer into it dangles once this returns.
pub unsafe fn unmap(ptr: NonNull<u8>, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller guarantees the range is ours and no longer used, so removing it from
    // the address space cannot invalidate memory that live references point to.
    unsafe { syscall!(Sysno::munmap, ptr.as_ptr() as usize, len) }.map(|_| ())
}
