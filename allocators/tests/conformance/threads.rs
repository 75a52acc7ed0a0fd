//! Threads: each locked form shared by 4 threads doing 1,000,000 mixed operations in all
//! (a few hundred under Miri), every block's contents checked; afterwards nothing is live and
//! the allocator is consistent and entirely free.

use bareheap_conformance::{
    FIXED_BLOCK, LockedChunk, LockedFixed, LockedForm, LockedFreeList, LockedPools, hammer,
};

const THREADS: usize = 4;
const OPERATIONS: usize = if cfg!(miri) { 200 } else { 1_000_000 };

fn stress<L: LockedForm>(form: &L, max_size: usize) {
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
    stress(&LockedChunk::new(4096), 2048);
}

#[test]
fn fixed() {
    stress(&LockedFixed::new(), FIXED_BLOCK);
}

#[test]
fn pools() {
    stress(&LockedPools::new(1024 * 1024), 4096);
}

#[test]
fn free_list() {
    stress(&LockedFreeList::new(1024 * 1024), 4096);
}
