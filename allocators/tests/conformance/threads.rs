//! Threads: each design behind its lock, shared by 4 threads doing 1,000,000 mixed operations
//! in all (a few hundred under Miri), every block's contents checked (under Miri, its first
//! and last 64 bytes); afterwards nothing is live and the allocator is consistent and entirely
//! free.

use bareheap_conformance::{
    Chunk, DefaultHeap, Design, FIXED_BLOCK, Fixed, FreeList, Inspect, Pools, Shared, hammer,
};

const THREADS: usize = 4;
const OPERATIONS: usize = if cfg!(miri) { 200 } else { 1_000_000 };

fn stress<D: Design>(bytes: usize, max_size: usize) {
    let mut form = Shared::<D>::new(bytes);
    let report = hammer(form.allocator(), THREADS, OPERATIONS / THREADS, max_size);
    assert_eq!(report.operations, OPERATIONS);
    assert!(report.successes > report.failures, "{report:?}");
    assert_eq!(form.accounting().live_blocks, 0);
    form.check_consistency()
        .expect("consistent after the threads");
    form.check_all_free()
        .expect("everything free after the threads");
}

#[test]
fn chunk() {
    stress::<Chunk>(4096 * 64, 2048);
}

#[test]
fn fixed() {
    stress::<Fixed>(0, FIXED_BLOCK);
}

#[test]
fn pools() {
    stress::<Pools>(1024 * 1024, 4096);
}

#[test]
fn free_list() {
    stress::<FreeList>(1024 * 1024, 4096);
}

#[test]
fn heap() {
    stress::<DefaultHeap>(1024 * 1024, 4096);
}
