//! The free-list allocator over a `static` buffer as this test binary's `#[global_allocator]`:
//! the test harness, std collections, strings and threads run on it. Unlike the mmap-backed
//! binary this one runs under Miri, so every free std makes (from a `Box`, a `Vec`, a
//! `String`) is checked against Stacked and Tree Borrows: the allocator must reach its tags
//! through its own memory, never through the caller's pointer.

use std::mem::MaybeUninit;

use bareheap::{FreeListAllocator, LockedFreeListAllocator, StaticGrower};

const HEAP_BYTES: usize = if cfg!(miri) { 4 << 20 } else { 16 << 20 };

static mut HEAP: [MaybeUninit<u8>; HEAP_BYTES] = [MaybeUninit::uninit(); HEAP_BYTES];

#[global_allocator]
static ALLOCATOR: LockedFreeListAllocator<StaticGrower<'static>> =
    // SAFETY: HEAP is named nowhere else: this allocator owns it for good.
    LockedFreeListAllocator::new(FreeListAllocator::new(unsafe {
            StaticGrower::from_raw(&raw mut HEAP)
        }));

#[test]
fn std_code_runs_on_the_free_list_over_a_static_buffer() {
    bareheap_conformance::std_workload(
        if cfg!(miri) { 1 } else { 20 },
        if cfg!(miri) { 20 } else { 500 },
    );
    let probe = vec![3u32; 1000];
    assert!(ALLOCATOR.contains(probe.as_ptr().cast()));
    let heap = ALLOCATOR.lock();
    assert!(heap.stats().allocated_blocks > 0);
    assert!(heap.grower().bytes_out() <= HEAP_BYTES);
    heap.validate().expect("a consistent heap");
}
