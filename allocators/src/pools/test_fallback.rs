//! A fallback allocator for tests: `System`, plus a ledger of live allocations that checks
//! every free and resize names exactly the layout it was allocated with, and an optional
//! budget of allocations after which it reports exhaustion.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::alloc::System;
use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::{FreeError, OutOfMemory, RawAllocator, ResizeError};

/// `System` with a ledger and a budget.
pub(super) struct Ledger {
    /// Live allocations: start address -> layout.
    live: Mutex<BTreeMap<usize, Layout>>,
    /// Allocations (and resizes) still allowed.
    budget: Mutex<usize>,
    /// How many resizes reached this allocator.
    pub(super) reallocs: AtomicUsize,
}

impl Ledger {
    /// A ledger that allows `budget` allocations.
    pub(super) const fn with_budget(budget: usize) -> Self {
        Self {
            live: Mutex::new(BTreeMap::new()),
            budget: Mutex::new(budget),
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
            .is_some_and(|(&base, layout)| start + len <= base + layout.size().max(1))
    }

    /// Takes one unit of budget, if any is left.
    fn spend(&self) -> bool {
        let mut left = self.budget.lock().unwrap();
        left.checked_sub(1).map(|rest| *left = rest).is_some()
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

// SAFETY: blocks come from `System` (valid, aligned, disjoint, with their own provenance);
// the ledger only observes addresses, and refuses (changing nothing) what it does not know.
// Its asserts fire only when a caller breaks a trusted call's contract: the test's point.
unsafe impl RawAllocator for &Ledger {
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        let request = Layout::from_size_align(layout.size().max(1), layout.align()).unwrap();
        if !self.spend() {
            return Err(OutOfMemory);
        }
        // SAFETY: a non-zero size.
        let ptr = NonNull::new(unsafe { System.alloc(request) }).ok_or(OutOfMemory)?;
        self.record(ptr.as_ptr(), layout);
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        self.check(ptr, layout)?;
        // SAFETY: a live block of the ledger with its layout.
        unsafe { self.deallocate_trusted(NonNull::new_unchecked(ptr), layout) };
        Ok(())
    }

    unsafe fn resize(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError> {
        self.check(ptr, old)?;
        // SAFETY: a live block of the ledger with its layout.
        Ok(unsafe { self.resize_trusted(NonNull::new_unchecked(ptr), old, new) }?)
    }

    unsafe fn deallocate_trusted(&mut self, ptr: NonNull<u8>, layout: Layout) {
        self.forget(ptr.as_ptr(), layout);
        let request = Layout::from_size_align(layout.size().max(1), layout.align()).unwrap();
        // SAFETY: the ledger confirmed a live `System` block allocated with `request`.
        unsafe { System.dealloc(ptr.as_ptr(), request) }
    }

    unsafe fn resize_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        if new == old {
            return Ok(NonNull::slice_from_raw_parts(ptr, old.size()));
        }
        self.reallocs.fetch_add(1, Ordering::Relaxed);
        let moved = self.allocate(new)?;
        // SAFETY: the caller's live block of `old` and a new, distinct one of `new` both hold
        // the bytes copied; then the old block goes, with its layout.
        unsafe {
            ptr.copy_to_nonoverlapping(moved.cast::<u8>(), old.size().min(new.size()));
            self.deallocate_trusted(ptr, old);
        }
        Ok(moved)
    }

    fn contains(&self, ptr: *const u8) -> bool {
        self.covers(ptr.addr(), 1)
    }
}

impl Ledger {
    /// The checked free's verdict on `ptr` with `layout`.
    fn check(&self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        match self.live.lock().unwrap().get(&ptr.addr()) {
            _ if ptr.is_null() => Err(FreeError::NullPtrFree),
            None => Err(FreeError::FreeOutOfBounds),
            Some(recorded) if *recorded != layout => Err(FreeError::LayoutMismatch),
            Some(_) => Ok(()),
        }
    }
}
