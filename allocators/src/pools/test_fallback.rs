//! A fallback allocator for tests: `System`, plus a ledger of live allocations that checks
//! every free and resize names exactly the layout it was allocated with, and an optional
//! budget of allocations after which it reports exhaustion.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};
use std::alloc::System;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// `System` with a ledger and a budget.
pub(super) struct Ledger {
    /// Live allocations: start address -> layout.
    live: Mutex<BTreeMap<usize, Layout>>,
    /// Allocations (and resizes) still allowed.
    budget: AtomicUsize,
    /// How many `realloc` calls reached this allocator.
    pub(super) reallocs: AtomicUsize,
}

impl Ledger {
    /// A ledger that allows `budget` allocations.
    pub(super) const fn with_budget(budget: usize) -> Self {
        Self {
            live: Mutex::new(BTreeMap::new()),
            budget: AtomicUsize::new(budget),
            reallocs: AtomicUsize::new(0),
        }
    }

    /// A ledger without a practical limit.
    pub(super) const fn new() -> Self {
        Self::with_budget(usize::MAX)
    }

    /// The number of live allocations.
    pub(super) fn live_count(&self) -> usize {
        self.live.lock().unwrap().len()
    }

    /// Whether `start..start + len` lies inside one live allocation.
    pub(super) fn covers(&self, start: usize, len: usize) -> bool {
        let live = self.live.lock().unwrap();
        live.range(..=start)
            .next_back()
            .is_some_and(|(&base, layout)| start + len <= base + layout.size())
    }

    /// Takes one unit of budget, if any is left.
    fn spend(&self) -> bool {
        self.budget
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }

    /// Removes `ptr` from the ledger, asserting it was allocated with `layout`.
    fn forget(&self, ptr: *mut u8, layout: Layout) {
        let recorded = self.live.lock().unwrap().remove(&ptr.addr());
        assert_eq!(recorded, Some(layout), "freed with a different layout");
    }

    /// Adds `ptr` to the ledger.
    fn record(&self, ptr: *mut u8, layout: Layout) {
        if !ptr.is_null() {
            self.live.lock().unwrap().insert(ptr.addr(), layout);
        }
    }
}

// SAFETY: every call forwards to `System` with the caller's own arguments; the ledger only
// observes addresses.
unsafe impl GlobalAlloc for Ledger {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.spend() {
            return core::ptr::null_mut();
        }
        // SAFETY: forwarded from the caller.
        let ptr = unsafe { System.alloc(layout) };
        self.record(ptr, layout);
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.forget(ptr, layout);
        // SAFETY: forwarded from the caller.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.reallocs.fetch_add(1, Ordering::Relaxed);
        if !self.spend() {
            return core::ptr::null_mut();
        }
        self.forget(ptr, layout);
        // SAFETY: forwarded from the caller.
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if moved.is_null() {
            self.record(ptr, layout);
        } else {
            self.record(
                moved,
                Layout::from_size_align(new_size, layout.align()).unwrap(),
            );
        }
        moved
    }
}

// SAFETY: forwards to the ledger's own implementation.
unsafe impl GlobalAlloc for &Ledger {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { (**self).alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { (**self).dealloc(ptr, layout) }
    }
}
