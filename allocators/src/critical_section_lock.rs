//! [`CriticalSectionLock`]: a lock made of a critical section, for heaps that interrupt
//! handlers allocate from (the `critical-section` feature).
//!
//! A spin lock deadlocks a core when an interrupt handler allocates while the code it
//! interrupted holds the heap's lock: the handler spins, waiting for a holder that cannot run
//! until the handler returns. This lock instead enters a critical section (on a single-core
//! microcontroller: interrupts disabled) for as long as the heap is locked, so no handler can
//! start in the middle of an allocation:
//!
//! ```text
//!   thread code:  lock ─► critical_section::acquire() ─► allocate ─► release ─► unlock
//!   interrupt:                       (held back until release)            ─► runs, allocates
//! ```
//!
//! Which implementation of `critical-section` runs is the program's choice: cortex-m's
//! `critical-section-single-core` (disable and restore interrupts), a multi-core chip's hardware
//! spinlock, or the `std` one on a host. The cost is the implementation's, twice per call, and
//! interrupt latency grows by the length of one allocator call (a few hundred cycles for the
//! heaps here, more when a grower is called).

use core::cell::Cell;

use critical_section::RestoreState;

/// A [`lock_api::RawMutex`] that holds a critical section while locked: interrupt-safe on a
/// single core, and safe across cores when the `critical-section` implementation is. Usable in
/// a `static` (its `INIT` is `const`).
///
/// ```
/// use bareheap::{CriticalSectionLock, FreeListAllocator, Locked, StaticGrower};
///
/// let mut memory = vec![core::mem::MaybeUninit::new(0u8); 64 * 1024];
/// let heap: Locked<_, CriticalSectionLock> =
///     Locked::with_lock(FreeListAllocator::new(StaticGrower::new(&mut memory)));
/// let mut numbers = allocator_api2::vec::Vec::new_in(&heap);
/// numbers.extend(0..1000u32);
/// assert_eq!(numbers.iter().sum::<u32>(), 499_500);
/// ```
pub struct CriticalSectionLock {
    /// Whether the lock is held; read and written only inside the critical section.
    locked: Cell<bool>,
    /// What to restore when the critical section ends (saved by `lock`, used by `unlock`).
    restore: Cell<RestoreState>,
}

// SAFETY: both cells are read and written only while the critical section that `lock` entered
// is held, which excludes every other context (interrupt handlers, and other cores when the
// implementation covers them) from this code.
unsafe impl Sync for CriticalSectionLock {}

impl CriticalSectionLock {
    /// Takes the lock inside the critical section `restore` came from, or leaves it and says
    /// no when it is already held.
    fn take(&self, restore: RestoreState) -> bool {
        if self.locked.get() {
            // Only a nested call in the same context can see the lock held (the critical
            // section keeps every other one out): refuse rather than wait for ourselves.
            // SAFETY: `restore` came from the `acquire` of this call, and is released once.
            unsafe { critical_section::release(restore) };
            return false;
        }
        self.locked.set(true);
        self.restore.set(restore);
        true
    }
}

// SAFETY: `lock` and a successful `try_lock` leave the lock held, with the critical section
// entered, until `unlock`; while it is held every other context is kept out of the critical
// section, so two holders never coexist.
unsafe impl lock_api::RawMutex for CriticalSectionLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self {
        locked: Cell::new(false),
        restore: Cell::new(RestoreState::invalid()),
    };

    /// The guard must be dropped where it was made: the saved state belongs to that context.
    type GuardMarker = lock_api::GuardNoSend;

    /// Enters the critical section and holds the lock. A nested `lock` in the same context
    /// (the allocator calling itself, which none here does) would wait for itself: it spins
    /// outside the critical section instead of deadlocking inside it.
    fn lock(&self) {
        while !self.try_lock() {
            core::hint::spin_loop();
        }
    }

    fn try_lock(&self) -> bool {
        // SAFETY: the state is either stored for `unlock` or released at once by `take`.
        let restore = unsafe { critical_section::acquire() };
        self.take(restore)
    }

    unsafe fn unlock(&self) {
        let restore = self.restore.get();
        self.locked.set(false);
        // SAFETY: the caller holds the lock (`unlock`'s contract), so the critical section
        // entered by its `lock` is still open and `restore` is the state it saved.
        unsafe { critical_section::release(restore) };
    }
}

#[cfg(test)]
mod tests {
    use core::alloc::{GlobalAlloc, Layout};
    use std::thread;
    use std::vec::Vec;

    use lock_api::RawMutex;

    use super::CriticalSectionLock;
    use crate::{FreeListAllocator, Locked, StaticGrower};

    #[test]
    fn a_held_lock_refuses_a_second_holder() {
        let lock = CriticalSectionLock::INIT;
        assert!(lock.try_lock());
        assert!(!lock.try_lock());
        // SAFETY: held by this test.
        unsafe { lock.unlock() };
        assert!(lock.try_lock());
        // SAFETY: as above.
        unsafe { lock.unlock() };
    }

    #[test]
    fn threads_share_a_heap_behind_it() {
        let mut memory = std::vec![core::mem::MaybeUninit::new(0u8); 1 << 20];
        let heap: Locked<_, CriticalSectionLock> =
            Locked::with_lock(FreeListAllocator::new(StaticGrower::new(&mut memory)));
        let threads = if cfg!(miri) { 2 } else { 4 };
        let rounds = if cfg!(miri) { 20 } else { 2000 };
        thread::scope(|scope| {
            for id in 0..threads {
                let heap = &heap;
                scope.spawn(move || {
                    let layout = Layout::from_size_align(24 + id * 8, 8).unwrap();
                    let mut live = Vec::new();
                    for round in 0..rounds {
                        // SAFETY: a valid layout; every block is freed once with it.
                        unsafe {
                            let block = heap.alloc(layout);
                            assert!(!block.is_null());
                            block.write_bytes(id as u8, layout.size());
                            live.push(block);
                            if round % 3 == 2 {
                                let old = live.swap_remove(round % live.len());
                                assert_eq!(*old, id as u8);
                                heap.dealloc(old, layout);
                            }
                        }
                    }
                    for block in live {
                        // SAFETY: as above.
                        unsafe { heap.dealloc(block, layout) };
                    }
                });
            }
        });
        heap.inspect(|heap| heap.validate())
            .expect("a consistent heap");
    }
}
