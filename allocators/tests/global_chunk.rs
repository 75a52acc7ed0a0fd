//! The chunk allocator as this test binary's `#[global_allocator]`: the test harness itself,
//! std collections, strings and threads all run on it, over a 4 MiB `static` heap.

use bareheap::chunk::{GlobalChunkAllocator, PageAligned, bitmap_len};
use bareheap::{heap, heap_bitmap};

static mut HEAP: PageAligned<[u8; 16384 * 256]> = heap!(chunks = 16384, chunksize = 256);
static mut BITMAP: PageAligned<[u8; bitmap_len(16384)]> = heap_bitmap!(chunks = 16384);

#[global_allocator]
static ALLOCATOR: GlobalChunkAllocator =
    // SAFETY: HEAP and BITMAP are named nowhere else: this allocator owns them for good.
    unsafe { GlobalChunkAllocator::from_static(&raw mut HEAP, &raw mut BITMAP) };

#[test]
fn std_code_runs_on_the_chunk_allocator() {
    let before = ALLOCATOR.stats().total_allocations;
    bareheap_conformance::std_workload(
        if cfg!(miri) { 1 } else { 20 },
        if cfg!(miri) { 20 } else { 500 },
        4,
    );
    let probe = Box::new([1u8; 100]);
    assert!(ALLOCATOR.contains(probe.as_ptr()));
    assert!(ALLOCATOR.stats().total_allocations > before);
}
