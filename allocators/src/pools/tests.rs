//! Behaviour of the size-class pools through their public API.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::NonNull;
use core::sync::atomic::Ordering;

use allocator_api2::vec::Vec as ApiVec;

use super::slab::blocks_per_slab;
use super::test_fallback::Ledger;
use super::{LockedSizeClassPools, SLAB_SIZE, SLAB_TAIL, SizeClassPools};
use crate::FreeError;

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

#[test]
fn small_layouts_use_their_class_and_large_ones_the_fallback() {
    let mut pools = SizeClassPools::new(Ledger::new());
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
        assert_eq!(block.as_ptr().addr() % layout.align(), 0);
        let stats = pools.stats();
        match class {
            Some(class) => assert!(stats.classes[class].blocks_in_use >= 1),
            None => assert!(stats.fallback_blocks >= 1),
        }
        blocks.push((block, layout));
    }
    let stats = pools.stats();
    assert_eq!(
        (stats.fallback_blocks, stats.fallback_bytes),
        (3, 2049 + 16)
    );
    assert_eq!(stats.classes[0].blocks_in_use, 2);
    assert_eq!(stats.slabs, 4);
    assert_eq!(stats.slab_bytes, 4 * (SLAB_SIZE - SLAB_TAIL));
    for (block, layout) in blocks {
        // SAFETY: each block was allocated with its layout and is freed once.
        unsafe { pools.deallocate(block.as_ptr(), layout) }.unwrap();
    }
    let stats = pools.stats();
    assert_eq!((stats.fallback_blocks, stats.fallback_bytes), (0, 0));
    assert!(stats.classes.iter().all(|class| class.blocks_in_use == 0));
}

#[test]
fn every_free_error_is_reported_and_changes_nothing() {
    let mut pools = SizeClassPools::new(Ledger::new());
    let small = layout(32, 8);
    let block = pools.allocate(small).unwrap();
    let other_class = pools.allocate(layout(64, 8)).unwrap();
    let foreign = 0u64;
    let before = pools.stats();
    let refused = [
        (core::ptr::null_mut(), FreeError::NullPtrFree),
        (
            (&raw const foreign).cast_mut().cast::<u8>(),
            FreeError::FreeOutOfBounds,
        ),
        (other_class.as_ptr(), FreeError::FreeOutOfBounds),
        (block.as_ptr().wrapping_add(8), FreeError::UnalignedFree),
        (block.as_ptr().wrapping_add(32), FreeError::DoubleFree),
    ];
    for (ptr, error) in refused {
        // SAFETY: a class-sized layout: the pools check the pointer themselves.
        assert_eq!(unsafe { pools.deallocate(ptr, small) }, Err(error));
        assert_eq!(pools.stats(), before);
    }
    // The slab header is inside the slab but never a block.
    let header = block
        .as_ptr()
        .map_addr(|address| address & !(SLAB_SIZE - 1));
    // SAFETY: as above.
    let refused = unsafe { pools.deallocate(header, small) };
    assert_eq!(refused, Err(FreeError::UnalignedFree));
    // SAFETY: live blocks with their layouts.
    unsafe {
        pools.deallocate(block.as_ptr(), small).unwrap();
        assert_eq!(
            pools.deallocate(block.as_ptr(), small),
            Err(FreeError::DoubleFree)
        );
        pools
            .deallocate(other_class.as_ptr(), layout(64, 8))
            .unwrap();
        assert_eq!(
            pools.deallocate(core::ptr::null_mut(), layout(4096, 8)),
            Err(FreeError::NullPtrFree)
        );
    }
}

#[test]
fn a_class_takes_new_slabs_when_it_runs_dry_and_reuses_freed_blocks() {
    let mut pools = SizeClassPools::new(Ledger::new());
    let big = layout(2048, 8);
    let per_slab = blocks_per_slab(2048);
    let blocks: std::vec::Vec<_> = (0..=per_slab)
        .map(|_| pools.allocate(big).unwrap())
        .collect();
    let stats = pools.stats().classes[7];
    assert_eq!((stats.slabs, stats.blocks_in_use), (2, per_slab + 1));
    assert_eq!(stats.blocks_free, per_slab - 1);
    // SAFETY: a live block of this layout.
    unsafe { pools.deallocate(blocks[3].as_ptr(), big) }.unwrap();
    assert_eq!(pools.allocate(big), Some(blocks[3]));
    assert_eq!(pools.stats().slabs, 2);
    for block in blocks {
        // SAFETY: live blocks of this layout.
        unsafe { pools.deallocate(block.as_ptr(), big) }.unwrap();
    }
    assert_eq!(pools.stats().classes[7].blocks_free, 2 * per_slab);
}

#[test]
fn realloc_stays_in_place_within_a_class_and_moves_otherwise() {
    let ledger_pools = SizeClassPools::new(Ledger::new());
    let mut pools = ledger_pools;
    let start = layout(20, 4);
    let block = pools.allocate(start).unwrap();
    // SAFETY: 20 writable bytes.
    unsafe {
        block
            .as_ptr()
            .copy_from_nonoverlapping([7u8; 20].as_ptr(), 20)
    };
    let steps = [
        layout(32, 4),
        layout(100, 4),
        layout(5000, 4),
        layout(9000, 4),
        layout(3, 4),
    ];
    let mut current = (block, start);
    for (step, next) in steps.into_iter().enumerate() {
        // SAFETY: `current` is live with its layout.
        let moved = unsafe { pools.reallocate(current.0, current.1, next) }.unwrap();
        if step == 0 {
            assert_eq!(moved, block, "same class: same pointer");
        }
        let kept = current.1.size().min(next.size()).min(20);
        // SAFETY: at least `kept` initialised bytes survive the move.
        let bytes = unsafe { core::slice::from_raw_parts(moved.as_ptr(), kept) };
        assert!(bytes.iter().all(|&byte| byte == 7));
        current = (moved, next);
    }
    assert_eq!(pools.fallback().reallocs.load(Ordering::Relaxed), 1);
    let stats = pools.stats();
    assert_eq!(
        (stats.fallback_blocks, stats.classes[0].blocks_in_use),
        (0, 1)
    );
    // SAFETY: live with its layout.
    unsafe { pools.deallocate(current.0.as_ptr(), current.1) }.unwrap();
}

#[test]
fn exhaustion_gives_none_and_null_and_keeps_the_old_block() {
    // Two allocations: the slab table and the first slab.
    let mut pools = SizeClassPools::new(Ledger::with_budget(2));
    let small = layout(8, 8);
    let block = pools.allocate(small).unwrap();
    assert_eq!(pools.allocate(layout(3000, 8)), None);
    assert_eq!(pools.allocate(layout(64, 8)), None);
    // SAFETY: live with its layout.
    let moved = unsafe { pools.reallocate(block, small, layout(100, 8)) };
    assert_eq!(moved, None);
    assert_eq!(pools.stats().classes[0].blocks_in_use, 1);
    let locked = LockedSizeClassPools::new(Ledger::with_budget(0));
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
            // SAFETY: live with its layout.
            unsafe { pools.deallocate(block.as_ptr(), layout(size, 1)) }.unwrap();
        }
        assert_eq!(ledger.live_count(), 3 + 1, "three slabs and the slab table");
        assert_eq!(pools.stats().slab_table_bytes, 16 * 8);
    }
    assert_eq!(ledger.live_count(), 0);
}

#[test]
fn global_alloc_routes_frees_and_reallocs_by_layout() {
    let pools = LockedSizeClassPools::new(Ledger::new());
    let small = layout(24, 8);
    // SAFETY: non-zero layouts; every block is freed once with its current layout.
    unsafe {
        let block = pools.alloc(small);
        assert!(!block.is_null());
        assert_eq!(pools.realloc(block, small, 32), block);
        let large = pools.realloc(block, layout(32, 8), 4000);
        assert!(!large.is_null());
        assert_eq!(pools.stats().fallback_bytes, 4000);
        assert!(pools.realloc(large, layout(4000, 8), usize::MAX).is_null());
        pools.dealloc(large, layout(4000, 8));
        let zeroed = pools.alloc_zeroed(layout(512, 512));
        assert!(
            core::slice::from_raw_parts(zeroed, 512)
                .iter()
                .all(|&byte| byte == 0)
        );
        pools.dealloc(zeroed, layout(512, 512));
        // A double free through GlobalAlloc is refused, not threaded into the list twice.
        pools.dealloc(zeroed, layout(512, 512));
    }
    let stats = pools.stats();
    assert_eq!(stats.fallback_blocks, 0);
    assert!(stats.classes.iter().all(|class| class.blocks_in_use == 0));
    assert_eq!(stats.classes[5].blocks_free, blocks_per_slab(512));
}

#[test]
fn allocator_api_grows_and_shrinks_a_vec_from_a_static() {
    static POOLS: LockedSizeClassPools<std::alloc::System> =
        LockedSizeClassPools::new(std::alloc::System);
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
    let stats = POOLS.stats();
    assert_eq!(stats.fallback_blocks, 0);
    assert!(stats.classes.iter().all(|class| class.blocks_in_use == 0));
}

#[test]
fn slabs_from_the_free_list_pack_end_to_end() {
    let mut arena = std::vec![core::mem::MaybeUninit::<u8>::uninit(); 8 * SLAB_SIZE];
    let fallback = crate::LockedFreeListAllocator::new(crate::StaticGrower::new(&mut arena));
    let mut pools = SizeClassPools::new(fallback);
    let mut slabs = std::vec::Vec::new();
    for class in 0..4 {
        let block = pools.allocate(layout(16 << class, 8)).unwrap();
        slabs.push(block.as_ptr().addr() & !(SLAB_SIZE - 1));
    }
    slabs.sort_unstable();
    assert!(slabs.windows(2).all(|pair| pair[1] - pair[0] == SLAB_SIZE));
}

/// A pointer narrowed to the caller's own bytes, as `Box` and `&mut` hand it to `dealloc`:
/// under Stacked Borrows its permission covers exactly `len` bytes.
fn narrowed(block: NonNull<u8>, len: usize) -> NonNull<u8> {
    // SAFETY: the block is live, at least `len` bytes long, and used by nothing else now.
    let bytes = unsafe { core::slice::from_raw_parts_mut(block.as_ptr(), len) };
    bytes.fill(0xa5);
    NonNull::from(bytes).cast()
}

#[test]
fn trusted_frees_and_resizes_use_the_callers_pointer_only_as_an_address() {
    let mut pools = SizeClassPools::new(Ledger::new());
    let small = layout(24, 8);
    let first = pools.allocate(small).unwrap();
    let second = pools.allocate(small).unwrap();
    // SAFETY: live blocks with their layout; the narrowed pointers keep their addresses.
    unsafe {
        pools
            .deallocate_trusted(narrowed(first, 24), small)
            .unwrap();
        pools
            .deallocate_trusted(narrowed(second, 24), small)
            .unwrap();
    }
    // The lowest free block is handed out again with the pools' provenance: the whole
    // 32-byte block is writable.
    let again = pools.allocate(small).unwrap();
    assert_eq!(again, first);
    // SAFETY: a live 32-byte block.
    unsafe { again.as_ptr().write_bytes(1, 32) };
    // A resize within the class returns the same address, usable for the whole new size.
    let grown = layout(32, 8);
    // SAFETY: live with layout `small`.
    let resized = unsafe { pools.reallocate(narrowed(again, 24), small, grown) }.unwrap();
    assert_eq!(resized, again);
    // SAFETY: the resized block is 32 bytes long.
    unsafe { resized.as_ptr().write_bytes(2, 32) };
    // SAFETY: live with layout `grown`.
    unsafe { pools.deallocate_trusted(narrowed(resized, 32), grown) }.unwrap();
    assert_eq!(pools.stats().classes[1].blocks_in_use, 0);
}

#[test]
fn a_trusted_free_outside_every_slab_is_refused() {
    let mut pools = SizeClassPools::new(Ledger::new());
    let foreign = NonNull::from(&0u64).cast::<u8>();
    // SAFETY: no slab exists yet, so the table finds none and nothing is written.
    let refused = unsafe { pools.deallocate_trusted(foreign, layout(8, 8)) };
    assert_eq!(refused, Err(FreeError::FreeOutOfBounds));
    let block = pools.allocate(layout(8, 8)).unwrap();
    let before = pools.stats();
    // SAFETY: the table has a slab now, but not this address; nothing is written.
    let refused = unsafe { pools.deallocate_trusted(foreign, layout(8, 8)) };
    assert_eq!(refused, Err(FreeError::FreeOutOfBounds));
    assert_eq!(pools.stats(), before);
    // SAFETY: live with its layout.
    unsafe { pools.deallocate_trusted(block, layout(8, 8)) }.unwrap();
}
