//! Behaviour of the size-class pools through their public API.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::Ordering;
use std::boxed::Box;

use allocator_api2::vec::Vec as ApiVec;

use super::slab::Geometry;

/// How many blocks of `size` bytes a default slab holds.
fn blocks_per_slab(size: usize) -> usize {
    Geometry::DEFAULT.blocks(size.trailing_zeros() as usize - 4)
}
use super::magazine::MAGAZINE_BLOCKS;
use super::test_fallback::Ledger;
use super::{LockedSizeClassPools, Policy, SLAB_SIZE, SLAB_TAIL, SizeClassPools};
use crate::test_checked::CheckedCalls;
use crate::{
    FreeError, FreeListAllocator, Locked, OutOfMemory, RawAllocator, ResizeError, StaticGrower,
};

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// The start of a block.
fn start(block: NonNull<[u8]>) -> *mut u8 {
    block.cast::<u8>().as_ptr()
}

#[test]
fn small_layouts_use_their_class_and_large_ones_the_fallback() {
    let ledger = Ledger::new();
    let mut pools = SizeClassPools::new(&ledger);
    let cases = [
        (layout(0, 1), Some(0)),
        (layout(1, 1), Some(0)),
        (layout(24, 8), Some(1)),
        (layout(8, 256), Some(4)),
        (layout(2048, 16), Some(7)),
        (layout(2049, 8), None),
        (layout(0, 4096), None),
        (layout(16, 8192), None),
    ];
    let mut blocks = std::vec::Vec::new();
    for (layout, class) in cases {
        let block = pools.allocate(layout).unwrap();
        assert_eq!(start(block).addr() % layout.align(), 0);
        let stats = pools.stats();
        match class {
            Some(class) => {
                assert!(stats.classes[class].blocks_in_use >= 1);
                assert_eq!(block.len(), 16 << class, "the whole class block");
            }
            None => assert!(stats.fallback_blocks >= 1),
        }
        blocks.push((block, layout));
    }
    let stats = pools.stats();
    assert_eq!(stats.fallback_blocks, 3);
    assert_eq!(stats.classes[0].blocks_in_use, 2);
    assert_eq!(stats.slabs, 4);
    assert_eq!(stats.slab_bytes, 4 * (SLAB_SIZE - SLAB_TAIL));
    for (block, layout) in blocks {
        pools.free_checked(start(block), layout).unwrap();
    }
    let stats = pools.stats();
    assert_eq!(stats.fallback_blocks, 0);
    assert!(stats.classes.iter().all(|class| class.blocks_in_use == 0));
}

#[test]
fn every_free_error_is_reported_and_changes_nothing() {
    let ledger = Ledger::new();
    let mut pools = SizeClassPools::new(&ledger);
    let small = layout(32, 8);
    let block = start(pools.allocate(small).unwrap());
    let other_class = start(pools.allocate(layout(64, 8)).unwrap());
    let large = start(pools.allocate(layout(4000, 8)).unwrap());
    let foreign = 0u64;
    let header = block.map_addr(|address| address & !(SLAB_SIZE - 1));
    let before = pools.stats();
    let refused = [
        (core::ptr::null_mut(), small, FreeError::NullPtrFree),
        (
            (&raw const foreign).cast_mut().cast::<u8>(),
            small,
            FreeError::FreeOutOfBounds,
        ),
        (other_class, small, FreeError::LayoutMismatch),
        (block.wrapping_add(8), small, FreeError::UnalignedFree),
        (block.wrapping_add(32), small, FreeError::DoubleFree),
        // The slab header is inside the slab but never a block.
        (header, small, FreeError::UnalignedFree),
        // A fallback layout for a pool block, and a class layout for a fallback block.
        (block, layout(4000, 8), FreeError::LayoutMismatch),
        (large, small, FreeError::FreeOutOfBounds),
        // A fallback layout whose block the fallback does not know.
        (
            block.wrapping_add(SLAB_SIZE * 64),
            layout(4000, 8),
            FreeError::FreeOutOfBounds,
        ),
    ];
    for (ptr, layout, error) in refused {
        assert_eq!(
            pools.free_checked(ptr, layout),
            Err(error),
            "{ptr:p} {layout:?}"
        );
        assert_eq!(
            pools.resize_checked(ptr, layout, layout),
            Err(ResizeError::Invalid(error))
        );
        assert_eq!(pools.stats(), before);
    }
    pools.free_checked(block, small).unwrap();
    assert_eq!(pools.free_checked(block, small), Err(FreeError::DoubleFree));
    pools.free_checked(other_class, layout(64, 8)).unwrap();
    pools.free_checked(large, layout(4000, 8)).unwrap();
    assert_eq!(
        pools.free_checked(core::ptr::null_mut(), layout(4096, 8)),
        Err(FreeError::NullPtrFree)
    );
}

#[test]
fn a_class_takes_new_slabs_when_it_runs_dry_and_reuses_freed_blocks() {
    let ledger = Ledger::new();
    let mut pools = SizeClassPools::new(&ledger);
    let big = layout(2048, 8);
    let per_slab = blocks_per_slab(2048);
    let blocks: std::vec::Vec<_> = (0..=per_slab)
        .map(|_| start(pools.allocate(big).unwrap()))
        .collect();
    let stats = pools.stats().classes[7];
    assert_eq!((stats.slabs, stats.blocks_in_use), (2, per_slab + 1));
    assert_eq!(stats.blocks_free, per_slab - 1);
    pools.free_checked(blocks[3], big).unwrap();
    assert_eq!(start(pools.allocate(big).unwrap()), blocks[3]);
    assert_eq!(pools.stats().slabs, 2);
    for &block in &blocks {
        pools.free_checked(block, big).unwrap();
    }
    let stats = pools.stats().classes[7];
    let again = if MAGAZINE_BLOCKS == 0 {
        // Every free reaches its slab: the first slab to empty is kept, the second goes back.
        assert_eq!(
            (stats.slabs, stats.empty_slabs, stats.slabs_released),
            (1, 1, 1)
        );
        assert_eq!(stats.blocks_free, per_slab);
        // The lowest free block is handed out first.
        blocks[0]
    } else {
        // Fewer frees than a magazine holds: every block waits in it, and both slabs stay.
        assert_eq!(blocks.len().saturating_sub(MAGAZINE_BLOCKS), 0);
        assert_eq!(
            (stats.slabs, stats.blocks_in_use, stats.blocks_in_magazine),
            (2, 0, per_slab + 1)
        );
        assert_eq!((stats.empty_slabs, stats.blocks_free), (0, 2 * per_slab));
        // The block freed last is handed out first.
        blocks[per_slab]
    };
    assert_eq!(start(pools.allocate(big).unwrap()), again);
    pools.free_checked(again, big).unwrap();
    assert!(pools.trim());
    let stats = pools.stats().classes[7];
    assert_eq!(
        (stats.slabs, stats.empty_slabs, stats.slabs_released),
        (0, 0, 2)
    );
    assert_eq!((stats.blocks_free, stats.blocks_in_magazine), (0, 0));
    assert!(!pools.trim(), "nothing left to give back");
}

/// Pools that keep two empty slabs per class, after five slabs of 1 KiB blocks were filled
/// and every block freed again, in the order it was handed out.
fn five_slabs_freed(ledger: &Ledger) -> SizeClassPools<&Ledger> {
    let policy = Policy {
        kept_empty_slabs: 2,
        ..Policy::DEFAULT
    };
    let mut pools = SizeClassPools::with_policy(ledger, policy);
    let block = layout(1024, 8);
    let blocks: std::vec::Vec<_> = (0..5 * blocks_per_slab(1024))
        .map(|_| start(pools.allocate(block).unwrap()))
        .collect();
    assert_eq!(ledger.live_count(), 5 + 1, "five slabs and the slab table");
    for &freed in &blocks {
        pools.free_checked(freed, block).unwrap();
    }
    pools
}

/// Without magazines, every free reaches its slab at once.
#[cfg(not(feature = "magazines"))]
#[test]
fn empty_slabs_beyond_the_reserve_go_back_to_the_fallback() {
    let ledger = Ledger::new();
    let mut pools = five_slabs_freed(&ledger);
    let (block, per_slab) = (layout(1024, 8), blocks_per_slab(1024));
    let stats = pools.stats();
    assert_eq!(stats.classes[6].slabs, 2);
    assert_eq!(stats.classes[6].empty_slabs, 2);
    assert_eq!(stats.slabs_released, 3);
    assert_eq!(ledger.live_count(), 2 + 1, "the reserve and the slab table");
    // The kept slabs serve again without the fallback; a sixth slab comes and goes.
    let again: std::vec::Vec<_> = (0..2 * per_slab + 1)
        .map(|_| start(pools.allocate(block).unwrap()))
        .collect();
    assert_eq!(pools.stats().classes[6].slabs, 3);
    for freed in again {
        pools.free_checked(freed, block).unwrap();
    }
    assert_eq!(pools.stats().slabs_released, 4);
    assert_eq!(ledger.live_count(), 3);
}

#[cfg(feature = "magazines")]
#[test]
fn empty_slabs_beyond_the_reserve_go_back_to_the_fallback_as_magazines_overflow() {
    let ledger = Ledger::new();
    let mut pools = five_slabs_freed(&ledger);
    let (block, per_slab) = (layout(1024, 8), blocks_per_slab(1024));
    // The magazine keeps the last blocks freed, all of the fifth slab; their older halves went
    // back as the magazine filled, so the first four slabs emptied: two kept, two given back.
    let stats = pools.stats();
    let held = stats.classes[6].blocks_in_magazine;
    assert!((MAGAZINE_BLOCKS / 2..=MAGAZINE_BLOCKS).contains(&held) && held < per_slab);
    assert_eq!(stats.classes[6].blocks_in_use, 0);
    assert_eq!(stats.classes[6].slabs, 3);
    assert_eq!(stats.classes[6].empty_slabs, 2);
    assert_eq!(stats.slabs_released, 2);
    assert_eq!(
        ledger.live_count(),
        3 + 1,
        "the reserve, the fifth slab and the slab table"
    );
    // The reserve serves again without the fallback: the magazine's blocks, the fifth slab's
    // free blocks, then the two kept slabs.
    let again: std::vec::Vec<_> = (0..3 * per_slab)
        .map(|_| start(pools.allocate(block).unwrap()))
        .collect();
    assert_eq!(
        (pools.stats().classes[6].slabs, ledger.live_count()),
        (3, 4)
    );
    for freed in again {
        pools.free_checked(freed, block).unwrap();
    }
    // Trimming gives back the kept slabs too, and the slab the magazine held.
    assert!(pools.trim());
    assert_eq!(pools.stats().slabs_released, 5);
    assert_eq!(ledger.live_count(), 1, "only the slab table");
}

#[test]
fn a_released_slab_leaves_the_slab_table() {
    let ledger = Ledger::new();
    let mut pools = SizeClassPools::with_policy(
        &ledger,
        Policy {
            kept_empty_slabs: 0,
            ..Policy::DEFAULT
        },
    );
    let small = layout(16, 8);
    let first = start(pools.allocate(small).unwrap());
    pools.free_checked(first, small).unwrap();
    if MAGAZINE_BLOCKS != 0 {
        assert_eq!(pools.stats().slabs, 1, "the block waits in the magazine");
        assert!(pools.trim());
    }
    assert_eq!(pools.stats().slabs, 0);
    // The slab is gone: its old block address is no longer a pool block.
    assert_eq!(
        pools.free_checked(first, small),
        Err(FreeError::FreeOutOfBounds)
    );
    // SAFETY: not a live block, but the table finds no slab for it: nothing is touched.
    unsafe { pools.deallocate_trusted(NonNull::new(first).unwrap(), small) };
    assert_eq!(ledger.live_count(), 1, "only the slab table");
}

#[test]
fn resize_stays_in_place_within_a_class_and_moves_otherwise() {
    let ledger = Ledger::new();
    let mut pools = SizeClassPools::new(&ledger);
    let first = layout(20, 4);
    let block = start(pools.allocate(first).unwrap());
    // SAFETY: 20 writable bytes.
    unsafe { block.copy_from_nonoverlapping([7u8; 20].as_ptr(), 20) };
    let steps = [
        layout(32, 4),
        layout(100, 4),
        layout(5000, 4),
        layout(9000, 4),
        layout(9000, 64),
        layout(3, 4),
    ];
    let mut current = (block, first);
    for (step, next) in steps.into_iter().enumerate() {
        let moved = start(pools.resize_checked(current.0, current.1, next).unwrap());
        if step == 0 {
            assert_eq!(moved, block, "same class: same pointer");
        }
        assert_eq!(moved.addr() % next.align(), 0);
        let kept = current.1.size().min(next.size()).min(20);
        // SAFETY: at least `kept` initialised bytes survive the move.
        let bytes = unsafe { core::slice::from_raw_parts(moved, kept) };
        assert!(bytes.iter().all(|&byte| byte == 7));
        current = (moved, next);
    }
    assert_eq!(ledger.reallocs.load(Ordering::Relaxed), 2);
    let stats = pools.stats();
    assert_eq!(
        (stats.fallback_blocks, stats.classes[0].blocks_in_use),
        (0, 1)
    );
    pools.free_checked(current.0, current.1).unwrap();
}

#[test]
fn exhaustion_is_out_of_memory_and_keeps_the_old_block() {
    // Two allocations: the slab table and the first slab.
    let ledger = Ledger::with_budget(2);
    let mut pools = SizeClassPools::new(&ledger);
    let small = layout(8, 8);
    let block = start(pools.allocate(small).unwrap());
    assert_eq!(pools.allocate(layout(3000, 8)), Err(OutOfMemory));
    assert_eq!(pools.allocate(layout(64, 8)), Err(OutOfMemory));
    let moved = pools.resize_checked(block, small, layout(100, 8));
    assert_eq!(moved, Err(ResizeError::OutOfMemory));
    assert_eq!(pools.stats().classes[0].blocks_in_use, 1);
    let empty = Ledger::with_budget(0);
    let locked: Locked<_> = Locked::new(SizeClassPools::new(&empty));
    // SAFETY: a non-zero-size layout.
    assert!(unsafe { GlobalAlloc::alloc(&locked, small) }.is_null());
}

#[test]
fn dropping_the_pools_returns_every_slab() {
    let ledger = Ledger::new();
    {
        let mut pools = SizeClassPools::new(&ledger);
        for size in [1, 100, 1000] {
            let block = pools.allocate(layout(size, 1)).unwrap();
            pools.free_checked(start(block), layout(size, 1)).unwrap();
        }
        assert_eq!(
            ledger.live_count(),
            3 + 1,
            "three kept slabs and the slab table"
        );
        assert_eq!(pools.stats().slab_table_bytes, 16 * size_of::<usize>());
    }
    assert_eq!(ledger.live_count(), 0);
}

#[test]
fn global_alloc_routes_frees_and_reallocs_by_layout() {
    let ledger = Ledger::new();
    let pools: Locked<_> = Locked::new(SizeClassPools::new(&ledger));
    let small = layout(24, 8);
    // SAFETY: non-zero layouts; every block is freed once with its current layout.
    unsafe {
        let block = pools.alloc(small);
        assert!(!block.is_null());
        assert_eq!(pools.realloc(block, small, 32), block);
        let large = pools.realloc(block, layout(32, 8), 4000);
        assert!(!large.is_null());
        assert_eq!(pools.inspect(|pools| pools.stats().fallback_blocks), 1);
        assert!(pools.realloc(large, layout(4000, 8), usize::MAX).is_null());
        pools.dealloc(large, layout(4000, 8));
        let zeroed = pools.alloc_zeroed(layout(512, 512));
        assert!(
            core::slice::from_raw_parts(zeroed, 512)
                .iter()
                .all(|&byte| byte == 0)
        );
        pools.dealloc(zeroed, layout(512, 512));
    }
    let stats = pools.inspect(SizeClassPools::stats);
    assert_eq!(stats.fallback_blocks, 0);
    assert!(stats.classes.iter().all(|class| class.blocks_in_use == 0));
    assert_eq!(stats.classes[5].blocks_free, blocks_per_slab(512));
}

#[test]
fn allocator_api_grows_and_shrinks_a_vec_from_a_static() {
    static mut MEMORY: [core::mem::MaybeUninit<u8>; 1 << 20] =
        [core::mem::MaybeUninit::uninit(); 1 << 20];
    static POOLS: LockedSizeClassPools<FreeListAllocator<StaticGrower<'static>>> =
        // SAFETY: MEMORY is named nowhere else.
        Locked::new(SizeClassPools::new(FreeListAllocator::new(unsafe {
                StaticGrower::from_raw(&raw mut MEMORY)
            })));
    let threads: std::vec::Vec<_> = (0..2u32)
        .map(|id| {
            std::thread::spawn(move || {
                let mut numbers = ApiVec::new_in(&POOLS);
                for n in 0..if cfg!(miri) { 300 } else { 3000 } {
                    numbers.push(id * 100_000 + n);
                }
                numbers.truncate(3);
                numbers.shrink_to_fit();
                assert_eq!(numbers.as_slice(), [0, 1, 2].map(|n| id * 100_000 + n));
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let stats = POOLS.inspect(SizeClassPools::stats);
    assert_eq!(stats.fallback_blocks, 0);
    assert!(stats.classes.iter().all(|class| class.blocks_in_use == 0));
}

#[test]
fn slabs_from_the_free_list_pack_end_to_end() {
    let mut arena = Box::new_uninit_slice(8 * SLAB_SIZE);
    let mut pools = SizeClassPools::new(FreeListAllocator::new(StaticGrower::new(&mut arena)));
    let mut slabs = std::vec::Vec::new();
    for class in 0..4 {
        let block = pools.allocate(layout(16 << class, 8)).unwrap();
        slabs.push(start(block).addr() & !(SLAB_SIZE - 1));
    }
    slabs.sort_unstable();
    assert!(slabs.windows(2).all(|pair| pair[1] - pair[0] == SLAB_SIZE));
}

/// A pointer narrowed to the caller's own bytes, as `Box` and `&mut` hand it to `dealloc`:
/// under Stacked Borrows its permission covers exactly `len` bytes.
fn narrowed(block: *mut u8, len: usize) -> NonNull<u8> {
    // SAFETY: the block is live, at least `len` bytes long, and used by nothing else now.
    let bytes = unsafe { core::slice::from_raw_parts_mut(block, len) };
    bytes.fill(0xa5);
    NonNull::from(bytes).cast()
}

/// A read-only pointer to the caller's bytes, as `&[u8]` gives it: a free must not write
/// through it.
fn read_only(block: *mut u8, len: usize) -> NonNull<u8> {
    // SAFETY: the block is live and at least `len` bytes long.
    let bytes: &[u8] = unsafe { core::slice::from_raw_parts(block, len) };
    NonNull::from(bytes).cast()
}

#[test]
fn trusted_frees_and_resizes_use_the_callers_pointer_only_as_an_address() {
    let ledger = Ledger::new();
    let mut pools = SizeClassPools::new(&ledger);
    let small = layout(24, 8);
    let first = start(pools.allocate(small).unwrap());
    let second = start(pools.allocate(small).unwrap());
    // SAFETY: live blocks with their layout; the narrowed pointers keep their addresses.
    unsafe {
        pools.deallocate_trusted(narrowed(first, 24), small);
        pools.deallocate_trusted(read_only(second, 24), small);
    }
    // The block freed last (with magazines; else the lowest free one) is handed out again with
    // the pools' provenance: the whole 32-byte block is writable.
    let again = start(pools.allocate(small).unwrap());
    assert_eq!(again, if MAGAZINE_BLOCKS == 0 { first } else { second });
    // SAFETY: a live 32-byte block.
    unsafe { again.write_bytes(1, 32) };
    // A resize within the class returns the same address, usable for the whole new size.
    let grown = layout(32, 8);
    // SAFETY: live with layout `small`.
    let resized = unsafe { pools.resize_trusted(narrowed(again, 24), small, grown) }.unwrap();
    assert_eq!(start(resized), again);
    // SAFETY: the resized block is 32 bytes long.
    unsafe { start(resized).write_bytes(2, 32) };
    // SAFETY: live with layout `grown`.
    unsafe { pools.deallocate_trusted(read_only(start(resized), 32), grown) };
    assert_eq!(pools.stats().classes[1].blocks_in_use, 0);
}

/// A heap smaller than a slab (a microcontroller's): small requests go to the fallback, and
/// every call still works, slab blocks and fallback blocks told apart by the slab table.
#[test]
fn small_requests_go_to_the_fallback_when_no_slab_can_be_had() {
    let mut memory = std::vec![core::mem::MaybeUninit::new(0u8); 16 * 1024];
    let mut pools = SizeClassPools::new(FreeListAllocator::new(StaticGrower::new(&mut memory)));
    let small = layout(24, 8);
    let blocks: std::vec::Vec<_> = (0..100).map(|_| pools.allocate(small).unwrap()).collect();
    let stats = pools.stats();
    assert_eq!((stats.slabs, stats.fallback_blocks), (0, 100));
    assert!(stats.small_blocks_in_fallback);
    for (id, block) in blocks.iter().enumerate() {
        // SAFETY: each block is live and at least 24 bytes long.
        unsafe { start(*block).write_bytes(id as u8, 24) };
    }
    // SAFETY: live blocks with their layouts, each freed or resized once.
    unsafe {
        let grown = pools
            .resize_trusted(blocks[0].cast(), small, layout(40, 8))
            .unwrap();
        assert_eq!(*start(grown), 0);
        pools.deallocate_trusted(grown.cast(), layout(40, 8));
        assert_eq!(
            pools.deallocate(start(blocks[1]).wrapping_add(8), small),
            Err(FreeError::UnalignedFree)
        );
        pools.deallocate(start(blocks[1]), small).unwrap();
        for block in &blocks[2..] {
            pools.deallocate_trusted(block.cast(), small);
        }
    }
    assert_eq!(pools.stats().fallback_blocks, 0);
    pools.fallback().validate().unwrap();
}

#[test]
fn the_chunk_heap_behind_locked_pools_is_tuned_without_unsafe() {
    use crate::chunk::Placement;
    use crate::chunk::test_support::Arena;

    let arena = Arena::new(512, 256);
    let pools: Locked<_> = Locked::new(SizeClassPools::new(arena.allocator::<256>().unwrap()));
    assert_eq!(
        pools.inspect(|pools| pools.fallback().placement()),
        Placement::FirstFit
    );
    pools.set_placement(Placement::NextFit);
    assert_eq!(
        pools.inspect(|pools| pools.fallback().placement()),
        Placement::NextFit
    );
}
