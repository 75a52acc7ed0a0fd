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
//!   clone_thread(..)     ──► clone(2) with the thread flags; the child runs `start(arg)`,
//!                            then exit(2), which ends that thread only
//!   set_thread_pointer(p)──► arch_prctl(2) ARCH_SET_FS: this thread's `fs` base
//!   futex_wait(word, v)  ──► futex(2) FUTEX_WAIT, repeated until `word` no longer holds `v`
//!   forbid_access(p, n)  ──► mprotect(2) PROT_NONE: a guard region, any touch faults
//! ```

use core::time::Duration;

pub use bareheap::sys::Errno;
pub use bareheap::sys::{map_anonymous, unmap};
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

/// The `clone(2)` flags that make the child a thread of this process (`CLONE_*` in
/// `<linux/sched.h>`).
mod clone_flags {
    /// Share the address space: the child sees and changes the parent's memory.
    pub const VM: usize = 0x100;
    /// Share the current directory and umask.
    pub const FS: usize = 0x200;
    /// Share the file-descriptor table.
    pub const FILES: usize = 0x400;
    /// Share signal handlers.
    pub const SIGHAND: usize = 0x800;
    /// Same thread group: same process id, and `exit_group` ends the child too.
    pub const THREAD: usize = 0x1_0000;
    /// Share System V semaphore undo lists.
    pub const SYSVSEM: usize = 0x4_0000;
    /// Set the child's thread pointer (`fs` base on x86_64) to the `tls` argument.
    pub const SETTLS: usize = 0x8_0000;
    /// At the child's exit, the kernel writes 0 to the `child_tid` word and wakes one futex
    /// waiter on it.
    pub const CHILD_CLEARTID: usize = 0x20_0000;

    /// Everything a thread shares with its process, its own thread pointer, and the exit
    /// notification.
    pub const THREAD_FLAGS: usize =
        VM | FS | FILES | SIGHAND | THREAD | SYSVSEM | SETTLS | CHILD_CLEARTID;
}

/// The x86_64 System V ABI's stack alignment at a `call` instruction.
const STACK_ALIGN: usize = 16;

/// Starts a thread that runs `start(arg)` on the stack that ends at `stack_top`, with its
/// thread pointer (`fs` base) at `thread_block`, then exits.
///
/// The kernel makes the child a copy of the caller's registers, except `rax` (0 in the child,
/// the child's thread id in the parent) and `rsp` (the new stack). The child therefore resumes
/// at the same instruction as the parent, right after `syscall`, inside the asm below. The
/// function and its argument travel on the new stack, the only thing that is the child's own:
///
/// ```text
///   stack_top ──► ┌────────────┐   (16-aligned, nothing above it is touched)
///                 │ arg        │   popped into rdi
///                 │ start      │   popped into rax
///   child rsp ──► └────────────┘   = stack_top - 16
/// ```
///
/// The child pops both words (leaving `rsp` at `stack_top`, 16-aligned as a `call` needs),
/// clears `rbp` to end the frame-pointer chain, calls `start(arg)` and then makes the `exit`
/// system call (not `exit_group`: only this thread ends). It never leaves the asm block, so it
/// never returns into the parent's frames on the parent's stack. One system call.
///
/// # Errors
/// `EINVAL` when `stack_top` is not 16-aligned (checked here, before the kernel is asked);
/// otherwise the kernel's error, e.g. `EAGAIN` when the thread limit is reached, `ENOMEM`.
///
/// # Safety
/// - `stack_top` ends a writable region that nothing but the new thread uses
///   until the kernel has cleared `child_tid`; the region is large enough for everything
///   `start` does (an overflow runs into whatever lies below it).
/// - `child_tid` stays valid until the kernel has cleared it (the child's exit), and holds a
///   non-zero value until then, so that a waiter can tell a running thread from a finished one.
/// - `start(arg)` is sound to run on another thread concurrently with the caller: everything
///   `arg` gives access to is `Send`.
/// - `thread_block` is a thread block ([`crate::tls`]) that stays valid, and is used by no
///   other thread, until the kernel has cleared `child_tid`.
pub unsafe fn clone_thread(
    stack_top: core::ptr::NonNull<u8>,
    child_tid: &core::sync::atomic::AtomicU32,
    thread_block: *const (),
    start: unsafe extern "C" fn(*mut ()),
    arg: *mut (),
) -> Result<u32, Errno> {
    if !stack_top.as_ptr().addr().is_multiple_of(STACK_ALIGN) {
        return Err(Errno::EINVAL);
    }
    let child_sp = stack_top.as_ptr().cast::<[*const (); 2]>().wrapping_sub(1);
    // SAFETY: the caller gives us the writable, 16-aligned region below `stack_top`, so the two
    // words just below it are in bounds and aligned for pointers.
    unsafe { child_sp.write([start as *const (), arg.cast_const()]) };
    let returned: usize;
    // SAFETY: the flags share memory, files and signal handlers with a new thread; the
    // kernel writes only to `child_tid`, which the caller keeps valid until the thread ends,
    // and points the child's `fs` at the caller's thread block, valid as long.
    // In the parent the asm is one system call: rax is its result, rcx and r11 are clobbered by
    // `syscall`, and memory is not declared untouched (the child changes it). The child runs
    // only on the stack the caller handed over, calls `start(arg)`, which the caller guarantees
    // sound on another thread, and ends with `exit`, so it never reaches code after the asm.
    unsafe {
        core::arch::asm!(
            "syscall",
            "test rax, rax",
            "jnz 2f",
            // The child: rsp = child_sp.
            "pop rax",
            "pop rdi",
            "xor ebp, ebp",
            "call rax",
            "mov eax, {exit}",
            "xor edi, edi",
            "syscall",
            "ud2",
            "2:",
            exit = const Sysno::exit as usize,
            inlateout("rax") Sysno::clone as usize => returned,
            in("rdi") clone_flags::THREAD_FLAGS,
            in("rsi") child_sp,
            in("rdx") 0usize,
            in("r10") child_tid.as_ptr(),
            in("r8") thread_block,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    // A thread id is a positive i32, so it fits a u32.
    Errno::from_ret(returned).map(|tid| tid as u32)
}

/// `arch_prctl(2)`'s "set the `fs` base" operation (`<asm/prctl.h>`).
const ARCH_SET_FS: usize = 0x1002;

/// Points this thread's `fs` segment base, the x86_64 thread pointer, at `thread_block`: from
/// then on `fs:[offset]` reads the block's bytes. One system call.
///
/// # Errors
/// The kernel's error, e.g. `EPERM` for an address outside user space.
///
/// # Safety
/// `thread_block` must be a thread block ([`crate::tls`]) that stays valid, and used by this
/// thread alone, for as long as the thread runs code that reads `fs`.
pub unsafe fn set_thread_pointer(thread_block: *const ()) -> Result<(), Errno> {
    // SAFETY: ARCH_SET_FS only changes this thread's `fs` base; the caller keeps the block
    // valid for every later read through it.
    unsafe {
        syscall!(
            Sysno::arch_prctl,
            ARCH_SET_FS,
            thread_block.expose_provenance()
        )
    }
    .map(|_| ())
}

/// `futex(2)`'s "sleep while the word holds this value" operation.
const FUTEX_WAIT: usize = 0;

/// Blocks until `word` no longer holds `expected`, sleeping in the kernel meanwhile.
///
/// `FUTEX_WAIT` sleeps only if the word still holds `expected` when the kernel looks (it
/// answers `EAGAIN` otherwise), which closes the race between checking the word and going to
/// sleep. Wake-ups can be spurious and signals interrupt the sleep (`EINTR`), so the word is
/// checked again after every return. The plain (shared) form matches the wake the kernel
/// sends for `CLONE_CHILD_CLEARTID`. Cost: one system call per wake-up.
///
/// # Errors
/// The kernel's error other than `EAGAIN` and `EINTR`, e.g. `ENOSYS` where futexes are missing.
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, expected: u32) -> Result<(), Errno> {
    while word.load(core::sync::atomic::Ordering::Acquire) == expected {
        // SAFETY: the kernel only reads the 4-byte word, which `word` keeps alive for the call;
        // no timeout pointer is passed (null: sleep until woken).
        let woken = unsafe {
            syscall!(
                Sysno::futex,
                word.as_ptr().expose_provenance(),
                FUTEX_WAIT,
                expected as usize,
                0
            )
        };
        match woken {
            Ok(_) | Err(Errno::EAGAIN) | Err(Errno::EINTR) => continue,
            Err(errno) => return Err(errno),
        }
    }
    Ok(())
}

/// `mprotect(2)`'s "no access at all" protection.
const PROT_NONE: usize = 0;

/// Makes the `len` bytes at `ptr` inaccessible: any read or write there kills the process with
/// `SIGSEGV`. A thread's stack keeps such a guard below it, so an overflow faults instead of
/// silently overwriting other memory. One system call.
///
/// # Errors
/// `EINVAL` when `ptr` is not page-aligned, `ENOMEM` when the range is not mapped.
///
/// # Safety
/// `ptr..ptr + len` (rounded up to whole pages) must be memory this program mapped and no
/// longer uses: every pointer into it becomes unusable.
pub unsafe fn forbid_access(ptr: core::ptr::NonNull<u8>, len: usize) -> Result<(), Errno> {
    // SAFETY: the caller guarantees nothing uses the range any more, so taking away access
    // cannot fault code that relies on it.
    unsafe {
        syscall!(
            Sysno::mprotect,
            ptr.as_ptr().expose_provenance(),
            len,
            PROT_NONE
        )
    }
    .map(|_| ())
}
