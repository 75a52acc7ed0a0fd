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
//! **Several heaps.** A critical section must end in the reverse order it began (the inner one
//! first), but guards are values that safe code may drop in any order: lock heap A, lock heap
//! B, drop A's guard first. So the locks do not each hold a section of their own. They share
//! one: the first lock taken enters it, the last one released leaves it, whatever the order in
//! between, and every other entry is a short one, left before the call returns:
//!
//! ```text
//!   lock A   ─ acquire ───────────────────────────────────────────────┐ the one long section
//!   lock B       ─ acquire ─ release ─         (B: held, depth 2)     │ (interrupts masked)
//!   unlock A                 ─ acquire ─ release ─      (depth 1)     │
//!   unlock B                              ─ acquire ─ release ─ release ┘ (depth 0)
//! ```
//!
//! Every read and write of the locks' state happens inside a critical section that the
//! context doing it entered itself, so no order of calls can make two contexts touch it at
//! once. One rule remains, and breaking it costs liveness, never memory safety: a guard taken
//! inside `critical_section::with` must not be returned out of it. That closure's section ends
//! first, and its end unmasks interrupts while the heap is still held, so an interrupt handler
//! that allocates from that heap waits forever; and while that guard lives, the long section
//! is not open, so every other lock taken meanwhile (in any context) holds its heap with
//! interrupts unmasked too. Each lock still admits one holder at a time.
//!
//! Which implementation of `critical-section` runs is the program's choice: cortex-m's
//! `critical-section-single-core` (disable and restore interrupts), a multi-core chip's hardware
//! spinlock, or the `std` one on a host. The cost is the implementation's, twice per call, and
//! interrupt latency grows by the length of one allocator call (a few hundred cycles for the
//! heaps here, more when a grower is called).

use core::cell::Cell;

use critical_section::{CriticalSection, Mutex, RestoreState};

/// A [`lock_api::RawMutex`] that holds a critical section while locked: interrupt-safe on a
/// single core, and safe across cores when the `critical-section` implementation is. Usable in
/// a `static` (its `INIT` is `const`). Any number of heaps may use one each, locked and
/// unlocked in any order (see the [module docs](self)).
///
/// ```
/// use bareheap::{CriticalSectionLock, FreeListAllocator, Locked, StaticGrower};
///
/// let mut memory = vec![core::mem::MaybeUninit::new(0u8); 64 * 1024];
/// let heap: Locked<_, CriticalSectionLock> =
///     Locked::new(FreeListAllocator::new(StaticGrower::new(&mut memory)));
/// let mut numbers = allocator_api2::vec::Vec::new_in(&heap);
/// numbers.extend(0..1000u32);
/// assert_eq!(numbers.iter().sum::<u32>(), 499_500);
/// ```
pub struct CriticalSectionLock {
    /// Whether the lock is held.
    locked: Mutex<Cell<bool>>,
}

/// The one long critical section every held [`CriticalSectionLock`] shares.
struct Shared {
    /// How many locks are held.
    held: Cell<usize>,
    /// What to restore when the long section ends (saved by the first lock).
    restore: Cell<RestoreState>,
}

/// The state all locks share; read and written only inside a critical section.
static SHARED: Mutex<Shared> = Mutex::new(Shared {
    held: Cell::new(0),
    restore: Cell::new(RestoreState::invalid()),
});

/// Runs `body` inside a critical section entered for it, which it may keep open by returning
/// `true` (the long section is then the caller's to end); else the section ends before this
/// returns.
fn in_section<T>(body: impl FnOnce(CriticalSection<'_>, RestoreState) -> (T, bool)) -> T {
    // SAFETY: the section is released below, in order, unless `body` keeps it as the long
    // section, whose state it stored for the last `unlock`.
    let restore = unsafe { critical_section::acquire() };
    // SAFETY: we are inside the section just entered.
    let cs = unsafe { CriticalSection::new() };
    let (result, keep) = body(cs, restore);
    if !keep {
        // SAFETY: the section entered above, still the innermost one.
        unsafe { critical_section::release(restore) };
    }
    result
}

// SAFETY: `lock` and a successful `try_lock` set `locked` inside a critical section and only
// when it was clear; `unlock` clears it inside one; while any lock is held the long section
// keeps every other context out of critical sections, so two holders never coexist.
unsafe impl lock_api::RawMutex for CriticalSectionLock {
    #[allow(clippy::declare_interior_mutable_const)]
    const INIT: Self = Self {
        locked: Mutex::new(Cell::new(false)),
    };

    /// The guard must be dropped where it was made: the long section belongs to that context.
    type GuardMarker = lock_api::GuardNoSend;

    /// Enters the critical section and holds the lock. A nested `lock` in the same context
    /// (the allocator calling itself, which none here does) would wait for itself: it spins
    /// outside the critical section instead of deadlocking inside it.
    fn lock(&self) {
        while !self.try_lock() {
            core::hint::spin_loop();
        }
    }

    /// Takes the lock if it is free; the first lock held keeps its section open (the long
    /// one), every later one leaves its own at once.
    fn try_lock(&self) -> bool {
        in_section(|cs, restore| {
            let locked = self.locked.borrow(cs);
            if locked.get() {
                return (false, false);
            }
            locked.set(true);
            let shared = SHARED.borrow(cs);
            let first = shared.held.get() == 0;
            if first {
                shared.restore.set(restore);
            }
            shared.held.set(shared.held.get() + 1);
            (true, first)
        })
    }

    /// Releases the lock; the last lock released also ends the long section, after the short
    /// one this call entered.
    unsafe fn unlock(&self) {
        let ends_long = in_section(|cs, _| {
            self.locked.borrow(cs).set(false);
            let shared = SHARED.borrow(cs);
            let held = shared.held.get() - 1;
            shared.held.set(held);
            ((held == 0).then(|| shared.restore.get()), false)
        });
        if let Some(restore) = ends_long {
            // SAFETY: the long section, entered by the first lock and now the innermost one
            // (every short section ended); `held` reached zero, so no lock needs it.
            unsafe { critical_section::release(restore) };
        }
    }
}

#[cfg(test)]
mod tests {
    use core::alloc::{GlobalAlloc, Layout};
    use core::mem::MaybeUninit;
    use std::boxed::Box;
    use std::format;
    use std::thread;
    use std::vec::Vec;

    use lock_api::RawMutex;
    use proptest::prelude::*;

    use super::CriticalSectionLock;
    use crate::{FreeListAllocator, Locked, LockedGuard, RawAllocator, StaticGrower};

    type Heap<'a> = Locked<FreeListAllocator<StaticGrower<'a>>, CriticalSectionLock>;

    fn heap(memory: &mut [MaybeUninit<u8>]) -> Heap<'_> {
        Locked::new(FreeListAllocator::new(StaticGrower::new(memory)))
    }

    /// Every test here takes this first: the locks share one state for the whole process, and
    /// the escaping-guard test breaks the rule on purpose, which (as documented) leaves other
    /// threads' locks outside the long section while its guard lives.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
        ONE_AT_A_TIME
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether this thread is inside a critical section now: the std implementation's restore
    /// state says whether an `acquire` was nested (its `Debug` form is all a test can read).
    fn in_critical_section() -> bool {
        // SAFETY: released at once, so properly nested.
        let state = unsafe { critical_section::acquire() };
        let nested = format!("{state:?}") == "RestoreState(true)";
        // SAFETY: the section just entered.
        unsafe { critical_section::release(state) };
        nested
    }

    #[test]
    fn a_held_lock_refuses_a_second_holder() {
        let _serial = one_at_a_time();
        let lock = CriticalSectionLock::INIT;
        assert!(lock.try_lock());
        assert!(!lock.try_lock());
        // SAFETY: held by this test.
        unsafe { lock.unlock() };
        assert!(lock.try_lock());
        // SAFETY: as above.
        unsafe { lock.unlock() };
        assert!(!in_critical_section());
    }

    /// Issue 19, case 3: guards of several heaps, taken and dropped in any order, keep this
    /// context inside a critical section exactly while at least one heap is held.
    fn locks_in_any_order(steps: &[(usize, bool)]) {
        let _serial = one_at_a_time();
        let mut memory: Vec<Box<[MaybeUninit<u8>]>> =
            (0..3).map(|_| Box::new_uninit_slice(4096)).collect();
        let heaps: Vec<Heap<'_>> = memory.iter_mut().map(|m| heap(m)).collect();
        let mut guards: Vec<Option<LockedGuard<'_, _, _>>> = (0..3).map(|_| None).collect();
        for &(which, take) in steps {
            let slot = &mut guards[which % 3];
            if take && slot.is_none() {
                let mut guard = heaps[which % 3].lock();
                let block = guard.allocate(Layout::new::<u64>()).unwrap();
                // SAFETY: allocated just above with this layout.
                unsafe { guard.deallocate(block.cast().as_ptr(), Layout::new::<u64>()) }.unwrap();
                *slot = Some(guard);
            } else {
                *slot = None;
            }
            let held = guards.iter().any(Option::is_some);
            assert_eq!(in_critical_section(), held, "after {steps:?}");
        }
        drop(guards);
        assert!(!in_critical_section());
    }

    proptest! {
        #![proptest_config(crate::test_proptest::config(3, 256))]

        #[test]
        fn guards_dropped_in_any_order_keep_the_section_until_the_last(
            steps in proptest::collection::vec((0..3usize, any::<bool>()), 1..24)
        ) {
            locks_in_any_order(&steps);
        }
    }

    /// Two heaps locked by one thread and released first-taken-first (the order that broke
    /// the nesting), while other threads allocate from both: under Miri, any access to a
    /// lock's state outside the critical section is a data race it reports.
    #[test]
    fn guards_released_out_of_order_while_other_threads_allocate() {
        let _serial = one_at_a_time();
        let rounds = if cfg!(miri) { 6 } else { 2000 };
        let mut first = Box::new_uninit_slice(16 * 1024);
        let mut second = Box::new_uninit_slice(16 * 1024);
        let heaps = [heap(&mut first), heap(&mut second)];
        let layout = Layout::new::<[u64; 4]>();
        thread::scope(|scope| {
            let heaps = &heaps;
            scope.spawn(move || {
                for round in 0..rounds {
                    let a = heaps[round % 2].lock();
                    let b = heaps[(round + 1) % 2].lock();
                    assert!(in_critical_section());
                    drop(a);
                    assert!(in_critical_section(), "the other heap is still held");
                    drop(b);
                }
            });
            scope.spawn(move || {
                for round in 0..rounds {
                    let heap = &heaps[round % 2];
                    // SAFETY: a valid layout; the block is freed once, with it.
                    unsafe {
                        let block = heap.alloc(layout);
                        assert!(!block.is_null());
                        heap.dealloc(block, layout);
                    }
                }
            });
        });
        assert!(!in_critical_section());
    }

    /// The one rule the docs state: a guard returned out of `critical_section::with` outlives
    /// that section. It costs interrupt masking while held, but the locks stay consistent and
    /// race-free (Miri checks the second thread's accesses).
    #[test]
    fn a_guard_that_escapes_a_critical_section_leaves_the_locks_consistent() {
        let _serial = one_at_a_time();
        let mut memory = Box::new_uninit_slice(16 * 1024);
        let heap = heap(&mut memory);
        let rounds = if cfg!(miri) { 4 } else { 500 };
        thread::scope(|scope| {
            let heap = &heap;
            scope.spawn(move || {
                for _ in 0..rounds {
                    let guard = critical_section::with(|_| heap.lock());
                    drop(guard);
                }
            });
            scope.spawn(move || {
                for _ in 0..rounds {
                    let value = allocator_api2::boxed::Box::new_in(7u64, heap);
                    assert_eq!(*value, 7);
                }
            });
        });
        assert!(!in_critical_section());
        heap.inspect(|heap| heap.validate()).unwrap();
    }

    #[test]
    fn threads_share_a_heap_behind_it() {
        let _serial = one_at_a_time();
        let size = if cfg!(miri) { 64 * 1024 } else { 1 << 20 };
        let mut memory = Box::new_uninit_slice(size);
        let heap = heap(&mut memory);
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
