//! Test-only shorthand: the checked raw API as safe calls, for unit tests whose every pointer
//! is null, foreign, or one the allocator under test returned (live or freed), which is what
//! the checked calls accept.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::{FreeError, RawAllocator, ResizeError};

/// [`RawAllocator::deallocate`] and [`RawAllocator::resize`] without `unsafe` at each call.
pub(crate) trait CheckedCalls: RawAllocator {
    /// [`RawAllocator::deallocate`].
    fn free_checked(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: unit tests pass only pointers the checked free accepts, and never use a
        // block after freeing it.
        unsafe { self.deallocate(ptr, layout) }
    }

    /// [`RawAllocator::resize`].
    fn resize_checked(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError> {
        // SAFETY: as for `free_checked`; the old pointer is not used after a success.
        unsafe { self.resize(ptr, old, new) }
    }
}

impl<A: RawAllocator + ?Sized> CheckedCalls for A {}
