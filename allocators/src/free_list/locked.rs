//! The thread-safe form: a [`FreeListAllocator`] behind a `spin::Mutex`, for
//! `#[global_allocator]` and for `allocator_api2` collections.
//!
//! ```text
//!   GlobalAlloc / Allocator call ──► lock (spin) ──► FreeListAllocator ──► unlock
//! ```
//!
//! Every call takes the lock once (an uncontended spin lock costs a few nanoseconds). The
//! `GlobalAlloc` methods never panic: exhaustion is a null pointer, and a free that the O(1) tag
//! checks refuse is ignored rather than allowed to corrupt the heap.
//!
//! With [`MmapGrower`] the kernel's page size is only known at run time; the static is built
//! with [`MmapGrower::new`] and the program calls [`set_page_size`](LockedFreeListAllocator::set_page_size)
//! with `AT_PAGESZ` before its first allocation:
//!
//! ```no_run
//! use bareheap::{LockedFreeListAllocator, MmapGrower};
//!
//! static HEAP: LockedFreeListAllocator<MmapGrower> =
//!     LockedFreeListAllocator::new(MmapGrower::new());
//!
//! # fn page_size_from_auxv() -> usize { 4096 }
//! HEAP.set_page_size(page_size_from_auxv()).expect("AT_PAGESZ is a power of two");
//! ```

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use allocator_api2::alloc::{AllocError, Allocator};
use spin::{Mutex, MutexGuard};

use super::heap::{FreeListAllocator, Policy};
use crate::grower::{BadPageSize, HeapGrower, MmapGrower};

/// A [`FreeListAllocator`] behind a spin lock: usable as `#[global_allocator]` (no run-time
/// initialisation needed) and, by reference, as an [`allocator_api2::alloc::Allocator`].
pub struct LockedFreeListAllocator<G: HeapGrower> {
    heap: Mutex<FreeListAllocator<G>>,
}

impl<G: HeapGrower> LockedFreeListAllocator<G> {
    /// An empty heap growing through `grower`, default [`Policy`]. O(1), usable in a `static`.
    #[must_use]
    pub const fn new(grower: G) -> Self {
        Self::with_policy(grower, Policy::DEFAULT)
    }

    /// An empty heap with the given policy. O(1), usable in a `static`.
    #[must_use]
    pub const fn with_policy(grower: G, policy: Policy) -> Self {
        Self {
            heap: Mutex::new(FreeListAllocator::with_policy(grower, policy)),
        }
    }

    /// Locks the heap for direct use of the raw API, statistics and introspection. Spins while
    /// another thread holds it.
    pub fn lock(&self) -> MutexGuard<'_, FreeListAllocator<G>> {
        self.heap.lock()
    }

    /// Whether `ptr` lies inside one of the heap's regions. O(regions), under the lock.
    pub fn contains(&self, ptr: *const u8) -> bool {
        self.heap.lock().contains(ptr)
    }
}

impl LockedFreeListAllocator<MmapGrower> {
    /// Tells the grower the kernel's page size (`AT_PAGESZ`); call it before the first
    /// allocation. O(1).
    ///
    /// # Errors
    /// [`BadPageSize`] when `page_size` is not a power of two; nothing changes then.
    pub fn set_page_size(&self, page_size: usize) -> Result<(), BadPageSize> {
        self.heap.lock().set_page_size(page_size)
    }
}

// SAFETY: `alloc` returns blocks of at least `layout.size()` bytes aligned to `layout.align()`
// that no other live block overlaps (the heap's invariants), or null; `dealloc` and `realloc`
// only act on blocks that pass the tag checks; nothing here panics (no indexing, no unwrap,
// checked arithmetic in the heap), so no unwinding crosses the GlobalAlloc boundary.
unsafe impl<G: HeapGrower> GlobalAlloc for LockedFreeListAllocator<G> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.heap
            .lock()
            .allocate(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: GlobalAlloc's contract: `ptr` came from this allocator with `layout`.
        unsafe { self.heap.lock().deallocate_trusted(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(ptr) = NonNull::new(ptr) else {
            return ptr::null_mut();
        };
        // SAFETY: GlobalAlloc's contract: `ptr` is a live block of this allocator for `layout`.
        unsafe { self.heap.lock().reallocate_trusted(ptr, layout, new_size) }
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }
}

// SAFETY: blocks stay valid until deallocated (or the allocator is dropped, which the borrow
// in `&LockedFreeListAllocator` prevents while they are in use); they satisfy the layout; the
// reference may be copied freely since every copy reaches the same locked heap.
unsafe impl<G: HeapGrower> Allocator for &LockedFreeListAllocator<G> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        let ptr = self.heap.lock().allocate(layout).ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(ptr, layout.size()))
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: Allocator's contract: `ptr` is a live block of this allocator for `layout`.
        unsafe { self.heap.lock().deallocate_trusted(ptr.as_ptr(), layout) }
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: Allocator's contract: `ptr` is a live block for `old_layout`.
        unsafe { self.resize(ptr, old_layout, new_layout) }
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        // SAFETY: Allocator's contract: `ptr` is a live block for `old_layout`.
        unsafe { self.resize(ptr, old_layout, new_layout) }
    }
}

impl<G: HeapGrower> LockedFreeListAllocator<G> {
    /// `grow`/`shrink` of the `Allocator` impl: in place when the alignment is unchanged and the
    /// heap allows, else allocate, copy and free.
    ///
    /// # Safety
    /// `ptr` must be a live block of this allocator for `old_layout`.
    unsafe fn resize(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let mut heap = self.heap.lock();
        let moved = if new_layout.align() <= old_layout.align() {
            // SAFETY: forwarded to the caller.
            unsafe { heap.reallocate_trusted(ptr, old_layout, new_layout.size()) }
        } else {
            let moved = heap.allocate(new_layout);
            if let Some(moved) = moved {
                // SAFETY: distinct live blocks, each at least as large as the bytes copied.
                unsafe {
                    ptr::copy_nonoverlapping(
                        ptr.as_ptr(),
                        moved.as_ptr(),
                        old_layout.size().min(new_layout.size()),
                    );
                    heap.deallocate_trusted(ptr.as_ptr(), old_layout);
                }
            }
            moved
        };
        let moved = moved.ok_or(AllocError)?;
        Ok(NonNull::slice_from_raw_parts(moved, new_layout.size()))
    }
}
