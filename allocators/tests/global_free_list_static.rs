//! The free-list allocator over a `static` buffer as this test binary's `#[global_allocator]`:
//! std collections, strings and (natively) threads run on it. Unlike the mmap-backed binary
//! this one runs under Miri, so every free std makes (from a `Box`, a `Vec`, a `String`) is
//! checked against Stacked and Tree Borrows: the allocator must reach its tags through its own
//! memory, never through the caller's pointer.
//!
//! It has no test harness (`harness = false` in Cargo.toml), and under Miri it spawns no
//! thread. Both the harness and `std::thread` free a `Box` while it is still a protected
//! function argument (the harness's channel blocks, a thread's start closure); a later free that
//! merges with that block writes its links through the heap's pointer, which Miri reports
//! under both models. That is the open question the free-list module documents (and
//! `make miri-open-question` shows); everything else std does is still checked here.

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

fn main() {
    bareheap_conformance::std_workload(
        if cfg!(miri) { 1 } else { 20 },
        if cfg!(miri) { 20 } else { 500 },
        if cfg!(miri) { 0 } else { 4 },
    );
    let probe = vec![3u32; 1000];
    assert!(ALLOCATOR.contains(probe.as_ptr().cast()));
    ALLOCATOR.inspect(|heap| {
        assert!(heap.stats().allocated_blocks > 0);
        assert!(heap.grower().bytes_out() <= HEAP_BYTES);
        heap.validate().expect("a consistent heap");
    });
    println!("std code ran on the free list over a static buffer: ok");
}
