//! Exhaustion: allocate one layout until the allocator says no (a `None` / null, never a
//! panic), free every other block, and allocate again: at least as many blocks as were freed
//! must fit, and the model holds throughout.

use std::alloc::Layout;

use bareheap_conformance::{
    Checked, Chunk, DefaultHeap, FIXED_BLOCK, Fixed, FreeList, Harness, Op, Pools, Subject,
    Trusted, ViaAllocatorApi, ViaGlobalAlloc,
};

use crate::sizes::Sized;

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

fn exhaust<S: Subject>(subject: S, size: usize) {
    let layout = Layout::from_size_align(size, 16).expect("a valid layout");
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

/// Every form of one design (under Miri, with a sixth of the usual memory, but room for 16
/// blocks at least: each model check after a free costs thousands of interpreted steps per
/// block).
fn exhaust_forms<D: Sized>(size: usize) {
    let bytes = if cfg!(miri) {
        (D::BYTES / 6).max(16 * size).min(D::BYTES)
    } else {
        D::BYTES
    };
    exhaust(Checked::<D>::new(bytes), size);
    exhaust(Trusted::<D>::new(bytes), size);
    exhaust(ViaGlobalAlloc::<D>::new(bytes), size);
    exhaust(ViaAllocatorApi::<D>::new(bytes), size);
}

#[test]
fn chunk() {
    exhaust_forms::<Chunk>(SIZE);
}

#[test]
fn fixed() {
    exhaust_forms::<Fixed>(FIXED_BLOCK);
}

#[test]
fn pools() {
    exhaust_forms::<Pools>(SIZE);
}

#[test]
fn free_list() {
    exhaust_forms::<FreeList>(SIZE);
}

#[test]
fn heap() {
    exhaust_forms::<DefaultHeap>(SIZE);
}
