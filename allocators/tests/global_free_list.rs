//! The free-list allocator (growing with mmap) as this test binary's `#[global_allocator]`:
//! the test harness, std collections, strings and threads run on it.
//!
//! Not under Miri: Miri cannot run the raw `mmap` system call, and the allocator would serve
//! the harness before any test could be skipped, so the whole binary is compiled out there.
#![cfg(not(miri))]

use bareheap::{FreeListAllocator, LockedFreeListAllocator, MmapGrower};

#[global_allocator]
static ALLOCATOR: LockedFreeListAllocator<MmapGrower> =
    LockedFreeListAllocator::new(FreeListAllocator::new(MmapGrower::new()));

#[test]
fn std_code_runs_on_the_free_list() {
    bareheap_conformance::std_workload(20, 500, 4);
    let probe = vec![3u32; 1000];
    assert!(ALLOCATOR.contains(probe.as_ptr().cast()));
    let heap = ALLOCATOR.lock();
    assert!(heap.stats().allocated_blocks > 0);
    heap.validate().expect("a consistent heap");
}
