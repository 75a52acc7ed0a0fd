//! [`LockedSizeClassPools`]: the size-class pools behind a spin lock, usable as
//! `#[global_allocator]` and as an `allocator_api2` allocator.
//!
//! ```text
//!   GlobalAlloc / Allocator ──lock──► SizeClassPools ──► class pools | fallback
//! ```
//!
//! Each call takes the lock once. The `GlobalAlloc` path frees in expected O(1) through the
//! slab table, without searching the slab lists (the `GlobalAlloc` contract guarantees a valid
//! pointer and layout), but still refuses a free of a block not in use instead of corrupting
//! the bitmap. Nothing here panics: exhaustion and invalid layouts give null / `AllocError`.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use allocator_api2::alloc::{AllocError, Allocator};
use spin::Mutex;

use super::{PoolStats, SizeClassPools, usable_size};
use crate::FreeError;

/// [`SizeClassPools`] behind a `spin::Mutex`.
///
/// ```
/// use bareheap::LockedSizeClassPools;
/// use std::alloc::System;
///
/// static POOLS: LockedSizeClassPools<System> = LockedSizeClassPools::new(System);
///
/// let mut numbers = allocator_api2::vec::Vec::new_in(&POOLS);
/// numbers.extend([1u32, 2, 3]);
/// assert_eq!(POOLS.stats().classes[0].blocks_in_use, 1); // 12 bytes: the 16-byte class
/// ```
pub struct LockedSizeClassPools<F: GlobalAlloc> {
    /// The pools; the lock serialises every access.
    pools: Mutex<SizeClassPools<F>>,
}

impl<F: GlobalAlloc> LockedSizeClassPools<F> {
    /// Empty pools in front of `fallback`. O(1) and `const`, for
    /// `#[global_allocator] static A: LockedSizeClassPools<F> = LockedSizeClassPools::new(..)`.
    pub const fn new(fallback: F) -> Self {
        Self {
            pools: Mutex::new(SizeClassPools::new(fallback)),
        }
    }

    /// As [`SizeClassPools::allocate`], under the lock.
    pub fn allocate(&self, layout: Layout) -> Option<NonNull<u8>> {
        self.pools.lock().allocate(layout)
    }

    /// As [`SizeClassPools::deallocate`] (fully checked), under the lock.
    ///
    /// # Errors
    /// As [`SizeClassPools::deallocate`].
    ///
    /// # Safety
    /// As [`SizeClassPools::deallocate`].
    pub unsafe fn deallocate(&self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.pools.lock().deallocate(ptr, layout) }
    }

    /// A snapshot of all counters, under the lock. O(1).
    pub fn stats(&self) -> PoolStats {
        self.pools.lock().stats()
    }

    /// Resizes `ptr` from `old` to `new` under the lock; see [`SizeClassPools::reallocate`].
    ///
    /// # Safety
    /// `ptr` must be live memory from these pools with layout `old`.
    unsafe fn reallocate(&self, ptr: NonNull<u8>, old: Layout, new: Layout) -> Option<NonNull<u8>> {
        // SAFETY: forwarded from the caller.
        unsafe { self.pools.lock().reallocate(ptr, old, new) }
    }

    /// Frees `ptr` of `layout` without the slab search.
    ///
    /// # Safety
    /// `ptr` must be live memory from these pools with layout `layout`.
    unsafe fn deallocate_trusted(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller. A refusal (impossible for valid input) changes
        // nothing, so it can be ignored.
        let _ = unsafe { self.pools.lock().deallocate_trusted(ptr, layout) };
    }
}

// SAFETY: blocks come from the pools (each handed out once until freed, sized and aligned by
// their class) or from the fallback, which upholds the same contract; `dealloc` and `realloc`
// route by the layout, which the caller must pass unchanged, exactly as `alloc` did. Failures
// are null, never a panic.
unsafe impl<F: GlobalAlloc> GlobalAlloc for LockedSizeClassPools<F> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.allocate(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if let Some(block) = NonNull::new(ptr) {
            // SAFETY: the caller guarantees `ptr` is live memory from us with `layout`.
            unsafe { self.deallocate_trusted(block, layout) };
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (Some(block), Ok(new)) = (
            NonNull::new(ptr),
            Layout::from_size_align(new_size, layout.align()),
        ) else {
            return ptr::null_mut();
        };
        // SAFETY: the caller guarantees `ptr` is live memory from us with `layout`.
        unsafe { self.reallocate(block, layout, new) }.map_or(ptr::null_mut(), NonNull::as_ptr)
    }
}

// SAFETY: as for `GlobalAlloc`; blocks stay valid until freed or until the pools are dropped,
// which the borrow `&'a Self` prevents while the allocator is in use. The reported length is
// the whole block (`usable_size`), and any layout between the requested one and that length
// maps to the same class, so frees and resizes route correctly.
unsafe impl<F: GlobalAlloc> Allocator for &LockedSizeClassPools<F> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let block = LockedSizeClassPools::allocate(self, layout).ok_or(AllocError)?;
        Ok(whole_block(block, layout))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: the caller guarantees `ptr` is live memory from us that fits `layout`.
        unsafe { self.deallocate_trusted(ptr, layout) };
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller guarantees `ptr` is live memory from us that fits `old_layout`.
        let block = unsafe { self.reallocate(ptr, old_layout, new_layout) }.ok_or(AllocError)?;
        Ok(whole_block(block, new_layout))
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: the caller guarantees `ptr` is live memory from us that fits `old_layout`.
        let block = unsafe { self.reallocate(ptr, old_layout, new_layout) }.ok_or(AllocError)?;
        Ok(whole_block(block, new_layout))
    }
}

/// The block at `block` with its usable length for `layout`.
fn whole_block(block: NonNull<u8>, layout: Layout) -> NonNull<[u8]> {
    NonNull::slice_from_raw_parts(block, usable_size(layout))
}
