//! The size-class pools (over the system allocator) as this test binary's
//! `#[global_allocator]`: the test harness, std collections, strings and threads run on them.

use std::alloc::System;

use bareheap::LockedSizeClassPools;

#[global_allocator]
static ALLOCATOR: LockedSizeClassPools<System> = LockedSizeClassPools::new(System);

#[test]
fn std_code_runs_on_the_pools() {
    bareheap_conformance::std_workload(
        if cfg!(miri) { 1 } else { 20 },
        if cfg!(miri) { 20 } else { 500 },
    );
    let probe = Box::new([0u8; 24]);
    let stats = ALLOCATOR.stats();
    assert!(
        stats.classes[1].blocks_in_use > 0,
        "the 32-byte class holds the box"
    );
    drop(probe);
}
