//! The free-list allocator under test: [`RawFreeList`] ([`FreeListAllocator`]) and
//! [`LockedFreeList`] ([`LockedFreeListAllocator`]), growing from a [`StaticGrower`] over an
//! arena (Miri cannot run `mmap`). The first growth takes the whole arena as one region, which
//! is retained when empty, so after freeing everything the largest block of a fresh heap fits
//! again, and the region is one free block (everything merged).
//!
//! The allocator counts requested bytes exactly; its in-use bytes depend on splitting
//! decisions, so the model does not predict them ([`Inspect::held_bytes`] is `None`).

use std::alloc::Layout;
use std::ptr::NonNull;

use bareheap::free_list::Stats;
use bareheap::{FreeError, FreeListAllocator, LockedFreeListAllocator, StaticGrower};

use crate::{Accounting, Arena, CheckedFree, Inspect, LockedForm, Subject};

/// The heap type under test.
type Heap = FreeListAllocator<StaticGrower<'static>>;

/// An arena of `bytes` and a grower over all of it.
fn grower(bytes: usize) -> (StaticGrower<'static>, Arena) {
    let memory = Arena::new(bytes, StaticGrower::ALIGN);
    // SAFETY: the adapter keeps the allocator (and so the grower) in a field declared before
    // the arena, so the borrow ends before the arena is freed; nothing else uses the arena.
    let grower = StaticGrower::new(unsafe { memory.as_static_slice() });
    (grower, memory)
}

fn accounting(stats: Stats) -> Accounting {
    Accounting {
        live_blocks: stats.allocated_blocks,
        requested_bytes: Some(stats.requested_bytes),
        held_bytes: None,
    }
}

fn consistency(heap: &Heap) -> Result<(), String> {
    heap.validate().map_err(|corruption| corruption.to_string())
}

/// No block allocated, and each region merged back into one free block.
fn all_free(heap: &Heap) -> Result<(), String> {
    let stats = heap.stats();
    if stats.allocated_blocks != 0 || stats.in_use_bytes != 0 || stats.free_blocks != stats.regions
    {
        return Err(format!("heap not entirely free and merged: {stats:?}"));
    }
    Ok(())
}

/// The raw free-list heap over an arena.
pub struct RawFreeList {
    heap: Heap,
    memory: Arena,
}

impl RawFreeList {
    /// A heap that may grow to `bytes` bytes of arena. O(bytes) for the arena.
    #[must_use]
    pub fn new(bytes: usize) -> Self {
        let (grower, memory) = grower(bytes);
        Self {
            heap: FreeListAllocator::new(grower),
            memory,
        }
    }

    /// The heap itself, for calls outside the [`Subject`] interface. O(1).
    pub fn raw(&mut self) -> &mut Heap {
        &mut self.heap
    }
}

impl Inspect for RawFreeList {
    const NAME: &'static str = "free list (raw)";
    const RETURNS_ALL_MEMORY: bool = true;

    fn capacity(&self) -> usize {
        self.memory.len()
    }

    fn supports(&self, layout: Layout) -> bool {
        layout.size() <= self.capacity()
    }

    fn accounting(&self) -> Accounting {
        accounting(self.heap.stats())
    }

    fn held_bytes(&self, _layout: Layout) -> Option<usize> {
        None
    }

    fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
        self.memory.holds(ptr, len)
    }

    fn check_consistency(&self) -> Result<(), String> {
        consistency(&self.heap)
    }

    fn check_all_free(&self) -> Result<(), String> {
        all_free(&self.heap)
    }
}

impl Subject for RawFreeList {
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.heap.allocate(layout)
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the caller passes a live block of this heap with its layout.
        unsafe { self.heap.deallocate(ptr.as_ptr(), layout) }
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        // SAFETY: the caller passes a live block of this heap with its layout.
        unsafe { self.heap.reallocate(ptr.as_ptr(), layout, new_size) }.ok()
    }
}

impl CheckedFree for RawFreeList {
    unsafe fn checked_free(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the arena was zeroed and only ever written with initialised bytes, so the
        // word before any pointer at least one word into it (the caller's promise) is
        // initialised memory; pointers outside the arena are outside every region.
        unsafe { self.heap.deallocate(ptr, layout) }
    }
}

/// The locked free-list heap over an arena.
pub struct LockedFreeList {
    heap: LockedFreeListAllocator<StaticGrower<'static>>,
    memory: Arena,
}

impl LockedFreeList {
    /// A locked heap that may grow to `bytes` bytes of arena. O(bytes) for the arena.
    #[must_use]
    pub fn new(bytes: usize) -> Self {
        let (grower, memory) = grower(bytes);
        Self {
            heap: LockedFreeListAllocator::new(grower),
            memory,
        }
    }
}

impl Inspect for LockedFreeList {
    const NAME: &'static str = "free list (locked)";
    const RETURNS_ALL_MEMORY: bool = true;

    fn capacity(&self) -> usize {
        self.memory.len()
    }

    fn supports(&self, layout: Layout) -> bool {
        layout.size() <= self.capacity()
    }

    fn accounting(&self) -> Accounting {
        accounting(self.heap.lock().stats())
    }

    fn held_bytes(&self, _layout: Layout) -> Option<usize> {
        None
    }

    fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
        self.memory.holds(ptr, len)
    }

    fn check_consistency(&self) -> Result<(), String> {
        consistency(&self.heap.lock())
    }

    fn check_all_free(&self) -> Result<(), String> {
        all_free(&self.heap.lock())
    }
}

impl LockedForm for LockedFreeList {
    type Allocator = LockedFreeListAllocator<StaticGrower<'static>>;

    fn allocator(&self) -> &Self::Allocator {
        &self.heap
    }
}
