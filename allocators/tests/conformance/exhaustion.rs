//! Exhaustion: allocate one layout until the allocator says no (a `None` / null, never a
//! panic), free every other block, and allocate again: at least as many blocks as were freed
//! must fit, and the model holds throughout.

use std::alloc::Layout;

use bareheap_conformance::{
    FIXED_BLOCK, Harness, LockedChunk, LockedFixed, LockedFreeList, LockedPools, Op, RawChunk,
    RawFixed, RawFreeList, RawPools, Subject, ViaAllocatorApi, ViaGlobalAlloc,
};

use crate::sizes::{CHUNKS, FREE_LIST, POOLS_FALLBACK};

/// A size of the largest pool class, so the pools' fallback fills with a few hundred blocks.
const SIZE: usize = 2000;

/// Allocates `layout` until refused; returns how many fitted.
fn fill<S: Subject>(harness: &mut Harness<S>, layout: Layout) -> usize {
    let mut count = 0;
    while harness.allocate(layout) {
        count += 1;
    }
    harness.check();
    count
}

fn exhaust<S: Subject>(subject: S, layout: Layout) {
    let mut harness = Harness::new(subject);
    let first = fill(&mut harness, layout);
    assert!(first >= 2, "only {first} blocks of {layout:?} fit");
    let freed = first / 2;
    for index in 0..freed {
        // Live blocks are picked in address order; after each free, the next one to free
        // (every other of the original blocks) moved down by one.
        harness.apply(Op::Free { pick: index });
    }
    harness.check();
    let again = fill(&mut harness, layout);
    assert!(
        again >= freed,
        "freed {freed} blocks of {layout:?}, only {again} fit again"
    );
    harness.finish();
}

fn layout(size: usize) -> Layout {
    Layout::from_size_align(size, 16).expect("a valid layout")
}

#[test]
fn chunk() {
    exhaust(RawChunk::new(CHUNKS), layout(SIZE));
    exhaust(ViaGlobalAlloc(LockedChunk::new(CHUNKS)), layout(SIZE));
    exhaust(ViaAllocatorApi(LockedChunk::new(CHUNKS)), layout(SIZE));
}

#[test]
fn fixed() {
    exhaust(RawFixed::new(), layout(FIXED_BLOCK));
    exhaust(ViaGlobalAlloc(LockedFixed::new()), layout(FIXED_BLOCK));
    exhaust(ViaAllocatorApi(LockedFixed::new()), layout(FIXED_BLOCK));
}

#[test]
fn pools() {
    exhaust(RawPools::new(POOLS_FALLBACK), layout(SIZE));
    exhaust(
        ViaGlobalAlloc(LockedPools::new(POOLS_FALLBACK)),
        layout(SIZE),
    );
    exhaust(
        ViaAllocatorApi(LockedPools::new(POOLS_FALLBACK)),
        layout(SIZE),
    );
}

#[test]
fn free_list() {
    exhaust(RawFreeList::new(FREE_LIST), layout(SIZE));
    exhaust(ViaGlobalAlloc(LockedFreeList::new(FREE_LIST)), layout(SIZE));
    exhaust(
        ViaAllocatorApi(LockedFreeList::new(FREE_LIST)),
        layout(SIZE),
    );
}
