//! The model test: random operation sequences on every subject, checked against the shadow
//! model after each step, then everything freed and checked for leaks.

use bareheap_conformance::{
    Harness, LockedChunk, LockedFixed, LockedFreeList, LockedPools, Op, RawChunk, RawFixed,
    RawFreeList, RawPools, Subject, ViaAllocatorApi, ViaGlobalAlloc,
};
use proptest::prelude::*;

use crate::sizes::{CHUNKS, FREE_LIST, POOLS_FALLBACK};

/// The largest size asked for: beyond the chunk heap, so some requests must fail.
const LARGE: usize = if cfg!(miri) { 6 * 1024 } else { 24 * 1024 };
/// Operations per sequence.
const MAX_OPS: usize = if cfg!(miri) { 12 } else { 64 };

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { 2 } else { 64 },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Sizes from 0, mostly small, sometimes up to [`LARGE`].
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..=64usize, 3 => 0..=1024usize, 1 => 0..=LARGE]
}

/// Alignments from 1 to 4096.
fn align() -> impl Strategy<Value = usize> {
    (0u32..=12).prop_map(|exponent| 1 << exponent)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (size(), align()).prop_map(|(size, align)| Op::Allocate { size, align }),
        2 => any::<usize>().prop_map(|pick| Op::Free { pick }),
        1 => (any::<usize>(), size()).prop_map(|(pick, new_size)| Op::Reallocate { pick, new_size }),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=MAX_OPS)
}

/// Runs `ops` on a fresh subject, then frees everything and checks for leaks.
fn run<S: Subject>(subject: S, ops: &[Op]) {
    let mut harness = Harness::new(subject);
    harness.run(ops);
    harness.finish();
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn chunk_raw(ops in ops()) { run(RawChunk::new(CHUNKS), &ops); }

    #[test]
    fn chunk_global_alloc(ops in ops()) { run(ViaGlobalAlloc(LockedChunk::new(CHUNKS)), &ops); }

    #[test]
    fn chunk_allocator_api(ops in ops()) { run(ViaAllocatorApi(LockedChunk::new(CHUNKS)), &ops); }

    #[test]
    fn fixed_raw(ops in ops()) { run(RawFixed::new(), &ops); }

    #[test]
    fn fixed_global_alloc(ops in ops()) { run(ViaGlobalAlloc(LockedFixed::new()), &ops); }

    #[test]
    fn fixed_allocator_api(ops in ops()) { run(ViaAllocatorApi(LockedFixed::new()), &ops); }

    #[test]
    fn pools_raw(ops in ops()) { run(RawPools::new(POOLS_FALLBACK), &ops); }

    #[test]
    fn pools_global_alloc(ops in ops()) {
        run(ViaGlobalAlloc(LockedPools::new(POOLS_FALLBACK)), &ops);
    }

    #[test]
    fn pools_allocator_api(ops in ops()) {
        run(ViaAllocatorApi(LockedPools::new(POOLS_FALLBACK)), &ops);
    }

    #[test]
    fn free_list_raw(ops in ops()) { run(RawFreeList::new(FREE_LIST), &ops); }

    #[test]
    fn free_list_global_alloc(ops in ops()) {
        run(ViaGlobalAlloc(LockedFreeList::new(FREE_LIST)), &ops);
    }

    #[test]
    fn free_list_allocator_api(ops in ops()) {
        run(ViaAllocatorApi(LockedFreeList::new(FREE_LIST)), &ops);
    }
}
