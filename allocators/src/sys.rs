//! The operating-system interface: anonymous `mmap`, `munmap` and `madvise` on Linux, and the
//! two `futex` operations a sleeping lock needs.
//!
//! This is the only module of the library that issues system calls. It is a thin, typed layer
//! over the `syscalls` crate (no libc): lengths and addresses go in as Rust types, failures come
//! back as [`Errno`] values, and the magic numbers of the mmap ABI have names.
//!
//! ```text
//!   map_anonymous(len) ──► mmap(NULL, len, PROT_READ|PROT_WRITE,
//!                               MAP_PRIVATE|MAP_ANONYMOUS, fd = -1, offset = 0)
//!   unmap(ptr, len)    ──► munmap(ptr, len)
//!   discard(ptr, len)  ──► madvise(ptr, len, MADV_DONTNEED)
//!   page_size()        ──► madvise(P, 0, MADV_NORMAL) for P = 256, 512, ...: the first P the
//!                          kernel accepts as page-aligned (once; remembered)
//!   wait(word, value)  ──► futex(word, FUTEX_WAIT_PRIVATE, value)
//!   wake_one(word)     ──► futex(word, FUTEX_WAKE_PRIVATE, 1)
//! ```
//!
//! Each call is one system call: a few hundred nanoseconds to microseconds natively, plus the
//! kernel's cost of populating pages on first touch.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

pub use syscalls::Errno;

#[cfg(miri)]
use miri as os;
#[cfg(not(miri))]
use native as os;

/// Pages may be read.
const PROT_READ: usize = 0x1;
/// Pages may be written.
const PROT_WRITE: usize = 0x2;
/// Changes are private to this process (copy-on-write).
const MAP_PRIVATE: usize = 0x02;
/// The mapping is not backed by any file; its contents start zeroed.
const MAP_ANONYMOUS: usize = 0x20;

/// Maps `len` bytes of fresh, zeroed, readable and writable memory.
///
/// The kernel rounds `len` up to whole pages; the returned address is page-aligned. The caller
/// owns the mapping and ends it with [`unmap`] using the same `len`.
///
/// # Errors
/// The kernel's error: `ENOMEM` when the address space or the memory limit is exhausted,
/// `EINVAL` when `len` is zero.
pub fn map_anonymous(len: usize) -> Result<NonNull<u8>, Errno> {
    os::map_anonymous(len)
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
    // SAFETY: forwarded from the caller.
    unsafe { os::unmap(ptr, len) }
}

/// Gives the pages of `len` bytes at `ptr` back to the kernel while keeping them mapped: they
/// read as zeros when next touched, and count towards the resident set again only then.
///
/// # Errors
/// `EINVAL` when `ptr` is not page-aligned.
///
/// # Safety
/// `ptr..ptr + len` must be part of a private anonymous mapping this program made with
/// [`map_anonymous`], whose bytes nothing reads before writing them again (they become zeros).
pub unsafe fn discard(ptr: NonNull<u8>, len: usize) -> Result<(), Errno> {
    // SAFETY: forwarded from the caller.
    unsafe { os::discard(ptr, len) }
}

/// The kernel's page size, the unit `mmap`, `munmap` and `madvise` work in; `None` when it
/// cannot be learned (a sandbox that refuses `madvise`).
///
/// Learned without libc and without the auxiliary vector (which a library cannot reach): the
/// kernel checks that `madvise`'s address is page-aligned before anything else, and a call of
/// length zero does nothing else at all, so the page size is the smallest power of two `P`
/// for which `madvise(P, 0, MADV_NORMAL)` succeeds. That costs about five system calls, once:
/// the answer is remembered for the life of the process. The kernel's answer is the only one
/// page arithmetic may trust: a page size a program configured may be smaller than the real
/// one (a 4 KiB assumption on an arm64 kernel with 16 KiB or 64 KiB pages), and `madvise`
/// rounds its length up to real pages.
pub fn page_size() -> Option<usize> {
    /// The page size learned so far; 0 before the first call (or when it cannot be learned).
    static LEARNED: AtomicUsize = AtomicUsize::new(0);
    let known = LEARNED.load(Ordering::Relaxed);
    if known != 0 {
        return Some(known);
    }
    let learned = os::page_size()?;
    LEARNED.store(learned, Ordering::Relaxed);
    Some(learned)
}

/// The smallest page size [`page_size`] tries: 256 bytes (no kernel uses less).
#[cfg(not(miri))]
const SMALLEST_PAGE: usize = 1 << 8;
/// The largest page size [`page_size`] tries: 1 GiB on 64-bit targets, 1 MiB on 32-bit ones.
#[cfg(not(miri))]
const LARGEST_PAGE: usize = if usize::BITS >= 64 { 1 << 30 } else { 1 << 20 };

/// Sleeps while `word` holds `expected`: the kernel checks the value and queues the thread
/// atomically, so a wake that comes after the caller last read `expected` is never lost. Returns
/// when woken, on a signal, or at once if `word` no longer holds `expected` (all of which the
/// caller handles the same way: by looking at `word` again).
pub fn wait(word: &AtomicU32, expected: u32) {
    os::wait(word, expected);
}

/// Wakes one thread sleeping in [`wait`] on `word`, if any.
pub fn wake_one(word: &AtomicU32) {
    os::wake_one(word);
}

/// `futex` operations on a word private to this process (no shared-memory key to compute).
const FUTEX_WAIT_PRIVATE: usize = 128;
const FUTEX_WAKE_PRIVATE: usize = 128 | 1;

/// The system calls themselves, through the `syscalls` crate.
#[cfg(not(miri))]
mod native {
    use core::ptr::NonNull;
    use core::sync::atomic::AtomicU32;

    use syscalls::{Errno, Sysno, syscall};

    use super::{
        FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE, LARGEST_PAGE, MAP_ANONYMOUS, MAP_PRIVATE,
        PROT_READ, PROT_WRITE, SMALLEST_PAGE,
    };

    /// The file descriptor an anonymous mapping must pass: -1, not 0 (0 is stdin).
    const NO_FILE: usize = -1isize as usize;
    /// The six-argument `mmap`: on 32-bit x86 and Arm, `mmap` is the old one-argument call and
    /// the six-argument one is `mmap2` (whose offset counts pages; ours is 0 either way).
    #[cfg(any(target_arch = "x86", target_arch = "arm"))]
    const MMAP: Sysno = Sysno::mmap2;
    #[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
    const MMAP: Sysno = Sysno::mmap;
    /// The pages' contents are not needed: a private anonymous page is freed, and reads as
    /// zeros when next touched.
    const MADV_DONTNEED: usize = 4;
    /// No special treatment: the advice that changes nothing.
    const MADV_NORMAL: usize = 0;

    pub(super) fn map_anonymous(len: usize) -> Result<NonNull<u8>, Errno> {
        // SAFETY: an anonymous private mapping at a kernel-chosen address (hint 0, no
        // MAP_FIXED) cannot replace or alias any existing memory of this process, so the call
        // has no effect on memory Rust already knows about.
        let address = unsafe {
            syscall!(
                MMAP,
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

    pub(super) unsafe fn unmap(ptr: NonNull<u8>, len: usize) -> Result<(), Errno> {
        // SAFETY: the caller guarantees the range is ours and no longer used, so removing it
        // from the address space cannot invalidate memory that live references point to.
        unsafe { syscall!(Sysno::munmap, ptr.as_ptr() as usize, len) }.map(|_| ())
    }

    pub(super) unsafe fn discard(ptr: NonNull<u8>, len: usize) -> Result<(), Errno> {
        // SAFETY: the caller guarantees the range is ours and that its contents are dead, so
        // replacing them with zeros changes nothing any live reference can observe.
        unsafe { syscall!(Sysno::madvise, ptr.as_ptr() as usize, len, MADV_DONTNEED) }.map(|_| ())
    }

    pub(super) fn page_size() -> Option<usize> {
        let mut candidate = SMALLEST_PAGE;
        while candidate <= LARGEST_PAGE {
            // SAFETY: a zero-length `madvise` touches no memory: the kernel only checks that the
            // address is page-aligned (EINVAL if not) and returns.
            if unsafe { syscall!(Sysno::madvise, candidate, 0, MADV_NORMAL) }.is_ok() {
                return Some(candidate);
            }
            candidate <<= 1;
        }
        None
    }

    pub(super) fn wait(word: &AtomicU32, expected: u32) {
        // SAFETY: the kernel only reads the word (a live, aligned `AtomicU32` that the
        // reference keeps alive for the call) and puts this thread to sleep, with no timeout.
        // Its errors (EAGAIN: the value changed; EINTR: a signal) mean "look again", which is
        // what every caller does, so they are ignored.
        let _ = unsafe {
            syscall!(
                Sysno::futex,
                word.as_ptr() as usize,
                FUTEX_WAIT_PRIVATE,
                expected as usize,
                0
            )
        };
    }

    pub(super) fn wake_one(word: &AtomicU32) {
        // SAFETY: a wake touches no memory; the address only names the queue of sleepers.
        let _ = unsafe { syscall!(Sysno::futex, word.as_ptr() as usize, FUTEX_WAKE_PRIVATE, 1) };
    }
}

/// Under Miri, which cannot run the `syscall` instruction: the same calls through the C
/// library's functions, which Miri emulates (declared by the `libc` crate, a dependency under
/// Miri only, whose exact argument types Miri checks), and `MADV_DONTNEED` as what it does to a
/// private anonymous mapping (the bytes read as zeros), so the tests of the mmap grower and of
/// the futex lock run under Miri too.
#[cfg(miri)]
mod miri {
    use core::ptr::NonNull;
    use core::sync::atomic::AtomicU32;

    use super::{
        Errno, FUTEX_WAIT_PRIVATE, FUTEX_WAKE_PRIVATE, MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ,
        PROT_WRITE,
    };

    pub(super) fn map_anonymous(len: usize) -> Result<NonNull<u8>, Errno> {
        let (prot, flags) = (
            (PROT_READ | PROT_WRITE) as libc::c_int,
            (MAP_PRIVATE | MAP_ANONYMOUS) as libc::c_int,
        );
        // SAFETY: a fresh anonymous mapping, as in the native path.
        let address = unsafe { libc::mmap(core::ptr::null_mut(), len, prot, flags, -1, 0) };
        if address == libc::MAP_FAILED {
            return Err(Errno::ENOMEM);
        }
        NonNull::new(address.cast::<u8>()).ok_or(Errno::ENOMEM)
    }

    pub(super) unsafe fn unmap(ptr: NonNull<u8>, len: usize) -> Result<(), Errno> {
        // SAFETY: forwarded from the caller.
        match unsafe { libc::munmap(ptr.as_ptr().cast(), len) } {
            0 => Ok(()),
            _ => Err(Errno::EINVAL),
        }
    }

    /// As the kernel does it: an address that is not page-aligned is refused, and the length
    /// is rounded up to whole pages, every byte of which reads as zero afterwards. (So a caller
    /// that passes a length that is not a multiple of the page zeroes bytes past it here as on
    /// Linux, and the tests see it.)
    pub(super) unsafe fn discard(ptr: NonNull<u8>, len: usize) -> Result<(), Errno> {
        let page = page_size().ok_or(Errno::EINVAL)?;
        if ptr.addr().get() % page != 0 {
            return Err(Errno::EINVAL);
        }
        let len = len.checked_next_multiple_of(page).ok_or(Errno::EINVAL)?;
        // SAFETY: forwarded from the caller: the bytes are ours and dead (a length that the
        // rounding carried past the caller's range is the caller's fault, as on Linux).
        unsafe { ptr.write_bytes(0, len) };
        Ok(())
    }

    pub(super) fn page_size() -> Option<usize> {
        // SAFETY: `sysconf` only reads the configuration.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(page)
            .ok()
            .filter(|page| page.is_power_of_two())
    }

    pub(super) fn wait(word: &AtomicU32, expected: u32) {
        // SAFETY: as in the native path.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                FUTEX_WAIT_PRIVATE as libc::c_int,
                expected,
                core::ptr::null_mut::<libc::timespec>(),
            )
        };
    }

    pub(super) fn wake_one(word: &AtomicU32) {
        // SAFETY: as in the native path.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                word.as_ptr(),
                FUTEX_WAKE_PRIVATE as libc::c_int,
                1u32,
            )
        };
    }
}
