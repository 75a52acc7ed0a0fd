//! The size-class pools (over a chunk allocator on a `static` heap) as this test binary's
//! `#[global_allocator]`: the test harness, std collections, strings and threads run on them,
//! with one lock over pools and fallback together.

use bareheap::chunk::{ChunkAllocator, PageAligned, bitmap_len};
use bareheap::{LockedSizeClassPools, SizeClassPools, heap, heap_bitmap};

static mut HEAP: PageAligned<[u8; 16384 * 256]> = heap!(chunks = 16384, chunksize = 256);
static mut BITMAP: PageAligned<[u8; bitmap_len(16384)]> = heap_bitmap!(chunks = 16384);

#[global_allocator]
static ALLOCATOR: LockedSizeClassPools<ChunkAllocator<256>> =
    // SAFETY: HEAP and BITMAP are named nowhere else: the pools' fallback owns them.
    LockedSizeClassPools::new(SizeClassPools::new(unsafe {
            ChunkAllocator::from_static(&raw mut HEAP, &raw mut BITMAP)
        }));

#[test]
fn std_code_runs_on_the_pools() {
    bareheap_conformance::std_workload(
        if cfg!(miri) { 1 } else { 20 },
        if cfg!(miri) { 20 } else { 500 },
        4,
    );
    let probe = Box::new([0u8; 24]);
    let stats = ALLOCATOR.inspect(|pools| pools.stats());
    assert!(
        stats.classes[1].blocks_in_use > 0,
        "the 32-byte class holds the box"
    );
    assert!(ALLOCATOR.contains(probe.as_ptr()));
}
