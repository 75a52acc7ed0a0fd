//! A locked form as a [`Subject`], through either of its two interfaces.
//!
//! [`ViaGlobalAlloc`] calls `alloc` / `dealloc` / `realloc`. `GlobalAlloc` forbids zero-size
//! requests, so the adapter answers those itself with `None` (the allocator is never asked).
//! [`ViaAllocatorApi`] calls `allocate` / `deallocate` / `grow` / `shrink` of the
//! `allocator_api2` trait, which allows zero sizes, and checks that the length it reports lies
//! inside the allocator's memory too.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::NonNull;

use allocator_api2::alloc::Allocator;
use bareheap::FreeError;

use crate::{Accounting, Inspect, LockedForm, Subject};

/// Forwards every [`Inspect`] query to the wrapped locked form.
macro_rules! forward_inspect {
    ($adapter:ident, $suffix:literal) => {
        impl<L: LockedForm> Inspect for $adapter<L> {
            const NAME: &'static str = $suffix;
            const RETURNS_ALL_MEMORY: bool = L::RETURNS_ALL_MEMORY;

            fn capacity(&self) -> usize {
                self.0.capacity()
            }

            fn supports(&self, layout: Layout) -> bool {
                self.0.supports(layout)
            }

            fn accounting(&self) -> Accounting {
                self.0.accounting()
            }

            fn held_bytes(&self, layout: Layout) -> Option<usize> {
                self.0.held_bytes(layout)
            }

            fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
                self.0.holds(ptr, len)
            }

            fn check_consistency(&self) -> Result<(), String> {
                self.0.check_consistency()
            }

            fn check_all_free(&self) -> Result<(), String> {
                self.0.check_all_free()
            }
        }
    };
}

/// A locked form driven through `GlobalAlloc`.
pub struct ViaGlobalAlloc<L>(pub L);

forward_inspect!(ViaGlobalAlloc, "locked form via GlobalAlloc");

impl<L: LockedForm> Subject for ViaGlobalAlloc<L> {
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        if layout.size() == 0 {
            return None;
        }
        // SAFETY: the layout has a non-zero size.
        NonNull::new(unsafe { self.0.allocator().alloc(layout) })
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the caller passes a live block of this allocator with its layout.
        unsafe { self.0.allocator().dealloc(ptr.as_ptr(), layout) };
        Ok(())
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        Layout::from_size_align(new_size, layout.align()).ok()?;
        if new_size == 0 {
            return None;
        }
        // SAFETY: a live block with its layout (the caller's promise); the new size is
        // non-zero and forms a valid layout with the old alignment (checked above).
        NonNull::new(unsafe { self.0.allocator().realloc(ptr.as_ptr(), layout, new_size) })
    }
}

/// A locked form driven through `allocator_api2::alloc::Allocator` (by reference).
pub struct ViaAllocatorApi<L>(pub L);

forward_inspect!(ViaAllocatorApi, "locked form via Allocator");

impl<L: LockedForm> ViaAllocatorApi<L>
where
    for<'a> &'a L::Allocator: Allocator,
{
    /// The block's start, after checking the reported span against the allocator's memory.
    fn start_of(&self, block: NonNull<[u8]>, layout: Layout) -> NonNull<u8> {
        let start = block.cast::<u8>();
        assert!(block.len() >= layout.size(), "span shorter than the layout");
        assert!(
            self.0.holds(start, block.len()),
            "reported span leaves the heap"
        );
        start
    }
}

impl<L: LockedForm> Subject for ViaAllocatorApi<L>
where
    for<'a> &'a L::Allocator: Allocator,
{
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let block = Allocator::allocate(&self.0.allocator(), layout).ok()?;
        Some(self.start_of(block, layout))
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the caller passes a live block of this allocator with its layout.
        unsafe { Allocator::deallocate(&self.0.allocator(), ptr, layout) };
        Ok(())
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let new = Layout::from_size_align(new_size, layout.align()).ok()?;
        let allocator = &self.0.allocator();
        let block = if new_size >= layout.size() {
            // SAFETY: a live block with its layout (the caller's promise); the new size is
            // not smaller.
            unsafe { allocator.grow(ptr, layout, new) }
        } else {
            // SAFETY: as above; the new size is smaller.
            unsafe { allocator.shrink(ptr, layout, new) }
        };
        Some(self.start_of(block.ok()?, new))
    }
}
