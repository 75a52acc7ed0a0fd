//! Behaviour of the fixed-size pool through its public API.

use core::alloc::{GlobalAlloc, Layout};
use core::pin::pin;

use allocator_api2::alloc::Allocator;
use allocator_api2::vec::Vec as ApiVec;

use super::{FixedBlocks, FixedPool, FixedSizeAllocator, LockedFixedSizeAllocator};
use crate::test_checked::CheckedCalls;
use crate::{FreeError, Locked, OutOfMemory, RawAllocator, ResizeError};

#[test]
fn seed_example_on_the_stack() {
    // SAFETY: the pool is pinned on the next line and outlives every block.
    let mut pool = pin!(unsafe { FixedSizeAllocator::<4, 64>::new_unpinned(false) });
    let ptr = pool.as_mut().alloc::<u32>().unwrap();
    // SAFETY: the block is ours, 4 bytes, aligned for u32.
    unsafe {
        ptr.write(89);
        assert_eq!(ptr.read(), 89);
        *ptr.as_ptr() = 43;
        assert_eq!(*ptr.as_ptr(), 43);
    }
    pool.as_mut().free_nonnull(ptr).unwrap();
}

#[test]
fn blocks_handed_out_earlier_stay_usable_across_later_calls() {
    let mut pool = FixedSizeAllocator::<8, 8>::new(false);
    let first = pool.as_mut().alloc::<u64>().unwrap();
    let second = pool.as_mut().alloc::<u64>().unwrap();
    // SAFETY: both blocks are ours and aligned for u64.
    unsafe {
        first.write(1);
        second.write(2);
    }
    for _ in 0..3 {
        let other = pool.as_mut().alloc_untyped().unwrap();
        pool.as_mut().free_nonnull(other).unwrap();
    }
    assert_eq!(pool.allocated_blocks(), 2);
    // SAFETY: still ours; the pool never touched them.
    unsafe {
        assert_eq!((first.read(), second.read()), (1, 2));
        first.write(3);
        second.write(4);
        assert_eq!((first.read(), second.read()), (3, 4));
    }
}

#[test]
fn every_free_error_is_reported_and_changes_nothing() {
    let mut pool = FixedSizeAllocator::<16, 4>::new(false);
    let block = pool.as_mut().alloc_untyped().unwrap();
    let outside = 0u128;
    let refused = [
        (core::ptr::null(), FreeError::NullPtrFree),
        (
            (&raw const outside).cast::<u8>(),
            FreeError::FreeOutOfBounds,
        ),
        (
            block.as_ptr().wrapping_add(16 * 4),
            FreeError::FreeOutOfBounds,
        ),
        (block.as_ptr().wrapping_add(1), FreeError::UnalignedFree),
        (block.as_ptr().wrapping_add(16), FreeError::DoubleFree),
    ];
    for (ptr, error) in refused {
        assert_eq!(pool.as_mut().free(ptr), Err(error));
        assert_eq!(pool.allocated_blocks(), 1);
    }
    pool.as_mut().free_nonnull(block).unwrap();
    assert_eq!(
        pool.as_mut().free_nonnull(block),
        Err(FreeError::DoubleFree)
    );
    assert_eq!(pool.free_blocks(), 4);
}

#[test]
fn a_pointer_before_the_first_block_is_out_of_bounds() {
    let mut pool = FixedSizeAllocator::<16, 2>::new(false);
    let first = pool.as_mut().alloc_untyped().unwrap();
    assert_eq!(
        pool.as_mut().free(first.as_ptr().wrapping_sub(1)),
        Err(FreeError::FreeOutOfBounds)
    );
}

#[test]
fn exhaustion_returns_none_and_counters_stay_exact() {
    let mut pool = FixedSizeAllocator::<3, 5>::new(false);
    assert_eq!(
        (pool.heap_size(), pool.block_count(), pool.block_size()),
        (15, 5, 3)
    );
    let mut blocks = std::vec::Vec::new();
    for taken in 1..=5 {
        blocks.push(pool.as_mut().alloc_untyped().unwrap());
        assert_eq!(pool.allocated_blocks(), taken);
        assert_eq!(pool.free_blocks(), 5 - taken);
        assert_eq!(pool.total_allocated(), 3 * taken);
        assert_eq!(pool.total_free(), 3 * (5 - taken));
    }
    assert!(pool.as_mut().alloc_untyped().is_none());
    for block in blocks {
        pool.as_mut().free_nonnull(block).unwrap();
    }
    assert_eq!(pool.total_free(), 15);
}

#[test]
fn blocks_are_aligned_to_the_largest_power_of_two_dividing_the_size() {
    fn check<const S: usize>(expected: usize) {
        assert_eq!(FixedSizeAllocator::<S, 3>::BLOCK_ALIGN, expected);
        let mut pool = FixedSizeAllocator::<S, 3>::new(false);
        while let Some(block) = pool.as_mut().alloc_untyped() {
            assert_eq!(block.as_ptr().addr() % expected, 0);
        }
    }
    check::<1>(1);
    check::<12>(4);
    check::<16>(16);
    check::<48>(16);
    check::<4096>(4096);
}

#[test]
fn typed_allocation_accepts_smaller_types_with_fitting_alignment() {
    let mut pool = FixedSizeAllocator::<16, 2>::new(false);
    let wide = pool.as_mut().alloc::<u128>().unwrap();
    let narrow = pool.as_mut().alloc::<u16>().unwrap();
    assert_eq!(wide.as_ptr().addr() % align_of::<u128>(), 0);
    // SAFETY: both blocks are ours and aligned for their types.
    unsafe {
        wide.write(u128::MAX);
        narrow.write(7);
        assert_eq!((wide.read(), narrow.read()), (u128::MAX, 7));
    }
}

#[test]
fn zero_initialized_blocks_read_as_zero() {
    let mut boxed = FixedSizeAllocator::<8, 4>::new(true);
    // SAFETY: pinned on the stack at once and outlives its blocks.
    let mut stacked = pin!(unsafe { FixedSizeAllocator::<8, 4>::new_unpinned(true) });
    for _ in 0..4 {
        let a = boxed.as_mut().alloc::<[u8; 8]>().unwrap();
        let b = stacked.as_mut().alloc::<[u8; 8]>().unwrap();
        // SAFETY: the storage was zeroed, so the bytes are initialised.
        unsafe { assert_eq!((a.read(), b.read()), ([0; 8], [0; 8])) };
    }
}

#[test]
fn free_all_makes_every_block_free_again() {
    let mut pool = FixedSizeAllocator::<2, 3>::new(false);
    while pool.as_mut().alloc_untyped().is_some() {}
    // SAFETY: no block is used after this.
    unsafe { pool.as_mut().free_all() };
    assert_eq!(pool.free_blocks(), 3);
    assert_eq!(
        (0..3).filter_map(|_| pool.as_mut().alloc_untyped()).count(),
        3
    );
}

#[test]
fn a_large_pool_is_built_in_place_and_costs_the_same_per_operation() {
    const N: usize = if cfg!(miri) { 1 << 16 } else { 1 << 20 };
    let mut pool = FixedSizeAllocator::<8, N>::new(false);
    let block = pool.as_mut().alloc::<u64>().unwrap();
    let second = pool.as_mut().alloc::<u64>().unwrap();
    pool.as_mut().free_nonnull(block).unwrap();
    assert_eq!(pool.as_mut().alloc::<u64>(), Some(block));
    assert_eq!(pool.allocated_blocks(), 2);
    assert_eq!(pool.as_mut().free_nonnull(second), Ok(()));
}

/// A locked pool of `$n` blocks of `$s` bytes over blocks of its own (a `static mut` private
/// to the expression, so each use gets fresh blocks).
macro_rules! locked_pool {
    ($s:literal, $n:literal, $zeroed:expr) => {{
        static mut BLOCKS: FixedBlocks<$s, $n> = FixedBlocks::new($zeroed);
        // SAFETY: BLOCKS is private to this expression, which runs once per test.
        Locked::<FixedPool<'static, $s, $n>>::new(unsafe { FixedPool::from_raw(&raw mut BLOCKS) })
    }};
}

#[test]
fn locked_pool_works_from_a_static_and_across_threads() {
    static mut BLOCKS: FixedBlocks<8, 64> = FixedBlocks::new(false);
    // SAFETY: BLOCKS is named nowhere else.
    static POOL: LockedFixedSizeAllocator<'static, 8, 64> =
        Locked::new(unsafe { FixedPool::from_raw(&raw mut BLOCKS) });
    let threads: std::vec::Vec<_> = (0..2u64)
        .map(|id| {
            std::thread::spawn(move || {
                for round in 0..if cfg!(miri) { 5 } else { 200 } {
                    let block = POOL.alloc::<u64>().unwrap();
                    // SAFETY: the block is ours until we free it, and unused afterwards.
                    unsafe {
                        block.write(id * 1000 + round);
                        assert_eq!(block.read(), id * 1000 + round);
                        POOL.free_nonnull(block).unwrap();
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(POOL.inspect(|pool| pool.allocated_blocks()), 0);
    assert_eq!(
        POOL.inspect(|pool| (pool.total_free(), pool.heap_size())),
        (512, 512)
    );
}

#[test]
fn locked_pool_free_errors_and_free_all() {
    let pool = locked_pool!(4, 2, true);
    let block = pool.alloc::<u32>().unwrap();
    // SAFETY: a null pointer is refused; nothing is freed.
    let null = unsafe { pool.free(core::ptr::null::<u8>()) };
    assert_eq!(null, Err(FreeError::NullPtrFree));
    assert_eq!(pool.inspect(|pool| pool.total_allocated()), 4);
    // SAFETY: the block is not used afterwards; only the index list changes.
    unsafe { pool.lock().get_mut().free_all() };
    // SAFETY: the block was freed by `free_all`: refused.
    let again = unsafe { pool.free_nonnull(block) };
    assert_eq!(again, Err(FreeError::DoubleFree));
    let counts = pool.inspect(|pool| (pool.free_blocks(), pool.block_count(), pool.block_size()));
    assert_eq!(counts, (2, 2, 4));
}

#[test]
fn the_raw_api_checks_every_free_and_keeps_blocks_on_resize() {
    let mut blocks = FixedBlocks::<16, 4>::new(false);
    let mut pool = FixedPool::new(&mut blocks);
    let fits = Layout::new::<u64>();
    let block = pool.allocate(fits).unwrap();
    assert_eq!(block.len(), 16);
    let ptr = block.cast::<u8>().as_ptr();
    let too_big = Layout::new::<[u8; 17]>();
    assert_eq!(
        pool.free_checked(ptr, too_big),
        Err(FreeError::LayoutMismatch)
    );
    assert_eq!(
        pool.free_checked(ptr.wrapping_add(4), fits),
        Err(FreeError::UnalignedFree)
    );
    assert_eq!(pool.allocate(too_big), Err(OutOfMemory));
    let kept = pool
        .resize_checked(ptr, fits, Layout::new::<[u8; 16]>())
        .unwrap();
    assert_eq!(kept.cast::<u8>().as_ptr(), ptr);
    assert_eq!(
        pool.resize_checked(ptr, fits, too_big),
        Err(ResizeError::OutOfMemory)
    );
    assert!(pool.contains(ptr) && !pool.contains(ptr.wrapping_add(64)));
    pool.free_checked(ptr, fits).unwrap();
    assert_eq!(pool.free_checked(ptr, fits), Err(FreeError::DoubleFree));
    assert_eq!(
        pool.resize_checked(ptr, fits, fits),
        Err(ResizeError::Invalid(FreeError::DoubleFree))
    );
}

#[test]
fn global_alloc_serves_fitting_layouts_only() {
    let pool = locked_pool!(16, 2, false);
    let fits = Layout::new::<u64>();
    // SAFETY: non-zero-size layouts; the block is freed with the same layout.
    unsafe {
        let block = GlobalAlloc::alloc(&pool, fits);
        assert!(!block.is_null());
        assert!(GlobalAlloc::alloc(&pool, Layout::new::<[u8; 17]>()).is_null());
        let over_aligned = Layout::from_size_align(8, 32).unwrap();
        assert!(GlobalAlloc::alloc(&pool, over_aligned).is_null());
        assert_eq!(pool.realloc(block, fits, 16), block);
        assert!(pool.realloc(block, fits, 17).is_null());
        pool.dealloc(block, fits);
    }
    assert_eq!(pool.inspect(|pool| pool.allocated_blocks()), 0);
}

#[test]
fn allocator_api_backs_a_vec_in_place() {
    let pool = locked_pool!(64, 2, false);
    let mut numbers = ApiVec::with_capacity_in(2, &pool);
    numbers.extend([1u32, 2, 3, 4]);
    assert_eq!(pool.inspect(|pool| pool.allocated_blocks()), 1);
    assert!(numbers.try_reserve(100).is_err());
    numbers.shrink_to_fit();
    assert_eq!(numbers.as_slice(), &[1, 2, 3, 4]);
    let layout = Layout::new::<[u8; 65]>();
    assert!(Allocator::allocate(&pool, layout).is_err());
    drop(numbers);
    assert_eq!(pool.inspect(|pool| pool.allocated_blocks()), 0);
}

crate::fixed_pool!(static FIRST: [8; 4]);
crate::fixed_pool!(static SECOND: [8; 4]);

#[test]
fn pools_declared_by_the_macro_have_blocks_of_their_own() {
    let mut taken = std::vec::Vec::new();
    for pool in [&FIRST, &SECOND] {
        for _ in 0..4 {
            taken.push(pool.alloc::<u64>().expect("a free block"));
        }
        assert!(pool.alloc::<u64>().is_none(), "four blocks each");
        assert_eq!(pool.usage().live_blocks, 4);
    }
    let mut addresses: std::vec::Vec<_> = taken.iter().map(|block| block.addr()).collect();
    addresses.sort_unstable();
    addresses.dedup();
    assert_eq!(addresses.len(), 8, "no block is in both pools");
    for (index, block) in taken.into_iter().enumerate() {
        let pool = if index < 4 { &FIRST } else { &SECOND };
        // SAFETY: each block was taken from this pool above and is not used again.
        unsafe { pool.free_nonnull(block) }.unwrap();
    }
    assert_eq!(FIRST.usage().live_blocks + SECOND.usage().live_blocks, 0);
}
