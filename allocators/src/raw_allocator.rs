//! [`RawAllocator`]: the one interface every allocator of this crate implements.

use core::alloc::Layout;
use core::ptr::NonNull;

use crate::{FreeError, OutOfMemory, Region, ResizeError};

/// A single-threaded allocator: the interface shared by every allocator of this crate.
///
/// Each design (the chunk allocator, the fixed pool, the size-class pools, the free list, and
/// the default [`Heap`](crate::Heap) built from the last two) is first of all a plain,
/// single-threaded value with `&mut self` methods. They all answer the same six calls, with the
/// same names and the same error types:
///
/// ```text
///                       checked (the raw API)             trusted (what GlobalAlloc needs)
///   allocate(layout)    ──► Ok(block) | Err(OutOfMemory)
///   free                deallocate(ptr, layout)           deallocate_trusted(ptr, layout)
///                         ──► Ok | Err(FreeError)            ──► () , O(1)
///   resize              resize(ptr, old, new)             resize_trusted(ptr, old, new)
///                         ──► Ok(block) | Err(ResizeError)   ──► Ok(block) | Err(OutOfMemory)
///   contains(ptr)       ──► whether ptr lies in memory the allocator manages
/// ```
///
/// The *checked* calls take any pointer the implementation documents and refuse a bad one with
/// a [`FreeError`] that says why, changing nothing. The *trusted* calls take the caller's word
/// that the pointer is a live block with a fitting layout (the contract of
/// [`GlobalAlloc`](core::alloc::GlobalAlloc) and of `Allocator`), and in exchange skip the
/// searches a full check needs: each is O(1) apart from the work itself.
///
/// Everything else is built from this trait: [`Locked`](crate::Locked) puts any of them behind
/// a lock and implements `GlobalAlloc` and `Allocator`; the size-class pools take any of them
/// as the allocator behind their slabs, so pools over a free list is one value with one lock
/// on top.
///
/// A layout *fits* a live block when its alignment is the one the block was allocated (or last
/// resized) with, and its size lies between the size asked for then and the length of the
/// slice that call returned. This is the rule of `Allocator`: a caller may give back the extra
/// bytes it was told about.
///
/// # Safety
/// Implementors promise, for every block they hand out (from `allocate` or a resize):
/// - the returned slice is valid for reads and writes of its whole length, which is at least
///   the layout's size, and its start is aligned to the layout's alignment;
/// - the pointer carries the provenance of the memory the allocator manages, never that of a
///   borrow of the allocator value itself, so later calls on the allocator do not invalidate it;
/// - the block overlaps no other live block, and stays valid until it is freed or resized
///   through this allocator, or the allocator is dropped; moving the allocator value does not
///   move or end it (the memory never lives inside the value);
/// - a refused or failed call (an `Err`) changes nothing, and a resize to the block's own
///   layout keeps it where it is;
/// - no method panics or unwinds, on any input allowed by its contract.
pub unsafe trait RawAllocator {
    /// A block for `layout`: at least `layout.size()` bytes (zero-sized layouts get a real
    /// block), aligned to `layout.align()`. The slice's length is the usable size, which a
    /// caller may use and may pass back in the layout of a later free or resize.
    ///
    /// # Errors
    /// [`OutOfMemory`] when nothing fits and the allocator cannot get more memory.
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory>;

    /// Frees the block at `ptr`, allocated with a layout that `layout` fits, after checking
    /// that it is one.
    ///
    /// # Errors
    /// The [`FreeError`] that says why `ptr` or `layout` was refused; nothing changes then.
    ///
    /// # Safety
    /// When `ptr` is a live block of this allocator, the caller gives up every use of it: the
    /// memory may be handed out again. Beyond that, `ptr` may be null, outside the allocator's
    /// memory, or a pointer the allocator returned (live or freed since); each implementation
    /// says what more it accepts (most accept any pointer at all).
    unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError>;

    /// Resizes the block at `ptr` (allocated with a layout that `old` fits) to `new`, keeping
    /// its first `min(old.size(), new.size())` bytes, after checking it as
    /// [`deallocate`](Self::deallocate) does. In place when the allocator can, else the block
    /// moves: an allocation, a copy and a free. `new` may ask for any size and alignment; a
    /// resize to `old` itself never moves the block (so it only checks the pointer).
    ///
    /// # Errors
    /// [`ResizeError::Invalid`] with the reason a free would be refused;
    /// [`ResizeError::OutOfMemory`] when no block for `new` can be had. The old block is
    /// untouched and still allocated either way.
    ///
    /// # Safety
    /// As for [`deallocate`](Self::deallocate); on success the old pointer must not be used
    /// any more (use the returned one, even when the address is the same).
    unsafe fn resize(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError>;

    /// Frees the live block at `ptr` without the checks of [`deallocate`](Self::deallocate):
    /// O(1) apart from merging or returning memory. This is what `GlobalAlloc::dealloc` calls.
    ///
    /// # Safety
    /// `ptr` must be a live block of this allocator and `layout` must fit it; the caller gives
    /// up every use of the block.
    unsafe fn deallocate_trusted(&mut self, ptr: NonNull<u8>, layout: Layout);

    /// Resizes the live block at `ptr` from `old` to `new` without the checks of
    /// [`resize`](Self::resize), keeping its first `min(old.size(), new.size())` bytes. This is
    /// what `GlobalAlloc::realloc` and `Allocator::grow`/`shrink` call. A resize to `old`
    /// itself never moves the block.
    ///
    /// # Errors
    /// [`OutOfMemory`] when no block for `new` can be had; the old block is untouched then.
    ///
    /// # Safety
    /// As for [`deallocate_trusted`](Self::deallocate_trusted) with layout `old`; on success
    /// the old pointer must not be used any more.
    unsafe fn resize_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory>;

    /// Resizes the live block at `ptr` from `old` to `new` where it is, when the allocator can
    /// (a shrink, a free neighbour to grow into, a block already large enough), keeping its
    /// bytes; `None`, with nothing changed, when it would have to move. A lock wrapper uses it
    /// to move large blocks outside its lock ([`Locked`](crate::Locked)'s `realloc`). `None` by
    /// default: an allocator that can resize in place should say so, or its large blocks move
    /// on every resize behind a lock.
    ///
    /// # Safety
    /// As for [`resize_trusted`](Self::resize_trusted); on `Some` the old pointer must not be
    /// used any more, on `None` the block is the caller's as before.
    unsafe fn resize_in_place_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Option<NonNull<[u8]>> {
        let _ = (ptr, old, new);
        None
    }

    /// Whether `ptr`'s address lies inside memory this allocator manages, allocated or not
    /// (to route a free to the allocator that owns it). Each implementation states its cost.
    fn contains(&self, ptr: *const u8) -> bool;

    /// This allocator's own pointer to `address`, when it can give one cheaply: a pointer
    /// with the provenance of the memory it manages, as the blocks it hands out carry. An
    /// allocator layered over this one (the pools over their fallback) uses it to reach its
    /// own metadata inside a block from an address alone, without trusting the pointer its
    /// caller handed back. `None` by default, and for addresses outside the allocator's memory.
    ///
    /// Implementors promise that a returned pointer to an address inside a live block they
    /// handed out may be used for that block as the pointer they handed out may.
    fn pointer_to(&mut self, address: usize) -> Option<NonNull<u8>> {
        let _ = address;
        None
    }

    /// [`pointer_to`](Self::pointer_to)'s answer when it takes a few instructions and no call
    /// (the free list's most recently used region, the chunk heap): `Some` is the pointer
    /// `pointer_to` would give, `None` only says that there is no quick answer. A layer's hot
    /// path asks this and leaves `pointer_to`, with its walks and calls, to an out-of-line
    /// path, so that the hot path needs no registers saved. `None` by default.
    #[inline(always)]
    fn quick_pointer_to(&self, address: usize) -> Option<NonNull<u8>> {
        let _ = address;
        None
    }

    /// The whole span of memory around `address` that one of this allocator's pointers is
    /// valid for (a region of the free list, the chunk heap, the fixed pool's blocks), as a
    /// [`Region`] whose pointer carries that provenance, when it can give one cheaply. A layer
    /// that keeps blocks of this allocator without its lock (the per-thread caches) rebases the
    /// addresses of blocks freed into it on such a span, so that every block it hands out again
    /// carries the allocator's provenance, not that of the pointer it was freed with. `None` by
    /// default, and for addresses outside the allocator's memory.
    ///
    /// Implementors promise that the span is memory they manage, valid for as long as
    /// [`memory_given_back`](Self::memory_given_back) returns the value it returned when the
    /// span was asked for.
    fn span_of(&mut self, address: usize) -> Option<Region> {
        let _ = address;
        None
    }

    /// How many times this allocator has given memory back to where it came from (regions
    /// returned to a grower): a count that never decreases, and that changes whenever a span
    /// [`span_of`](Self::span_of) gave may have stopped being valid. 0 by default, for
    /// allocators that never give memory back. O(1).
    fn memory_given_back(&self) -> usize {
        0
    }
}
