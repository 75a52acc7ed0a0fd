//! Model-based test of the fixed-size pool: random operation sequences checked against a
//! shadow model after every step.

use core::pin::Pin;
use std::collections::BTreeMap;
use std::vec::Vec;

use proptest::prelude::*;

use super::FixedSizeAllocator;
use crate::FreeError;

/// Block size of the pool under test: not a power of two, so alignment is 4.
const S: usize = 12;
/// Block count of the pool under test.
const N: usize = 16;

/// One step of a random workload.
#[derive(Debug, Clone)]
enum Op {
    /// Take a block.
    Alloc,
    /// Free the live block at this position (modulo the live count).
    Free(usize),
    /// Free a block that is not live (at this index modulo N), expecting `DoubleFree`.
    FreeDead(usize),
    /// Free a pointer this many bytes into a live block (1..S), expecting `UnalignedFree`.
    FreeInterior(usize, usize),
    /// Free everything.
    FreeAll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => Just(Op::Alloc),
        4 => any::<usize>().prop_map(Op::Free),
        1 => any::<usize>().prop_map(Op::FreeDead),
        1 => (any::<usize>(), 1..S).prop_map(|(at, skew)| Op::FreeInterior(at, skew)),
        1 => Just(Op::FreeAll),
    ]
}

/// The byte pattern of the block with this id.
fn pattern(id: u64) -> [u8; S] {
    core::array::from_fn(|i| (id as u8).wrapping_mul(31).wrapping_add(i as u8))
}

/// Every live block: inside the pool's heap, aligned, disjoint, contents intact.
fn check(pool: &FixedSizeAllocator<S, N>, live: &BTreeMap<usize, (u64, *mut u8)>, first: usize) {
    assert_eq!(pool.allocated_blocks(), live.len());
    assert_eq!(pool.free_blocks(), N - live.len());
    assert_eq!(pool.total_allocated(), live.len() * S);
    let mut previous_end = 0;
    for (&address, &(id, ptr)) in live {
        assert_eq!(address % FixedSizeAllocator::<S, N>::BLOCK_ALIGN, 0);
        assert!(address >= first && address + S <= first + S * N);
        assert!(address >= previous_end, "blocks overlap");
        previous_end = address + S;
        // SAFETY: the block is live and was filled with its pattern.
        assert_eq!(unsafe { ptr.cast::<[u8; S]>().read() }, pattern(id));
    }
}

fn run(ops: Vec<Op>) {
    let mut pool: Pin<std::boxed::Box<FixedSizeAllocator<S, N>>> = FixedSizeAllocator::new(false);
    let mut live = BTreeMap::new();
    let mut next_id = 0u64;
    // The lowest address a block can have: learnt from the first allocation of a fresh pool.
    let first = pool.as_mut().alloc_untyped().unwrap();
    pool.as_mut().free_nonnull(first).unwrap();
    let first = first.as_ptr().addr();
    for op in ops {
        match op {
            Op::Alloc => match pool.as_mut().alloc_untyped() {
                Some(block) => {
                    // SAFETY: a fresh block of S bytes.
                    unsafe { block.cast::<[u8; S]>().write(pattern(next_id)) };
                    assert!(
                        live.insert(block.as_ptr().addr(), (next_id, block.as_ptr()))
                            .is_none()
                    );
                    next_id += 1;
                }
                None => assert_eq!(live.len(), N),
            },
            Op::Free(at) if !live.is_empty() => {
                let address = *live.keys().nth(at % live.len()).unwrap();
                let (_, ptr) = live.remove(&address).unwrap();
                assert_eq!(pool.as_mut().free(ptr), Ok(()));
            }
            Op::FreeDead(at) => {
                let address = first + (at % N) * S;
                if !live.contains_key(&address) {
                    // Only compared with the pool's addresses, never read: no provenance needed.
                    let ptr = core::ptr::without_provenance::<u8>(address);
                    assert_eq!(pool.as_mut().free(ptr), Err(FreeError::DoubleFree));
                }
            }
            Op::FreeInterior(at, skew) if !live.is_empty() => {
                let (_, &(_, ptr)) = live.iter().nth(at % live.len()).unwrap();
                assert_eq!(
                    pool.as_mut().free(ptr.wrapping_add(skew)),
                    Err(FreeError::UnalignedFree)
                );
            }
            Op::FreeAll => {
                // SAFETY: the model forgets every block, so none is used afterwards.
                unsafe { pool.as_mut().free_all() };
                live.clear();
            }
            Op::Free(_) | Op::FreeInterior(..) => {}
        }
        check(&pool, &live, first);
    }
}

proptest! {
    #![proptest_config(crate::test_proptest::config(4, 256))]

    #[test]
    fn fixed_pool_matches_the_model(ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 40 } else { 200 })) {
        run(ops);
    }
}
