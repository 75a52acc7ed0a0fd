//! Threads without libc: `clone(2)` for the start, a futex on the child-tid word for the join.
//!
//! libstd's `thread::spawn` stands on pthreads, which stand on libc. Underneath, a Linux thread
//! is just a process that shares its parent's memory, files and signal handlers: `clone(2)`
//! with the thread flags ([`sys::clone_thread`]) plus a stack of its own. What pthreads adds
//! is bookkeeping, and this module is that bookkeeping, kept small:
//!
//! ```text
//!   spawn(work)
//!     packet = Box { child_tid: RUNNING, block: ThreadBlock, work: Box<dyn FnOnce() -> T>,
//!                    result: (empty) }
//!     stack  = mmap ┌─────────┬───────────────────────────────┬───────────┐
//!                   │ guard   │ stack, grows down ◄────────── │start | arg│ stack_top
//!                   │PROT_NONE│                               │           │
//!                   └─────────┴───────────────────────────────┴───────────┘
//!     clone(THREAD_FLAGS, sp = stack_top - 16, child_tid = &packet.child_tid,
//!           tls = &packet.block)
//!       ├─ parent (rax = tid) ──► Thread { id, stack, packet }
//!       └─ child  (rax = 0)   ──► run::<T>(packet): result = work(), release its cache
//!                                 exit(0) ──► kernel: *child_tid = 0, FUTEX_WAKE(child_tid)
//!   join()
//!     futex_wait(child_tid, RUNNING) ── sleeps until the kernel's wake ──► read result,
//!                                        munmap the stack, free the packet
//! ```
//!
//! **Why join is a futex wait.** `CLONE_CHILD_CLEARTID` asks the kernel to write 0 to the
//! `child_tid` word when the thread exits and to wake whoever sleeps on that word with a futex.
//! The kernel does this after the thread's last user-mode instruction, so once the word is 0
//! nothing runs on the stack any more and it can be unmapped. The word starts at [`RUNNING`]
//! (thread ids are positive `i32`s, never `u32::MAX`), set before `clone`, so a thread that
//! finishes before the parent even looks is still seen as finished. Spinning on the word would
//! work too, but would burn a core for as long as the thread runs; `FUTEX_WAIT` sleeps.
//!
//! **Each thread has a thread block** ([`crate::tls`]): it lives in the packet, and `clone`
//! points the child's `fs` at it (`CLONE_SETTLS`), so the allocator's per-thread caches can
//! find the thread's cache number with one load. At its end, before the exit system call, the
//! thread gives its cache's blocks back to the shared heap ([`crate::heap::thread_exit`]), as
//! a C library's thread exit does for its allocator. The panic handler ends the whole process
//! with `exit_group`, so no per-thread panic state is needed.
//!
//! **Why the allocators need locks.** Every thread allocates through the one global allocator,
//! at the same time. Its state (a bitmap, free lists, counters) is read, changed and written
//! back by each call; two unsynchronised calls could both find the same free block and hand it
//! out twice. The locked forms serialise the calls with a lock (here `FutexLock`, which spins
//! briefly and then sleeps in the kernel), which is also what makes them `Sync`, the bound Rust
//! puts on a `#[global_allocator]`.

use alloc::boxed::Box;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::AtomicU32;

use crate::sys::{self, Errno};
use crate::tls::ThreadBlock;

/// Bytes of stack each thread may use.
const STACK_SIZE: usize = 256 * 1024;
/// Bytes of inaccessible guard below each stack: a whole number of pages for every page size
/// Linux uses (x86_64's is 4 KiB), so `mprotect` can cover it exactly. Rust probes every page of
/// a large stack frame, so no overflow can jump over it.
const GUARD_SIZE: usize = 64 * 1024;
/// The length of each stack mapping.
const MAPPING_SIZE: usize = GUARD_SIZE + STACK_SIZE;

/// The child-tid word's value until the kernel clears it at the thread's exit.
const RUNNING: u32 = u32::MAX;

/// What a thread's closure produces.
type Work<T> = Box<dyn FnOnce() -> T + Send>;

/// What the parent and the thread share: the exit word, the work and its result.
struct Packet<T> {
    /// [`RUNNING`] until the kernel writes 0 at the thread's exit (`CLONE_CHILD_CLEARTID`).
    child_tid: AtomicU32,
    /// The thread's block, which its `fs` points at.
    block: ThreadBlock,
    /// The closure: written by `spawn`, moved out once by the thread.
    work: UnsafeCell<MaybeUninit<Work<T>>>,
    /// The closure's result: written once by the thread, moved out once by `join`.
    result: UnsafeCell<MaybeUninit<T>>,
}

/// A running thread of this process, started by [`Thread::spawn`]; [`Thread::join`] waits for
/// it and returns what it computed.
#[must_use = "a thread that is never joined keeps its stack mapped until the process exits"]
pub struct Thread<T> {
    /// The kernel's thread id.
    id: u32,
    /// The start of the stack mapping (the guard), `MAPPING_SIZE` bytes long.
    mapping: NonNull<u8>,
    /// The shared packet, from `Box::into_raw`; freed by `join`.
    packet: NonNull<Packet<T>>,
}

impl<T: Send + 'static> Thread<T> {
    /// Starts a thread that runs `work` and keeps its result for [`join`](Self::join).
    ///
    /// Costs two heap allocations (the packet and the boxed closure, through the global
    /// allocator) and three system calls (`mmap` the stack, `mprotect` its guard, `clone`).
    ///
    /// # Errors
    /// The kernel's error from `mmap`, `mprotect` or `clone` (e.g. `ENOMEM`, `EAGAIN`);
    /// nothing is left behind.
    pub fn spawn<F>(work: F) -> Result<Self, Errno>
    where
        F: FnOnce() -> T + Send + 'static,
    {
        let mapping = sys::map_anonymous(MAPPING_SIZE)?;
        // SAFETY: the mapping is ours and not yet used; its first GUARD_SIZE bytes are never
        // handed to anyone, so making them inaccessible breaks nothing.
        if let Err(errno) = unsafe { sys::forbid_access(mapping, GUARD_SIZE) } {
            // SAFETY: the mapping was made above and nothing points into it.
            let _ = unsafe { sys::unmap(mapping, MAPPING_SIZE) };
            return Err(errno);
        }
        let packet = NonNull::from(Box::leak(Box::new(Packet {
            child_tid: AtomicU32::new(RUNNING),
            block: ThreadBlock::for_new_thread(),
            work: UnsafeCell::new(MaybeUninit::new(Box::new(work) as Work<T>)),
            result: UnsafeCell::new(MaybeUninit::uninit()),
        })));
        // SAFETY: one past the end of the mapping, which is where a downward stack starts.
        let stack_top = unsafe { mapping.add(MAPPING_SIZE) };
        // SAFETY: the packet is live and stays where it is until `join` frees it, after the
        // thread has exited; only the new thread will use its block.
        let block = unsafe { ThreadBlock::pin(&raw mut (*packet.as_ptr()).block) };
        // SAFETY: `stack_top` is page-aligned (hence 16-aligned) and ends STACK_SIZE writable
        // bytes that only the new thread uses, with the guard below them; the packet, and with
        // it `child_tid` (RUNNING until the exit), lives until `join` has seen the word cleared;
        // `run::<T>` on the packet is sound on another thread because the work and T are Send;
        // the thread block lives in the packet, as long as the thread, and is the child's alone.
        let started = unsafe {
            sys::clone_thread(
                stack_top,
                &packet.as_ref().child_tid,
                block,
                run::<T>,
                packet.as_ptr().cast(),
            )
        };
        match started {
            Ok(id) => Ok(Self {
                id,
                mapping,
                packet,
            }),
            Err(errno) => {
                // SAFETY: no thread was started, so this is again the only pointer to the
                // packet and to the mapping; the work is still in the packet, and dropping it
                // here is its only drop.
                unsafe {
                    let packet = Box::from_raw(packet.as_ptr());
                    drop(packet.work.into_inner().assume_init());
                    let _ = sys::unmap(mapping, MAPPING_SIZE);
                }
                Err(errno)
            }
        }
    }

    /// The kernel's id of this thread (what `gettid` returns in it).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// Waits until the thread has exited, frees its stack and returns what its closure
    /// returned.
    ///
    /// Sleeps in the kernel (`FUTEX_WAIT`) while the thread runs; then one `munmap` and one
    /// free. Panics (ending the process) only if the kernel refuses the futex wait, which
    /// would leave no way to know when the stack is free.
    pub fn join(self) -> T {
        // SAFETY: the packet lives until it is freed below; the thread only reads `work` and
        // writes `result` through their cells, never `child_tid` (the kernel writes that).
        let child_tid = unsafe { &self.packet.as_ref().child_tid };
        if let Err(errno) = sys::futex_wait(child_tid, RUNNING) {
            panic!("waiting for thread {} failed: {errno}", self.id);
        }
        // SAFETY: the word is 0, so the thread has exited: its last act in user mode was the
        // `exit` system call that follows `run` returning, and `run` writes the result before
        // it returns (a panic would have ended the process instead). The exit system call is a
        // full barrier and the kernel's store of 0 comes after it, so `futex_wait`'s Acquire
        // load that saw 0 makes the result visible here. Nothing runs on the stack any more,
        // and this is the last use of the mapping and the packet.
        unsafe {
            let packet = Box::from_raw(self.packet.as_ptr());
            let result = packet.result.into_inner().assume_init();
            // munmap of a whole mapping we made cannot fail; an error would only leak it.
            let _ = sys::unmap(self.mapping, MAPPING_SIZE);
            result
        }
    }
}

/// The new thread's first Rust code: runs the work and stores its result in the packet.
///
/// # Safety
/// `packet` is a live `Packet<T>` whose `work` holds a closure that nobody else touches, and
/// whose `result` nobody reads until the thread has exited.
unsafe extern "C" fn run<T>(packet: *mut ()) {
    let packet = packet.cast::<Packet<T>>();
    // SAFETY: the caller guarantees the packet is live and that this thread alone reads the
    // work (once: it is moved out here) and writes the result, both through their cells.
    unsafe {
        let work = (*(*packet).work.get()).assume_init_read();
        let result = work();
        crate::heap::thread_exit();
        (*(*packet).result.get()).write(result);
    }
}
