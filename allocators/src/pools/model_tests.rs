//! Model-based test of the size-class pools over the ledger fallback: random allocations,
//! frees and reallocations, checked against a shadow model after every step.

use core::alloc::Layout;
use core::ptr::NonNull;
use std::collections::BTreeMap;
use std::vec::Vec;

use proptest::prelude::*;

use super::class::CLASS_COUNT;
use super::magazine::MAGAZINE_BLOCKS;
use super::slab::Geometry;
use super::test_fallback::Ledger;
use super::{MIN_SLAB_SIZE, Policy, SLAB_SIZE, SizeClassPools};
use crate::test_checked::CheckedCalls;
use crate::test_pattern::pattern_offsets;
use crate::{FreeError, RawAllocator};

/// One step of a random workload.
#[derive(Debug, Clone)]
enum Op {
    /// Allocate this size with alignment `1 << shift`.
    Alloc(usize, u32),
    /// Free the live block at this position (modulo the live count).
    Free(usize),
    /// Resize the live block at this position to this size, same alignment.
    Realloc(usize, usize),
    /// Free the live block at this position a second time after freeing it.
    DoubleFree(usize),
    /// Give every magazine block and empty slab back.
    Trim,
}

/// Sizes that cover every class, the class boundaries and the fallback.
fn size() -> impl Strategy<Value = usize> {
    prop_oneof![4 => 0..130usize, 2 => 130..2100usize, 1 => 2100..6000usize]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (size(), prop_oneof![4 => 0..5u32, 1 => 5..13u32]).prop_map(|(size, shift)| Op::Alloc(size, shift)),
        3 => any::<usize>().prop_map(Op::Free),
        2 => (any::<usize>(), size()).prop_map(|(at, size)| Op::Realloc(at, size)),
        1 => any::<usize>().prop_map(Op::DoubleFree),
        1 => Just(Op::Trim),
    ]
}

/// A live block of the model.
struct Live {
    ptr: NonNull<u8>,
    layout: Layout,
    id: u64,
    /// The length the pools returned with the block: a layout fits it up to this size.
    len: usize,
}

/// The byte at `offset` of the block with this id.
fn pattern(id: u64, offset: usize) -> u8 {
    (id as u8).wrapping_mul(13) ^ (offset as u8)
}

fn fill(block: &Live) {
    let size = block.layout.size();
    for offset in pattern_offsets(size, size) {
        // SAFETY: the block is live and `layout.size()` bytes long.
        unsafe {
            block
                .ptr
                .as_ptr()
                .add(offset)
                .write(pattern(block.id, offset))
        };
    }
}

/// Whether the first `len` bytes of `block`, filled for a `filled`-byte layout, still hold
/// the pattern (see [`pattern_offsets`] for which bytes carry it).
fn intact(block: &Live, filled: usize, len: usize) -> bool {
    pattern_offsets(filled, len).all(|offset| {
        // SAFETY: the block is live, at least `len` bytes long, and was filled.
        unsafe { block.ptr.as_ptr().add(offset).read() == pattern(block.id, offset) }
    })
}

/// Every live block: inside fallback memory, aligned, disjoint, intact; every slab's bitmap
/// agrees with its counts; counters exact; no class keeps more empty slabs than the policy
/// allows, and the fallback holds exactly the slabs, the fallback blocks and the slab table.
fn check(pools: &SizeClassPools<&Ledger>, live: &BTreeMap<usize, Live>) {
    let mut in_use = [0; CLASS_COUNT];
    let mut fallback_blocks = 0;
    let mut previous_end = 0;
    for (&address, block) in live {
        let span = pools.usable_size(block.layout).max(1);
        assert_eq!(address % block.layout.align(), 0, "misaligned");
        assert!(address >= previous_end, "blocks overlap");
        assert!(pools.fallback().covers(address, span), "outside the heap");
        let size = block.layout.size();
        assert!(intact(block, size, size), "contents lost");
        previous_end = address + span;
        match pools.slab_class(block.layout) {
            Some(class) => in_use[class] += 1,
            None => fallback_blocks += 1,
        }
    }
    pools.check_slabs().unwrap();
    let stats = pools.stats();
    let kept = pools.policy().kept_empty_slabs;
    for (class, count) in in_use.into_iter().enumerate() {
        let class = stats.classes[class];
        assert_eq!(class.blocks_in_use, count);
        assert!(class.blocks_in_magazine <= class.blocks_free);
        assert!(
            class.blocks_in_magazine.saturating_sub(MAGAZINE_BLOCKS) == 0,
            "{class:?}"
        );
        assert!(class.empty_slabs <= kept.min(class.slabs), "{class:?}");
    }
    assert_eq!(stats.fallback_blocks, fallback_blocks);
    let slab_total: usize = stats.classes.iter().map(|class| class.slabs).sum();
    let table = usize::from(stats.slab_table_bytes > 0);
    assert!(
        slab_total == 0 || table == 1,
        "a table once there are slabs"
    );
    assert!(
        stats.slab_table_bytes >= 2 * slab_total * size_of::<usize>(),
        "at most half full"
    );
    assert_eq!(
        pools.fallback().live_count(),
        slab_total + fallback_blocks + table
    );
}

/// A layout that fits the block, as the allocator traits allow a free or resize to pass: for a
/// pool block, a size from the requested one to the length the pools returned (picked by the
/// block's id), the same alignment; for a fallback block, the requested layout (the ledger
/// wants it).
fn fitting(pools: &SizeClassPools<&Ledger>, block: &Live) -> Layout {
    let layout = block.layout;
    if pools.slab_class(layout).is_none() {
        return layout;
    }
    let room = block.len - layout.size();
    // Halved, so that checked (even ids) and trusted frees (odd ids) both meet every extra.
    let extra = usize::try_from(block.id / 2).unwrap() % (room + 1);
    Layout::from_size_align(layout.size() + extra, layout.align()).unwrap()
}

/// The pointer a free or resize of `block` with `layout` passes: for a pool block, re-borrowed
/// for `layout`'s bytes alone, as `Box` and `&mut` give it, since the pools must use it only as
/// an address; for a fallback block the pointer the pools returned, since the ledger frees it
/// through `System`, which needs the whole allocation's.
fn as_passed(pools: &SizeClassPools<&Ledger>, block: &Live, layout: Layout) -> NonNull<u8> {
    if pools.slab_class(block.layout).is_none() {
        return block.ptr;
    }
    // SAFETY: the block is live, at least `layout.size()` bytes long (at most what the pools
    // returned with it), and nothing else uses it now.
    let bytes = unsafe { core::slice::from_raw_parts_mut(block.ptr.as_ptr(), layout.size()) };
    NonNull::from(bytes).cast()
}

fn run(ops: Vec<Op>, kept_empty_slabs: usize, slab_size: usize) {
    let ledger = Ledger::new();
    let policy = Policy {
        kept_empty_slabs,
        slab_size,
    };
    let mut pools = SizeClassPools::with_policy(&ledger, policy);
    let mut live = BTreeMap::new();
    let mut next_id = 0;
    for op in ops {
        match op {
            Op::Alloc(size, shift) => {
                let layout = Layout::from_size_align(size, 1 << shift).unwrap();
                let block = pools.allocate(layout).unwrap();
                let ptr = block.cast::<u8>();
                let block = Live {
                    ptr,
                    layout,
                    id: next_id,
                    len: block.len(),
                };
                next_id += 1;
                fill(&block);
                assert!(live.insert(ptr.as_ptr().addr(), block).is_none());
            }
            Op::Free(at) | Op::DoubleFree(at) if !live.is_empty() => {
                let address = *live.keys().nth(at % live.len()).unwrap();
                let block = live.remove(&address).unwrap();
                let layout = fitting(&pools, &block);
                if block.id % 2 == 0 {
                    pools.free_checked(block.ptr.as_ptr(), layout).unwrap();
                } else {
                    let ptr = as_passed(&pools, &block, layout);
                    // SAFETY: a live block with a layout that fits it.
                    unsafe { pools.deallocate_trusted(ptr, layout) };
                }
                if matches!(op, Op::DoubleFree(_)) && pools.slab_class(block.layout).is_some() {
                    // The block's slab may have gone back to the fallback with it.
                    let again = pools.free_checked(block.ptr.as_ptr(), block.layout);
                    assert!(matches!(
                        again,
                        Err(FreeError::DoubleFree | FreeError::FreeOutOfBounds)
                    ));
                }
            }
            Op::Realloc(at, size) if !live.is_empty() => {
                let address = *live.keys().nth(at % live.len()).unwrap();
                let block = live.remove(&address).unwrap();
                let layout = Layout::from_size_align(size, block.layout.align()).unwrap();
                // The resized block must be usable whole through the returned pointer, even
                // from a narrowed one.
                let old_layout = fitting(&pools, &block);
                let old = as_passed(&pools, &block, old_layout);
                // SAFETY: a live block with a layout that fits it.
                let ptr = unsafe { pools.resize_trusted(old, old_layout, layout) }.unwrap();
                let (ptr, len) = (ptr.cast::<u8>(), ptr.len());
                if pools.slab_class(block.layout).is_some()
                    && pools.slab_class(block.layout) == pools.slab_class(layout)
                {
                    assert_eq!(ptr, block.ptr, "same class must stay in place");
                }
                let moved = Live {
                    ptr,
                    layout,
                    id: block.id,
                    len,
                };
                assert!(
                    intact(&moved, block.layout.size(), block.layout.size().min(size)),
                    "realloc lost contents"
                );
                fill(&moved);
                assert!(live.insert(ptr.as_ptr().addr(), moved).is_none());
            }
            Op::Trim => {
                let released_before = pools.stats().slabs_released;
                let trimmed = pools.trim();
                let stats = pools.stats();
                assert_eq!(trimmed, stats.slabs_released > released_before);
                for class in stats.classes {
                    assert_eq!((class.blocks_in_magazine, class.empty_slabs), (0, 0));
                }
            }
            Op::Free(_) | Op::DoubleFree(_) | Op::Realloc(..) => {}
        }
        check(&pools, &live);
    }
    for block in live.into_values() {
        pools
            .free_checked(block.ptr.as_ptr(), block.layout)
            .unwrap();
    }
    let stats = pools.stats();
    assert!(stats.classes.iter().all(|class| class.blocks_in_use == 0));
    assert!(stats.classes.iter().all(|class| {
        class.blocks_in_magazine.saturating_sub(MAGAZINE_BLOCKS) == 0
            && class.empty_slabs <= kept_empty_slabs
            && class.blocks_free == class.slabs * blocks_per_slab(&pools, class.block_size)
    }));
    // Nothing live: a trim leaves the fallback only the slab table.
    pools.trim();
    assert_eq!(pools.stats().slabs, 0);
    assert_eq!(
        pools.fallback().live_count(),
        usize::from(pools.stats().slab_table_bytes > 0)
    );
}

/// How many blocks of `block_size` one slab of the pools holds.
fn blocks_per_slab(pools: &SizeClassPools<&Ledger>, block_size: usize) -> usize {
    Geometry::new(pools.slab_size()).blocks(block_size.trailing_zeros() as usize - 4)
}

proptest! {
    #![proptest_config(crate::test_proptest::config(4, 256))]

    #[test]
    fn pools_match_the_model(
        ops in proptest::collection::vec(op(), 1..if cfg!(miri) { 30 } else { 150 }),
        kept_empty_slabs in 0..3usize,
        slab_shift in MIN_SLAB_SIZE.trailing_zeros()..=SLAB_SIZE.trailing_zeros(),
    ) {
        run(ops, kept_empty_slabs, 1 << slab_shift);
    }
}
