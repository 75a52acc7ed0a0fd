//! The model test: random operation sequences on every design in every form, checked against
//! the shadow model after each step, then everything freed and checked for leaks.

use bareheap_conformance::{
    Checked, Chunk, DefaultHeap, Fixed, FreeList, Harness, Op, Pools, Subject, Trusted,
    ViaAllocatorApi, ViaGlobalAlloc,
};
use proptest::prelude::*;

use crate::sizes::Sized;

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

/// Alignments from 1 to 4096, mostly small.
fn align() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0u32..=4, 1 => 5u32..=12].prop_map(|exponent| 1 << exponent)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (size(), align()).prop_map(|(size, align)| Op::Allocate { size, align }),
        4 => any::<usize>().prop_map(|pick| Op::Free { pick }),
        2 => (any::<usize>(), size(), align()).prop_map(|(pick, new_size, new_align)| {
            Op::Reallocate { pick, new_size, new_align }
        }),
        1 => (any::<usize>(), size(), align()).prop_map(|(pick, size, align)| {
            Op::FreeWith { pick, size, align }
        }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(pick, offset)| {
            Op::FreeInterior { pick, offset }
        }),
        1 => (0..=4 * LARGE).prop_map(|size| Op::Claim { size }),
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

/// The four forms of one design, as one test module.
macro_rules! forms {
    ($module:ident, $design:ty) => {
        mod $module {
            use super::*;

            proptest! {
                #![proptest_config(config())]

                #[test]
                fn checked(ops in ops()) { run(Checked::<$design>::new(<$design>::BYTES), &ops); }

                #[test]
                fn trusted(ops in ops()) { run(Trusted::<$design>::new(<$design>::BYTES), &ops); }

                #[test]
                fn global_alloc(ops in ops()) {
                    run(ViaGlobalAlloc::<$design>::new(<$design>::BYTES), &ops);
                }

                #[test]
                fn allocator_api(ops in ops()) {
                    run(ViaAllocatorApi::<$design>::new(<$design>::BYTES), &ops);
                }
            }
        }
    };
}

forms!(chunk, Chunk);
forms!(fixed, Fixed);
forms!(pools, Pools);
forms!(free_list, FreeList);
forms!(heap, DefaultHeap);

/// Found by `make fuzz`: a region claimed at run time serves a block larger than the memory
/// the allocator was built over, and the model must count the claim as memory it manages.
#[test]
fn a_claimed_region_serves_a_block_larger_than_the_built_memory() {
    fn claim_then_allocate<S: Subject>(subject: S, built: usize) {
        let mut harness = Harness::new(subject);
        assert!(harness.apply(Op::Claim { size: 4 * built }));
        assert!(harness.apply(Op::Allocate {
            size: 2 * built,
            align: 16
        }));
        harness.check();
        harness.finish();
    }
    let built = 64 * 1024;
    claim_then_allocate(Checked::<FreeList>::new(built), built);
    claim_then_allocate(Checked::<DefaultHeap>::new(built), built);
}
