//! Thread-local storage without libc: one small block per thread, found through `fs`.
//!
//! A per-thread cache in front of the heap needs each thread to answer "which cache is mine?"
//! in a few instructions, without a system call. The x86_64 answer is the `fs` segment: every
//! thread has its own `fs` base address, which the kernel saves and restores with the thread's
//! registers, and an instruction can load from `fs:[offset]` as cheaply as from any address.
//! The ELF TLS ABI makes `fs` point at a *thread control block* whose first word is its own
//! address; libc puts `errno` and `#[thread_local]` variables next to it. This program needs
//! far less, so its block is a fixed struct:
//!
//! ```text
//!   fs ──► ThreadBlock ┌──────────────┐
//!          fs:[0]      │ this         │ its own address (the ABI's self-pointer)
//!          fs:[8]      │ cache_index  │ which allocator cache the thread uses: 0, 1, 2, ...
//!                      └──────────────┘
//!
//!   main thread:  rust_start ─► install_main_block(): arch_prctl(ARCH_SET_FS, &MAIN_BLOCK)
//!   new thread:   Thread::spawn ─► block in the thread's packet, index = next number
//!                 clone(CLONE_SETTLS, tls = &block) ─► the kernel sets the child's fs
//!                                                       before its first instruction
//!   any thread:   cache_index() = mov rax, qword ptr fs:[8]      one load
//! ```
//!
//! **Why `CLONE_SETTLS` for new threads** rather than `arch_prctl` in the child: until its first
//! instruction the child has the parent's `fs`, and an allocation before the call would use
//! the parent's cache (harmless with the caches' busy flags, but not what was meant);
//! `CLONE_SETTLS` sets the register in the same system call that creates the thread.
//!
//! **Why not the compiler's `#[thread_local]`.** Real thread-locals need the linker's TLS
//! segment (`.tdata`/`.tbss`), copied into a block per thread at start-up with the right
//! offsets: the work of libc's dynamic loader. A fixed struct read at a fixed offset is all the
//! allocator needs. (`rseq`, the kernel's restartable sequences, would give the CPU number
//! instead: per-CPU caches, the kernel-style answer; it needs a registration per thread, and
//! glibc registers its own, so a library cannot count on it.)

use core::mem::offset_of;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys::{self, Errno};

/// What `fs` points at in every thread of this program.
#[repr(C)]
pub struct ThreadBlock {
    /// The block's own address: the x86_64 TLS ABI's first word.
    this: *const ThreadBlock,
    /// The allocator cache this thread uses.
    cache_index: usize,
}

impl ThreadBlock {
    /// A block for a new thread, with the next free cache index; its self-pointer is set by
    /// [`pin`](Self::pin) once the block is where it will stay.
    pub fn for_new_thread() -> Self {
        /// The next index to hand out; 0 is the main thread's.
        static NEXT_INDEX: AtomicUsize = AtomicUsize::new(1);
        Self {
            this: core::ptr::null(),
            cache_index: NEXT_INDEX.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Sets the self-pointer of the block at `block` and returns the address to give the
    /// kernel as the thread pointer.
    ///
    /// # Safety
    /// `block` points to a live block that will not move while a thread uses it.
    pub unsafe fn pin(block: *mut Self) -> *const () {
        // SAFETY: the caller's block, live and in its final place.
        unsafe { (*block).this = block };
        block.cast_const().cast()
    }
}

/// The main thread's block (index 0).
static mut MAIN_BLOCK: ThreadBlock = ThreadBlock {
    this: core::ptr::null(),
    cache_index: 0,
};

/// Points the main thread's `fs` at its block. Called once, first thing in `rust_start`,
/// before any allocation.
///
/// # Errors
/// The kernel's error from `arch_prctl` (none is expected: the block is in user space).
///
/// # Safety
/// Called once, by the main thread, before any other thread exists.
pub unsafe fn install_main_block() -> Result<(), Errno> {
    // SAFETY: no other thread exists and nothing else names MAIN_BLOCK, so this is its only
    // access; a `static` never moves.
    let block = unsafe { ThreadBlock::pin(&raw mut MAIN_BLOCK) };
    // SAFETY: the block lives for the whole run and only the main thread uses it.
    unsafe { sys::set_thread_pointer(block) }
}

/// The allocator cache of the running thread: one load from `fs`.
#[inline]
pub fn cache_index() -> usize {
    let index: usize;
    // SAFETY: in this program every thread's `fs` points at a live `ThreadBlock`: the main
    // thread's from `install_main_block` (before any allocation), every other thread's from
    // `clone` (`CLONE_SETTLS`, with a block that outlives the thread). The load reads its
    // `cache_index` word, which is not written after the thread starts.
    unsafe {
        core::arch::asm!(
            "mov {index}, qword ptr fs:[{offset}]",
            index = out(reg) index,
            offset = const offset_of!(ThreadBlock, cache_index),
            options(nostack, readonly, preserves_flags, pure),
        );
    }
    index
}
