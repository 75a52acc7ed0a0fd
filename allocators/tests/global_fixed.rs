//! The fixed-size pool as this test binary's `#[global_allocator]`: 16 KiB blocks (aligned to
//! 16384), so every allocation of the test harness (its start-up asks for up to 12.3 KiB) and
//! of the std workload is one block; anything larger would be refused (null), which the
//! workload avoids. 2048 blocks (32 MiB of `.bss`): every allocation, however small, takes a
//! whole block, and the four worker threads with the test harness hold several hundred at once.

use bareheap::LockedFixedSizeAllocator;

#[global_allocator]
static ALLOCATOR: LockedFixedSizeAllocator<16384, 2048> = LockedFixedSizeAllocator::new(false);

#[test]
fn std_code_runs_on_the_fixed_pool() {
    bareheap_conformance::std_workload(
        if cfg!(miri) { 1 } else { 20 },
        if cfg!(miri) { 16 } else { 40 },
    );
    let probe = Box::new(7u64);
    let start = std::ptr::from_ref(&ALLOCATOR).addr();
    let offset = std::ptr::from_ref(&*probe).addr().wrapping_sub(start);
    assert!(
        offset < size_of_val(&ALLOCATOR),
        "the box lives in the pool"
    );
    assert!(ALLOCATOR.allocated_blocks() > 0);
}
