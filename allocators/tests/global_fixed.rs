//! The fixed-size pool as this test binary's `#[global_allocator]`: 16 KiB blocks (aligned to
//! 16384), so every allocation of the test harness (its start-up asks for up to 12.3 KiB) and
//! of the std workload is one block; anything larger would be refused (null), which the
//! workload avoids. 2048 blocks (32 MiB of `.bss`): every allocation, however small, takes a
//! whole block, and the four worker threads with the test harness hold several hundred at once.

use bareheap::Locked;
use bareheap::fixed::{FixedBlocks, FixedPool, LockedFixedSizeAllocator};

static mut BLOCKS: FixedBlocks<16384, 2048> = FixedBlocks::new(false);

#[global_allocator]
static ALLOCATOR: LockedFixedSizeAllocator<'static, 16384, 2048> =
    // SAFETY: BLOCKS is named nowhere else: this pool owns it for good.
    Locked::new(unsafe { FixedPool::from_raw(&raw mut BLOCKS) });

#[test]
fn std_code_runs_on_the_fixed_pool() {
    bareheap_conformance::std_workload(
        if cfg!(miri) { 1 } else { 20 },
        if cfg!(miri) { 16 } else { 40 },
        4,
    );
    let probe = Box::new(7u64);
    assert!(ALLOCATOR.contains(std::ptr::from_ref(&*probe).cast()));
    assert!(ALLOCATOR.inspect(|pool| pool.allocated_blocks()) > 0);
}
