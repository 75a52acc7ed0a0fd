//! The allocator instances and the memory each one owns.
//!
//! Both heaps are `static` arrays in the program's `.bss` segment: the kernel maps them, zeroed,
//! when it loads the executable, so there is nothing to set up at run time and no system call
//! behind an allocation. Each is managed by a chunk allocator whose bitmap is a second `static`:
//!
//! ```text
//!   .bss ┌──────────────────── CHUNK_HEAP: 16 MiB ────────────────────┐
//!        │ chunk 0 │ chunk 1 │ chunk 2 │ ...          │ chunk 65535   │  256 B each
//!        └─────────────────────────────────────────────────────────────┘
//!        CHUNK_BITMAP: a used bit and a block-start bit per chunk (16 KiB), one summary bit
//!                      per 64 chunks
//!
//!        ┌──────────────────── POOLS_HEAP: 16 MiB ────────────────────┐
//!        │ 32 KiB slab │ 32 KiB slab │ large block │ ...               │  the pools' fallback
//!        └─────────────────────────────────────────────────────────────┘
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

use core::alloc::{GlobalAlloc, Layout};

use bareheap::chunk::{GlobalChunkAllocator, PageAligned, bitmap_len};
use bareheap::{LockedFreeListAllocator, LockedSizeClassPools, MmapGrower, heap, heap_bitmap};

/// Bytes per chunk of both chunk allocators.
pub const CHUNK_SIZE: usize = 256;
/// Chunks in each heap: 16 MiB apiece.
const CHUNKS: usize = 65_536;

static mut CHUNK_HEAP: PageAligned<[u8; CHUNKS * CHUNK_SIZE]> =
    heap!(chunks = CHUNKS, chunksize = CHUNK_SIZE);
static mut CHUNK_BITMAP: PageAligned<[u8; bitmap_len(CHUNKS)]> = heap_bitmap!(chunks = CHUNKS);

/// The chunk allocator the `chunk` choice runs on.
pub static CHUNK: GlobalChunkAllocator<CHUNK_SIZE> =
    // SAFETY: CHUNK_HEAP and CHUNK_BITMAP are private to this module and named nowhere else, so
    // this allocator is the only user of both for the whole run.
    unsafe { GlobalChunkAllocator::from_static(&raw mut CHUNK_HEAP, &raw mut CHUNK_BITMAP) };

static mut POOLS_HEAP: PageAligned<[u8; CHUNKS * CHUNK_SIZE]> =
    heap!(chunks = CHUNKS, chunksize = CHUNK_SIZE);
static mut POOLS_BITMAP: PageAligned<[u8; bitmap_len(CHUNKS)]> = heap_bitmap!(chunks = CHUNKS);

/// The chunk allocator behind the size-class pools: their slabs and their large blocks.
pub static POOLS_BACKING: GlobalChunkAllocator<CHUNK_SIZE> =
    // SAFETY: as for CHUNK, with the pools' own heap and bitmap.
    unsafe { GlobalChunkAllocator::from_static(&raw mut POOLS_HEAP, &raw mut POOLS_BITMAP) };

/// The size-class pools the `pools` choice runs on.
pub static POOLS: LockedSizeClassPools<PoolsBacking> = LockedSizeClassPools::new(PoolsBacking);

/// The free-list allocator the `freelist` choice runs on, growing through `mmap`.
///
/// Its grower starts with a fallback page size; [`super::init`] gives it the kernel's.
pub static FREE_LIST: LockedFreeListAllocator<MmapGrower> =
    LockedFreeListAllocator::new(MmapGrower::new());

/// The pools' fallback: [`POOLS_BACKING`], named as a type so the pools can own it by value.
///
/// The pools take any `GlobalAlloc` as their fallback; a zero-sized handle to a `static` keeps
/// the backing allocator outside the pools' lock, where the router can ask it which pointers
/// it owns without taking that lock.
pub struct PoolsBacking;

// SAFETY: every method forwards unchanged to POOLS_BACKING, a GlobalAlloc of its own.
unsafe impl GlobalAlloc for PoolsBacking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { POOLS_BACKING.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { POOLS_BACKING.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { POOLS_BACKING.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { POOLS_BACKING.realloc(ptr, layout, new_size) }
    }
}
