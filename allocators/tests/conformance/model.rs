//! The model test: random operation sequences on every design in every form, checked against
//! the shadow model after each step, then everything freed and checked for leaks.

#[cfg(all(target_os = "linux", not(miri)))]
use bareheap_conformance::FreeListMmap;
#[cfg(target_arch = "wasm32")]
use bareheap_conformance::FreeListWasm;
use bareheap_conformance::{
    Checked, Chunk, DefaultHeap, Fixed, FreeList, Harness, Op, Pools, Subject, Trusted,
    ViaAllocatorApi, ViaGlobalAlloc,
};
use proptest::prelude::*;

use crate::sizes::Sized;

/// The largest size usually asked for: beyond the chunk heap, so some requests must fail.
const LARGE: usize = if cfg!(miri) { 6 * 1024 } else { 24 * 1024 };
/// The largest size ever asked for: beyond every heap under test (up to twice its usual size),
/// so requests from one byte to more than the heap are all tried.
const HUGE: usize = if cfg!(miri) { 700 * 1024 } else { 2 << 20 };
/// Operations per sequence.
const MAX_OPS: usize = if cfg!(miri) { 12 } else { 64 };

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases: if cfg!(miri) { 2 } else { cases },
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Sizes from 0, mostly small, sometimes up to [`LARGE`], rarely up to [`HUGE`].
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        8 => 0..=64usize,
        6 => 0..=1024usize,
        2 => 0..=LARGE,
        1 => LARGE..=HUGE
    ]
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

/// Operation sequences; one in three starts with a large request (a firmware or a kernel that
/// allocates its big buffer first), the order in which a static heap once stopped serving.
fn ops() -> impl Strategy<Value = Vec<Op>> {
    let any = prop::collection::vec(op(), 1..=MAX_OPS);
    let large_first = (
        LARGE..=HUGE,
        align(),
        prop::collection::vec(op(), 1..=MAX_OPS),
    )
        .prop_map(|(size, align, mut rest)| {
            rest.insert(0, Op::Allocate { size, align });
            rest
        });
    prop_oneof![2 => any, 1 => large_first]
}

/// The heap size of a case: from a quarter of the design's usual size to twice it, so static
/// buffers of many sizes are tried.
fn bytes<D: Sized>() -> impl Strategy<Value = usize> {
    D::BYTES / 4..=D::BYTES * 2
}

/// Runs `ops` on a fresh subject, then frees everything and checks for leaks. Every failed
/// request is checked against the allocator's guarantee (the harness asks the design whether
/// memory that should have served it existed), and the bytes live blocks take against the
/// most the docs allow them.
fn run<S: Subject>(subject: S, ops: &[Op]) {
    let mut harness = Harness::new(subject);
    harness.run(ops);
    harness.finish();
}

/// The four forms of one design, as one test module.
macro_rules! forms {
    ($module:ident, $design:ty) => {
        forms!($module, $design, 64);
    };
    ($module:ident, $design:ty, $cases:expr) => {
        mod $module {
            use super::*;

            proptest! {
                #![proptest_config(config($cases))]

                #[test]
                fn checked(bytes in bytes::<$design>(), ops in ops()) {
                    run(Checked::<$design>::new(bytes), &ops);
                }

                #[test]
                fn trusted(bytes in bytes::<$design>(), ops in ops()) {
                    run(Trusted::<$design>::new(bytes), &ops);
                }

                #[test]
                fn global_alloc(bytes in bytes::<$design>(), ops in ops()) {
                    run(ViaGlobalAlloc::<$design>::new(bytes), &ops);
                }

                #[test]
                fn allocator_api(bytes in bytes::<$design>(), ops in ops()) {
                    run(ViaAllocatorApi::<$design>::new(bytes), &ops);
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
#[cfg(all(target_os = "linux", not(miri)))]
forms!(free_list_mmap, FreeListMmap);
// Few cases: every case grows the module's memory for good (WebAssembly gives no page back),
// and Node.js stops with a crash when a module has grown by gigabytes.
#[cfg(target_arch = "wasm32")]
forms!(free_list_wasm, FreeListWasm, 6);

/// Issue 19, case 5: a static heap whose first request was large (a dedicated region took the
/// whole buffer, so the block held all of it) refused the next small request with most of
/// the buffer unused. The model catches the class: a block may take no more than its
/// documented maximum, and a refused request must have had nothing to fit in.
#[test]
fn a_large_first_request_leaves_the_rest_of_a_static_heap_usable() {
    fn large_then_small<S: Subject>(subject: S, large: usize) {
        let mut harness = Harness::new(subject);
        assert!(harness.apply(Op::Allocate {
            size: large,
            align: 8
        }));
        harness.check();
        assert!(harness.apply(Op::Allocate { size: 8, align: 8 }));
        harness.check();
        harness.finish();
    }
    let (bytes, large) = if cfg!(miri) {
        (512 << 10, 150 << 10)
    } else {
        (1 << 20, 300 << 10)
    };
    large_then_small(Checked::<FreeList>::new(bytes), large);
    large_then_small(ViaGlobalAlloc::<FreeList>::new(bytes), large);
    large_then_small(ViaGlobalAlloc::<DefaultHeap>::new(bytes), large);
}

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
