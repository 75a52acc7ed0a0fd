//! [`FutexLock`]: a lock for heaps shared by threads under Linux, which spins briefly and then
//! sleeps in the kernel instead of burning the waiter's time slice.
//!
//! A spin lock is right on bare metal, where every thread of execution has a core of its own.
//! Under an operating system, threads outnumber cores and the kernel preempts them: when the
//! holder of a spin lock is descheduled, every waiter spins for its whole time slice waiting
//! for a thread that cannot run. This lock spins for a short while (an allocator call holds it
//! for tens of nanoseconds, so a waiter usually gets it that way), then asks the kernel to put
//! it to sleep until the holder lets go, with the `futex` system call:
//!
//! ```text
//!   state: 0 unlocked ── 1 locked ── 2 locked, and someone may be asleep
//!
//!   lock:    0 → 1 (one compare-and-swap)             the common, uncontended case
//!            else spin a little, trying 0 → 1
//!            else swap in 2; while it was not 0: futex_wait(state, 2), swap in 2 again
//!   unlock:  swap in 0; if it was 2: futex_wake(state, 1)
//! ```
//!
//! The state is the classic three-state futex mutex (Ulrich Drepper, "Futexes Are Tricky",
//! mutex 2): an uncontended lock and unlock are one atomic operation each and no system call;
//! only an unlock that may have sleepers pays one `futex` wake.

use core::hint;
use core::sync::atomic::{AtomicU32, Ordering};

use crate::sys;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
/// Locked, and a waiter may be asleep in the kernel: the unlock must wake one.
const CONTENDED: u32 = 2;

/// How many times a waiter retries before it sleeps: longer than any allocator call, far
/// shorter than a time slice. Each retry waits one `pause`, whose length depends on the core:
/// 100 retries took about 3 µs on the AMD EPYC of BENCHMARKS.md (a `pause` of about 30 ns),
/// where Intel cores before Skylake (a `pause` of about 10 cycles) take about a tenth of that.
const SPINS: u32 = 100;

/// A [`lock_api::RawMutex`] that spins briefly, then sleeps on a futex (Linux only). Usable in
/// a `static` (its `INIT` is `const`), and the lock to choose for a heap that many threads
/// share under Linux: threads that outnumber the cores then wait asleep rather than spinning
/// through their time slices.
///
/// As the global allocator of a Linux program:
/// `static HEAP: Locked<Heap<MmapGrower>, FutexLock> = Locked::new(Heap::new(MmapGrower::new()));`.
/// Shared by scoped threads:
///
/// ```
/// use bareheap::{FreeListAllocator, FutexLock, Locked, MmapGrower};
///
/// let heap: Locked<_, FutexLock> = Locked::new(FreeListAllocator::new(MmapGrower::new()));
/// std::thread::scope(|scope| {
///     for _ in 0..4 {
///         let heap = &heap;
///         scope.spawn(move || {
///             let mut numbers = allocator_api2::vec::Vec::new_in(heap);
///             numbers.extend(0..1000u32);
///             assert_eq!(numbers.iter().sum::<u32>(), 499_500);
///         });
///     }
/// });
/// ```
///
/// Costs: uncontended, one compare-and-swap to lock and one swap to unlock, as a spin lock;
/// contended, up to 100 retries, then one `futex` wait per sleep and one `futex` wake per
/// unlock that found sleepers.
pub struct FutexLock {
    state: AtomicU32,
}

impl FutexLock {
    /// The slow path of `lock`: spin, then sleep until the lock is ours.
    #[cold]
    fn lock_contended(&self) {
        for _ in 0..SPINS {
            if self.state.load(Ordering::Relaxed) == UNLOCKED && self.try_take() {
                return;
            }
            hint::spin_loop();
        }
        // From here on the state says "contended" whenever we may sleep, so the holder's unlock
        // wakes us; taking the lock this way leaves it contended, which costs at most one
        // needless wake later.
        while self.state.swap(CONTENDED, Ordering::Acquire) != UNLOCKED {
            sys::wait(&self.state, CONTENDED);
        }
    }

    /// One attempt to go from unlocked to locked.
    fn try_take(&self) -> bool {
        self.state
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }
}

// SAFETY: the lock is held from a successful `0 → 1` compare-and-swap, or a swap that found 0,
// until `unlock` stores 0; both take it with Acquire and release it with Release, so at most one
// holder exists and each holder sees the previous holder's writes.
unsafe impl lock_api::RawMutex for FutexLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self {
        state: AtomicU32::new(UNLOCKED),
    };

    type GuardMarker = lock_api::GuardSend;

    #[inline]
    fn lock(&self) {
        if !self.try_take() {
            self.lock_contended();
        }
    }

    #[inline]
    fn try_lock(&self) -> bool {
        self.try_take()
    }

    #[inline]
    unsafe fn unlock(&self) {
        if self.state.swap(UNLOCKED, Ordering::Release) == CONTENDED {
            sys::wake_one(&self.state);
        }
    }

    #[inline]
    fn is_locked(&self) -> bool {
        self.state.load(Ordering::Relaxed) != UNLOCKED
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::vec::Vec;

    use lock_api::RawMutex;

    use super::*;
    use crate::{FreeListAllocator, Locked, MmapGrower};

    #[test]
    fn a_held_lock_refuses_a_second_holder_until_released() {
        let lock = FutexLock::INIT;
        lock.lock();
        assert!(lock.is_locked());
        assert!(!lock.try_lock());
        // SAFETY: this thread holds the lock.
        unsafe { lock.unlock() };
        assert!(lock.try_lock());
        // SAFETY: as above.
        unsafe { lock.unlock() };
        assert!(!lock.is_locked());
    }

    /// More threads than this machine has cores, each adding to a counter the lock guards with
    /// plain (non-atomic) arithmetic: a lost update would show as a wrong total, and a lost
    /// wake as a hang.
    #[test]
    fn threads_that_outnumber_the_cores_all_get_the_lock() {
        let (threads, rounds) = if cfg!(miri) { (3, 20) } else { (16, 20_000) };
        let counter = Arc::new(lock_api::Mutex::<FutexLock, u64>::new(0));
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let counter = Arc::clone(&counter);
                std::thread::spawn(move || {
                    for _ in 0..rounds {
                        let mut value = counter.lock();
                        *value += 1;
                        // Hold the lock across a yield now and then, so waiters go to sleep.
                        if value.is_multiple_of(64) {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        assert_eq!(*counter.lock(), threads * rounds);
    }

    #[test]
    fn a_heap_behind_it_serves_threads() {
        let heap = Arc::new(Locked::<_, FutexLock>::new(FreeListAllocator::new(
            MmapGrower::new(),
        )));
        let rounds = if cfg!(miri) { 10 } else { 2_000 };
        let workers: Vec<_> = (0..4u8)
            .map(|id| {
                let heap = Arc::clone(&heap);
                std::thread::spawn(move || {
                    for round in 0..rounds {
                        let mut bytes = allocator_api2::vec::Vec::new_in(&*heap);
                        bytes.resize(1 + round % 300, id);
                        assert!(bytes.iter().all(|&b| b == id));
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.join().unwrap();
        }
        heap.inspect(|heap| heap.validate()).unwrap();
    }
}
