//! What the harness needs from an allocator: the [`Design`] trait (what differs per
//! allocator), the [`Subject`] trait (how the harness drives one form of it) and the common
//! statistics.
//!
//! Every allocator implements `bareheap::RawAllocator`, so driving it is the same code for
//! all; what differs is how to build one over fresh memory and what its counters mean. A
//! [`Design`] says exactly that, and the generic forms in `forms` turn it into subjects:
//!
//! ```text
//!   Design (per allocator: build, capacity, accounting, consistency)
//!     ├── Checked<D>        the raw checked API  (deallocate / resize)
//!     ├── Trusted<D>        the raw trusted API  (deallocate_trusted / resize_trusted)
//!     └── Shared<D>         Locked<D::Allocator>, driven as
//!           ├── ViaGlobalAlloc<D>     alloc / dealloc / realloc
//!           └── ViaAllocatorApi<D>    allocate / deallocate / grow / shrink
//! ```

use std::alloc::Layout;
use std::ptr::NonNull;

use bareheap::{FreeError, OutOfMemory, RawAllocator, Region};

use crate::Arena;

/// The statistics an allocator reports, in terms the shadow model can predict or bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accounting {
    /// Blocks currently allocated.
    pub live_blocks: usize,
    /// Sum of [`Design::held_bytes`] over the live blocks, if the allocator can predict it.
    pub held_bytes: Option<usize>,
    /// The bytes in use as the allocator counts them, if it does, and how many of them its
    /// own bookkeeping may take at most (slabs, tables): the rest is at most the sum of
    /// [`Design::max_in_use`] over the live blocks.
    pub in_use_bytes: Option<(usize, usize)>,
}

/// One allocator design under test: how to build it, and what its counters mean.
pub trait Design: 'static {
    /// The allocator.
    type Allocator: RawAllocator + bareheap::Inspect + Send;

    /// A short name for messages.
    const NAME: &'static str;

    /// Whether, once everything is freed, a block as large as on a fresh allocator can be had
    /// again (false when the design keeps memory, e.g. the pools' reserve of empty slabs).
    const RETURNS_ALL_MEMORY: bool = true;

    /// A fresh allocator managing about `bytes` bytes, and the memory it manages (which the
    /// subject keeps, and frees after the allocator).
    fn build(bytes: usize) -> (Self::Allocator, Vec<Arena>);

    /// The bytes of memory the allocator can hand out at most. O(1).
    fn capacity(allocator: &Self::Allocator) -> usize;

    /// Whether the allocator can serve `layout` at all; if not, a request must fail.
    /// `managed` is every byte it manages: [`Design::capacity`] plus the memory it claimed at
    /// run time (a claimed region can serve a block larger than the memory it was built
    /// over). O(1).
    fn supports(allocator: &Self::Allocator, layout: Layout, managed: usize) -> bool {
        let _ = allocator;
        layout.size() <= managed
    }

    /// The allocator's statistics. O(1).
    fn accounting(allocator: &Self::Allocator) -> Accounting;

    /// What one live block of `layout` adds to [`Accounting::held_bytes`]; `None` exactly
    /// when the allocator reports no held bytes. O(1).
    fn held_bytes(allocator: &Self::Allocator, layout: Layout) -> Option<usize> {
        let _ = (allocator, layout);
        None
    }

    /// The most bytes one live block of `layout` may take from the allocator's memory, as its
    /// docs promise (what [`Accounting::in_use_bytes`] is held to); `None` when the allocator
    /// counts no such bytes. O(1).
    fn max_in_use(layout: Layout) -> Option<usize> {
        let _ = layout;
        None
    }

    /// Called when `allocate(layout)` (or a resize to `layout`) failed, with everything as it
    /// was: `Ok` when the allocator's documented guarantee allows the failure (no free memory,
    /// and nothing its memory source can still give, is large enough), else `Err` naming the
    /// memory that should have served the request. O(the allocator's free blocks).
    ///
    /// # Errors
    /// What should have served the request.
    fn explain_failure(allocator: &Self::Allocator, layout: Layout) -> Result<(), String>;

    /// Whether the `len` bytes at `ptr` lie in the allocator's memory, for designs whose
    /// memory is not the arenas they were built over (a grower that maps its own); `None`
    /// (the default) to check against the arenas.
    fn holds(allocator: &Self::Allocator, ptr: NonNull<u8>, len: usize) -> Option<bool> {
        let _ = (allocator, ptr, len);
        None
    }

    /// The allocator's own consistency check (a heap walk, counters against the bitmap).
    ///
    /// # Errors
    /// A description of the first inconsistency.
    fn check_consistency(allocator: &Self::Allocator) -> Result<(), String> {
        let _ = allocator;
        Ok(())
    }

    /// With no block live: gives back what the allocator keeps at hand for later requests
    /// (the pools' magazines and empty slabs: `trim`), then checks that everything is free
    /// again (nothing leaked).
    ///
    /// # Errors
    /// A description of what is still held.
    fn check_all_free(allocator: &mut Self::Allocator) -> Result<(), String>;

    /// Hands `memory` to the allocator at run time: `None` for designs that cannot take
    /// memory after they are built (the default), else the allocator's answer.
    ///
    /// # Safety
    /// `memory` must be valid, unused memory that outlives the allocator.
    unsafe fn claim(
        allocator: &mut Self::Allocator,
        memory: Region,
    ) -> Option<Result<(), OutOfMemory>> {
        let _ = (allocator, memory);
        None
    }
}

/// Read-only knowledge about an allocator under test, whatever the form.
pub trait Inspect {
    /// A short name for messages.
    const NAME: &'static str;

    /// As [`Design::RETURNS_ALL_MEMORY`].
    const RETURNS_ALL_MEMORY: bool;

    /// As [`Design::capacity`], plus the memory claimed at run time.
    fn capacity(&self) -> usize;

    /// As [`Design::supports`].
    fn supports(&self, layout: Layout) -> bool;

    /// As [`Design::accounting`] (plus a lock for the shared forms).
    fn accounting(&self) -> Accounting;

    /// As [`Design::held_bytes`].
    fn held_bytes(&self, layout: Layout) -> Option<usize>;

    /// As [`Design::max_in_use`].
    fn max_in_use(&self, layout: Layout) -> Option<usize>;

    /// As [`Design::explain_failure`] (under the lock for the locked forms).
    ///
    /// # Errors
    /// What should have served the request.
    fn explain_failure(&self, layout: Layout) -> Result<(), String>;

    /// Whether the `len` bytes at `ptr` lie inside the memory the allocator manages. O(1).
    fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool;

    /// As [`Design::check_consistency`].
    ///
    /// # Errors
    /// A description of the first inconsistency.
    fn check_consistency(&self) -> Result<(), String>;

    /// As [`Design::check_all_free`].
    ///
    /// # Errors
    /// A description of what is still held.
    fn check_all_free(&mut self) -> Result<(), String>;

    /// Gives the allocator `bytes` bytes of fresh memory at run time ([`Design::claim`]);
    /// whether it took them. The memory lives as long as the subject.
    fn claim(&mut self, bytes: usize) -> bool;
}

/// An allocator driven through single calls, the way the harness uses it.
pub trait Subject: Inspect {
    /// Whether [`reallocate`](Self::reallocate) may change the alignment (`GlobalAlloc` may
    /// not; the raw API and `Allocator` may).
    const CHANGES_ALIGNMENT: bool;

    /// Whether zero-size requests reach the allocator (`GlobalAlloc` forbids them: that form
    /// refuses them itself).
    const SERVES_ZERO_SIZE: bool = true;

    /// A block for `layout`, or `None`; never a panic.
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>>;

    /// Frees a block.
    ///
    /// # Errors
    /// The allocator's refusal (the checked form); the other forms report nothing and always
    /// give `Ok`.
    ///
    /// # Safety
    /// `ptr` must be a live block of this allocator allocated with `layout`.
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError>;

    /// Frees `ptr` as a block of `layout` through the checked raw API, whatever `ptr` and
    /// `layout` are; `None` for forms without one (the default).
    ///
    /// # Safety
    /// `ptr` is null, outside the allocator's memory, or inside a live block at least one word
    /// past its start, within the block's first 64 bytes (which the harness always patterns, so
    /// the word before it is initialised).
    unsafe fn checked_free(
        &mut self,
        ptr: *mut u8,
        layout: Layout,
    ) -> Option<Result<(), FreeError>> {
        let _ = (ptr, layout);
        None
    }

    /// Resizes a block to `new` (with the old alignment unless
    /// [`CHANGES_ALIGNMENT`](Self::CHANGES_ALIGNMENT)); `None` leaves it as it was.
    ///
    /// # Safety
    /// `ptr` must be a live block of this allocator allocated with `layout`.
    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new: Layout,
    ) -> Option<NonNull<u8>>;
}
