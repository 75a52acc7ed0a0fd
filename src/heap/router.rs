//! The `#[global_allocator]`: forwards each call to the right allocator and counts it.
//!
//! ```text
//!   alloc / alloc_zeroed ──► ACTIVE allocator ──► count in its Traffic
//!   dealloc / realloc    ──► owner_of(ptr)    ──► count in the owner's Traffic
//! ```

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU8, Ordering};

use super::{AllocatorChoice, traffic};
use crate::selection::Named;

/// Which allocator serves new allocations (an `AllocatorChoice` as `u8`).
static ACTIVE: AtomicU8 = AtomicU8::new(AllocatorChoice::Chunk as u8);

/// Makes `choice` serve every allocation from now on.
pub fn activate(choice: AllocatorChoice) {
    ACTIVE.store(choice as u8, Ordering::Relaxed);
}

/// The allocator that serves new allocations now.
pub fn active() -> AllocatorChoice {
    let active = ACTIVE.load(Ordering::Relaxed);
    *AllocatorChoice::ALL
        .iter()
        .find(|choice| **choice as u8 == active)
        .unwrap_or(&AllocatorChoice::Chunk)
}

/// The program's global allocator: see the module docs of [`super`].
struct Router;

#[global_allocator]
static ROUTER: Router = Router;

// SAFETY: each method forwards to one of the crate's allocators, which meet the `GlobalAlloc`
// contract themselves. A block is always freed or resized by the allocator that allocated it:
// `owner_of` identifies it by the disjoint memory each allocator owns.
unsafe impl GlobalAlloc for Router {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let choice = active();
        // SAFETY: forwarded from the caller (a non-zero-size layout).
        let ptr = unsafe { choice.global_alloc().alloc(layout) };
        traffic::allocated(choice, ptr, layout.size());
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let choice = active();
        // SAFETY: as for `alloc`.
        let ptr = unsafe { choice.global_alloc().alloc_zeroed(layout) };
        traffic::allocated(choice, ptr, layout.size());
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let owner = AllocatorChoice::owner_of(ptr);
        // SAFETY: the caller passes a block this router allocated with `layout`; it came from
        // the allocator that owns its address.
        unsafe { owner.global_alloc().dealloc(ptr, layout) };
        traffic::freed(owner, layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let owner = AllocatorChoice::owner_of(ptr);
        // SAFETY: as for `dealloc`; the block stays with its owner, which may be an allocator
        // that is no longer active.
        let new_ptr = unsafe { owner.global_alloc().realloc(ptr, layout, new_size) };
        traffic::reallocated(owner, new_ptr, layout.size(), new_size);
        new_ptr
    }
}
