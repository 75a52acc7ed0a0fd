//! The allocator instances and the memory each one owns.
//!
//! Both heaps are `static` arrays in the program's `.bss` segment: the kernel maps them, zeroed,
//! when it loads the executable, so there is nothing to set up at run time and no system call
//! behind an allocation. Each is managed by a chunk allocator whose bitmap is a second `static`:
//!
//! ```text
//!   .bss ┌──────────────────── CHUNK_HEAP: 8 MiB ─────────────────────┐
//!        │ chunk 0 │ chunk 1 │ chunk 2 │ ...          │ chunk 32767   │  256 B each
//!        └─────────────────────────────────────────────────────────────┘
//!        CHUNK_BITMAP: a used bit and a block-start bit per chunk (8 KiB), one summary bit
//!                      and one longest-free-run byte per 64 chunks (8,768 bytes in all)
//!
//!        ┌──────────────────── POOLS_HEAP: 8 MiB ─────────────────────┐
//!        │ 32 KiB slab │ 32 KiB slab │ large block │ ...               │  the pools' fallback
//!        └─────────────────────────────────────────────────────────────┘
//!        CACHED_HEAP: 8 MiB, the same again, for the pools behind the per-thread caches
//! ```
//!
//! The constructors are `const`: a heap or bitmap of the wrong size is a compile error, not a
//! failure at start-up.
//!
//! The free-list allocator owns no static memory at all: it starts empty and asks the kernel
//! for regions with `mmap` as it needs them, and gives whole empty regions back with `munmap`:
//!
//! ```text
//!   FREE_LIST ──grow──► MmapGrower ──mmap──► [ region 1 ] [ region 2 (twice the step) ] ...
//!             ◄─release─            ◄─munmap─
//! ```
//!
//! The `cached` choice is the pools' design again, over a third static heap, with a cache per
//! thread in front ([`Cached`]): each thread's cache number is in its thread block
//! ([`crate::tls`]), read with one load from `fs`.
//!
//! All four sit behind a [`FutexLock`]: under Linux the `threads` workload's four threads
//! share two cores here, and a waiter that found the heap locked sleeps in the kernel after a
//! short spin instead of spinning through its time slice while the holder is descheduled.

use bareheap::chunk::{ChunkAllocator, GlobalChunkAllocator, PageAligned, bitmap_len};
use bareheap::{
    CacheIndex, Cached, FutexLock, LockedFreeListAllocator, LockedSizeClassPools, MmapGrower,
    SizeClassPools, heap, heap_bitmap,
};

/// Bytes per chunk of both chunk allocators.
pub const CHUNK_SIZE: usize = 256;
/// Chunks in each heap: 8 MiB apiece, room for every workload (the largest peaks at 5.5 MiB).
const CHUNKS: usize = 32_768;

static mut CHUNK_HEAP: PageAligned<[u8; CHUNKS * CHUNK_SIZE]> =
    heap!(chunks = CHUNKS, chunksize = CHUNK_SIZE);
static mut CHUNK_BITMAP: PageAligned<[u8; bitmap_len(CHUNKS)]> = heap_bitmap!(chunks = CHUNKS);

/// The chunk allocator the `chunk` choice runs on.
pub static CHUNK: GlobalChunkAllocator<CHUNK_SIZE, FutexLock> =
    // SAFETY: CHUNK_HEAP and CHUNK_BITMAP are private to this module and named nowhere else, so
    // this allocator is the only user of both for the whole run.
    unsafe { GlobalChunkAllocator::from_static(&raw mut CHUNK_HEAP, &raw mut CHUNK_BITMAP) };

static mut POOLS_HEAP: PageAligned<[u8; CHUNKS * CHUNK_SIZE]> =
    heap!(chunks = CHUNKS, chunksize = CHUNK_SIZE);
static mut POOLS_BITMAP: PageAligned<[u8; bitmap_len(CHUNKS)]> = heap_bitmap!(chunks = CHUNKS);

/// The size-class pools the `pools` choice runs on, in front of a chunk allocator of their own
/// (their slabs and their large blocks): one lock over both.
pub static POOLS: LockedSizeClassPools<ChunkAllocator<CHUNK_SIZE>, FutexLock> =
    // SAFETY: as for CHUNK, with the pools' own heap and bitmap.
    LockedSizeClassPools::new(SizeClassPools::new(unsafe {
            ChunkAllocator::from_static(&raw mut POOLS_HEAP, &raw mut POOLS_BITMAP)
        }));

/// Whether `ptr` lies in the pools' heap: a comparison of addresses, no lock taken.
pub fn in_pools_heap(ptr: *const u8) -> bool {
    let start = (&raw const POOLS_HEAP).addr();
    ptr.addr().wrapping_sub(start) < CHUNKS * CHUNK_SIZE
}

static mut CACHED_HEAP: PageAligned<[u8; CHUNKS * CHUNK_SIZE]> =
    heap!(chunks = CHUNKS, chunksize = CHUNK_SIZE);
static mut CACHED_BITMAP: PageAligned<[u8; bitmap_len(CHUNKS)]> = heap_bitmap!(chunks = CHUNKS);

/// The running thread's cache: the number in its thread block.
pub struct ThreadCacheIndex;

impl CacheIndex for ThreadCacheIndex {
    #[inline]
    fn current(&self) -> usize {
        crate::tls::cache_index()
    }
}

/// The allocator of the `cached` choice: size-class pools over a chunk heap of their own, with
/// a cache of small blocks per thread (16 caches) in front.
pub type CachedPools =
    Cached<SizeClassPools<ChunkAllocator<CHUNK_SIZE>>, ThreadCacheIndex, FutexLock>;

/// The `cached` choice's allocator.
pub static CACHED: CachedPools = Cached::new(
    SizeClassPools::new(
        // SAFETY: as for CHUNK, with this heap and bitmap of its own.
        unsafe { ChunkAllocator::from_static(&raw mut CACHED_HEAP, &raw mut CACHED_BITMAP) },
    ),
    ThreadCacheIndex,
);

/// Whether `ptr` lies in the cached pools' heap: a comparison of addresses, no lock taken.
pub fn in_cached_heap(ptr: *const u8) -> bool {
    let start = (&raw const CACHED_HEAP).addr();
    ptr.addr().wrapping_sub(start) < CHUNKS * CHUNK_SIZE
}

/// The free-list allocator the `freelist` choice runs on, growing through `mmap`.
///
/// Its grower starts with a fallback page size; [`super::init`] gives it the kernel's.
pub static FREE_LIST: LockedFreeListAllocator<MmapGrower, FutexLock> =
    LockedFreeListAllocator::with_grower(MmapGrower::new());
