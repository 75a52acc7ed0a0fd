//! What the harness needs from an allocator: the [`Subject`] trait and common statistics.
//!
//! Every allocator counts different things (chunks, blocks, classes, tagged bytes). An adapter
//! translates its counters into one [`Accounting`] and says what the model should predict for
//! each live block ([`Inspect::held_bytes`]); fields an allocator does not count are `None`
//! and are not checked.
//!
//! ```text
//!   Inspect   accounting, held bytes per layout, bounds, validity, "all free" check
//!     ├── Subject      + allocate / deallocate / reallocate     (the raw forms, the adapters)
//!     └── LockedForm   + the GlobalAlloc + Allocator value      (the spin-locked forms)
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::NonNull;

use bareheap::FreeError;

/// The statistics an allocator reports, in terms the shadow model can predict exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accounting {
    /// Blocks currently allocated.
    pub live_blocks: usize,
    /// Sum of the sizes of the live blocks' layouts, if the allocator counts it.
    pub requested_bytes: Option<usize>,
    /// Sum of [`Inspect::held_bytes`] over the live blocks, if the allocator can predict it.
    pub held_bytes: Option<usize>,
}

/// Read-only knowledge about an allocator under test.
pub trait Inspect {
    /// A short name for messages.
    const NAME: &'static str;

    /// Whether, once everything is freed, a block as large as on a fresh allocator can be had
    /// again (false when the design keeps memory, e.g. the pools' slabs).
    const RETURNS_ALL_MEMORY: bool;

    /// The bytes of memory the allocator manages (an upper bound for any block). O(1).
    fn capacity(&self) -> usize;

    /// Whether the allocator can serve `layout` at all; if not, a request must fail. O(1).
    fn supports(&self, layout: Layout) -> bool;

    /// The allocator's statistics. O(1) (plus a lock for the locked forms).
    fn accounting(&self) -> Accounting;

    /// What one live block of `layout` adds to [`Accounting::held_bytes`]; `None` exactly
    /// when the allocator reports no held bytes. O(1).
    fn held_bytes(&self, layout: Layout) -> Option<usize>;

    /// Whether the `len` bytes at `ptr` lie inside the memory the allocator manages. O(1).
    fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool;

    /// The allocator's own consistency check (a heap walk, counters against the bitmap).
    ///
    /// # Errors
    /// A description of the first inconsistency.
    fn check_consistency(&self) -> Result<(), String>;

    /// With no block live: checks that everything is free again (nothing leaked).
    ///
    /// # Errors
    /// A description of what is still held.
    fn check_all_free(&self) -> Result<(), String>;
}

/// An allocator driven through single calls, the way the harness uses it.
pub trait Subject: Inspect {
    /// A block for `layout`, or `None`; never a panic.
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>>;

    /// Frees a block.
    ///
    /// # Errors
    /// The allocator's refusal (raw forms); the locked forms' `dealloc` reports nothing and
    /// always gives `Ok`.
    ///
    /// # Safety
    /// `ptr` must be a live block of this allocator allocated with `layout`.
    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError>;

    /// Resizes a block to `new_size` bytes with the same alignment; `None` leaves it as it was.
    ///
    /// # Safety
    /// `ptr` must be a live block of this allocator allocated with `layout`.
    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>>;
}

/// A raw form's free that takes any pointer and reports why it refuses one: the bad-input
/// catalogue drives it with null, foreign, interior, misaligned and freed pointers.
pub trait CheckedFree: Subject {
    /// Frees `ptr` as a block of `layout`, whatever `ptr` is.
    ///
    /// # Errors
    /// The allocator's refusal; a refused free must change nothing.
    ///
    /// # Safety
    /// `ptr` is null, outside the allocator's memory, or at least one word past its start (the
    /// free list reads the word before a pointer inside its memory); for the pools, `layout`
    /// fits a size class (larger layouts go unchecked to the fallback).
    unsafe fn checked_free(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError>;
}

/// A spin-locked allocator, owned together with its memory, used through its `GlobalAlloc`
/// and `Allocator` implementations.
pub trait LockedForm: Inspect + Sync {
    /// The locked allocator type.
    type Allocator: GlobalAlloc + Sync;

    /// The locked allocator, to call or to share between threads. O(1).
    fn allocator(&self) -> &Self::Allocator;
}
