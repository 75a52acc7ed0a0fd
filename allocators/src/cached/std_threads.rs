//! [`StdThreads`]: the cache index of a program with the standard library's threads.
//!
//! A thread is known by the address of one of its thread-local bytes, which no other live
//! thread shares. Each of the `N` slots remembers the thread that owns it; a thread finds its
//! slot at a home position picked from that address, or a few steps further on:
//!
//! ```text
//!   current():  me = &THREAD_LOCAL_BYTE        (one instruction: the thread pointer + offset)
//!               home = hash(me) % N
//!               owners[home] == me ?  ──yes──► home                      the usual case
//!                      no ──► probe home+1, home+2, ..: my slot, or claim a free one (CAS)
//!                             every slot owned by another thread ──► take home over
//!
//!   owners:  [ t3 | 0 | t1 | t7 | 0 | ... ]     0 = never owned
//! ```
//!
//! So up to `N` threads alive at once each have a cache of their own, and more share. A slot
//! is not given up when its thread exits (that would need a destructor, which runs code, and
//! may allocate, while the thread ends): the next thread whose thread-local storage lands at
//! the same address inherits the cache with its blocks (glibc and musl reuse the stacks of
//! exited threads, and their storage with them), and once every slot is owned a new thread
//! takes over its home slot. The blocks of an exited thread's cache are therefore used again,
//! never lost; [`Cached::release_all`](super::Cached::release_all) gives them all back to the
//! shared heap at any time.

use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use super::CacheIndex;

/// A [`CacheIndex`] for programs with the standard library's threads (feature `std`): each
/// thread alive at the same time as at most `N - 1` others gets a cache of its own. Use the
/// same `N` as the [`Cached`](super::Cached) it indexes (16 for both by default).
///
/// ```
/// use bareheap::{Cached, FutexLock, Heap, MmapGrower, StdThreads};
///
/// #[global_allocator]
/// static HEAP: Cached<Heap<MmapGrower>, StdThreads, FutexLock> =
///     Cached::new(Heap::new(MmapGrower::new()), StdThreads::new());
///
/// fn main() {
///     let sums: Vec<usize> = (0..4)
///         .map(|t| std::thread::spawn(move || (0..1000).map(|i| i * t).sum::<usize>()))
///         .collect::<Vec<_>>()
///         .into_iter()
///         .map(|thread| thread.join().unwrap())
///         .collect();
///     assert_eq!(sums[3], 3 * 499_500);
/// }
/// ```
///
/// Costs: a thread-local address, a multiplication and one relaxed load when the thread owns
/// its home slot; a probe of up to `N` slots (and one compare-and-swap) on a thread's first
/// calls, or when its home slot belongs to another thread. Memory: one word per slot.
pub struct StdThreads<const N: usize = 16> {
    /// The thread owning each slot, by the address of its thread-local byte; 0 for none yet.
    owners: [AtomicUsize; N],
}

impl<const N: usize> StdThreads<N> {
    /// No slot owned yet. O(1), `const`, so a `static` can hold it.
    #[must_use]
    pub const fn new() -> Self {
        const { assert!(N > 0, "a `StdThreads` index needs at least one slot") };
        Self {
            owners: [const { AtomicUsize::new(0) }; N],
        }
    }

    /// The slot of thread `me` when it does not own its home slot: its own slot further on, a
    /// free one it claims, or else its home slot, taken over. O(N).
    #[cold]
    fn claim(&self, me: usize, home: usize) -> usize {
        for step in 0..N {
            let slot = (home + step) % N;
            let owner = self.owners[slot].load(Ordering::Relaxed);
            let claimed = owner == 0
                && self.owners[slot]
                    .compare_exchange(0, me, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok();
            if owner == me || claimed {
                return slot;
            }
        }
        self.owners[home].store(me, Ordering::Relaxed);
        home
    }
}

impl<const N: usize> Default for StdThreads<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> CacheIndex for StdThreads<N> {
    #[inline]
    fn current(&self) -> usize {
        let me = this_thread();
        // Fibonacci hashing: the high bits of the product depend on every bit of the address
        // (thread-local blocks of different threads often differ only in high bits).
        let home = (me.wrapping_mul(0x9E37_79B9_7F4A_7C15_u64 as usize) >> (usize::BITS / 2)) % N;
        if self.owners[home].load(Ordering::Relaxed) == me {
            home
        } else {
            self.claim(me, home)
        }
    }
}

/// The running thread's identity: the address of a thread-local byte, never 0, distinct for
/// threads alive at the same time. A `const` thread-local without a destructor: reading it
/// never allocates and works until the thread's very end.
#[inline]
fn this_thread() -> usize {
    std::thread_local!(static BYTE: u8 = const { 0 });
    BYTE.with(|byte| ptr::from_ref(byte).addr())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::vec::Vec;

    use super::*;

    /// `threads` threads ask `index` at the same time, each several times; their answers.
    fn answers<const N: usize>(index: &Arc<StdThreads<N>>, threads: usize) -> Vec<Vec<usize>> {
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (index, barrier) = (Arc::clone(index), Arc::clone(&barrier));
                thread::spawn(move || {
                    barrier.wait();
                    let first: Vec<usize> = (0..4).map(|_| index.current()).collect();
                    // Everyone has a slot before anyone leaves: all are alive at once.
                    barrier.wait();
                    first
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn threads_alive_together_get_distinct_stable_caches() {
        let index = Arc::new(StdThreads::<8>::new());
        let answers = answers(&index, 6);
        let mut slots: Vec<usize> = answers.iter().map(|calls| calls[0]).collect();
        for calls in &answers {
            assert!(
                calls.iter().all(|&slot| slot == calls[0] && slot < 8),
                "{calls:?}"
            );
        }
        slots.sort_unstable();
        slots.dedup();
        assert_eq!(slots.len(), 6, "one cache each: {answers:?}");
    }

    #[test]
    fn more_threads_than_slots_share_them_and_stay_in_range() {
        let index = Arc::new(StdThreads::<2>::new());
        for calls in answers(&index, 5) {
            assert!(calls.iter().all(|&slot| slot < 2), "{calls:?}");
        }
        // The main thread, after all of them: still an answer in range.
        assert!(index.current() < 2);
    }
}
