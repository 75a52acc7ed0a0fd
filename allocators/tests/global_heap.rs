//! The default heap over a `static` buffer as this test binary's `#[global_allocator]`, in
//! the form the README shows: std collections, strings and (natively) threads run on it.
//! It runs under Miri too, so every free std makes is checked against Stacked and Tree
//! Borrows.
//!
//! No test harness and, under Miri, no thread, for the reason `global_free_list_static.rs`
//! gives: the harness's channel frees a block that is still a protected argument, and the
//! free list behind the pools then merges with it (the documented open question).

use std::mem::MaybeUninit;

use bareheap::{Heap, LockedHeap, StaticGrower};

const HEAP_BYTES: usize = if cfg!(miri) { 4 << 20 } else { 32 << 20 };

static mut MEMORY: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

#[global_allocator]
// SAFETY: MEMORY is named nowhere else: this heap owns it for good.
static HEAP: LockedHeap<StaticGrower> = LockedHeap::new(Heap::new(unsafe {
    StaticGrower::from_raw(&raw mut MEMORY)
}));

fn main() {
    bareheap_conformance::std_workload(
        if cfg!(miri) { 1 } else { 20 },
        if cfg!(miri) { 20 } else { 500 },
        if cfg!(miri) { 0 } else { 4 },
    );
    let small = Box::new([1u8; 24]);
    let large = vec![3u32; 100_000];
    assert!(HEAP.contains(small.as_ptr()) && HEAP.contains(large.as_ptr().cast()));
    let (pools, free_list) = HEAP.inspect(|heap| (heap.pools().stats(), heap.free_list().stats()));
    assert!(
        pools.classes[1].blocks_in_use > 0,
        "the 32-byte class holds the box"
    );
    assert!(
        free_list.allocated_blocks > pools.slabs,
        "the vector is a free-list block"
    );
    HEAP.inspect(|heap| heap.free_list().validate())
        .expect("a consistent heap");
    println!("std code ran on the default heap: ok");
}
