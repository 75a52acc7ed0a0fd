//! The global allocator: where every `Box`, `Vec` and `String` of this program gets its memory.
//!
//! Rust lets a program install exactly one `#[global_allocator]`. To run the same workloads on
//! several allocators in one process, the installed one is a router ([`router`]): it sends each new
//! allocation to the allocator chosen for the current workload, and sends each free to the
//! allocator that *owns* the pointer, found by address range, so a block that outlives a switch
//! still goes back where it came from:
//!
//! ```text
//!   alloc(layout) ───────────────► the active allocator (chosen by `activate`)
//!   dealloc(ptr) / realloc(ptr) ─► the owner of ptr:
//!        inside CHUNK's heap?        ──► chunk allocator
//!        inside POOLS' backing heap? ──► size-class pools
//!        inside CACHED's heap?       ──► pools behind per-thread caches
//!        anywhere else               ──► free-list allocator (its mmap regions)
//! ```
//!
//! Every allocator owns memory that no other one touches, which is what makes ownership a pure
//! address test: the two static heaps are fixed ranges, and everything outside them can only
//! have come from the free list's mappings. The cost is one atomic load per allocation, at most
//! three range comparisons per free, and one indirect call, on top of the allocator's own cost.
//!
//! The instances themselves, with their memory, live in [`instances`]; the router is in
//! [`router`] and counts what it forwards in [`traffic`]; what each allocator reports about
//! itself is [`HeapStats`].

mod instances;
mod picture;
mod router;
mod stats;
mod traffic;

use core::alloc::GlobalAlloc;

use bareheap::chunk::Placement;

pub use picture::HeapPicture;
pub use stats::HeapStats;
pub use traffic::Traffic;

use crate::selection::Named;
use instances::{CACHED, CHUNK, FREE_LIST, POOLS, in_cached_heap, in_pools_heap};

/// An allocator the command line can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum AllocatorChoice {
    /// The bitmap chunk allocator over a static heap.
    Chunk,
    /// Size-class pools in front of a chunk allocator of their own.
    Pools,
    /// The free-list allocator, growing through `mmap`.
    FreeList,
    /// Size-class pools over a chunk heap, with a cache per thread in front.
    Cached,
}

impl Named for AllocatorChoice {
    const ALL: &'static [Self] = &[Self::Chunk, Self::Pools, Self::FreeList, Self::Cached];

    fn name(self) -> &'static str {
        match self {
            Self::Chunk => "chunk",
            Self::Pools => "pools",
            Self::FreeList => "freelist",
            Self::Cached => "cached",
        }
    }

    fn summary(self) -> &'static str {
        match self {
            Self::Chunk => "bitmap over an 8 MiB static heap, 256-byte chunks",
            Self::Pools => "size classes 16 B..2 KiB, 32 KiB slabs from a chunk heap",
            Self::FreeList => "segregated free lists, boundary tags, heap grown by mmap",
            Self::Cached => "the pools' design with a cache of small blocks per thread",
        }
    }
}

impl AllocatorChoice {
    /// Makes this allocator serve every allocation from now on.
    pub fn activate(self) {
        router::activate(self);
    }

    /// The traffic the router has sent this allocator so far.
    pub fn traffic(self) -> Traffic {
        traffic::of(self)
    }

    /// The allocator that serves new allocations now.
    pub fn active() -> Self {
        router::active()
    }

    /// A picture of this allocator's heap, drawn when displayed.
    pub fn picture(self) -> HeapPicture {
        HeapPicture(self)
    }

    /// Starts a new peak measurement for this allocator from its current live bytes.
    pub fn reset_peak(self) {
        traffic::reset_peak(self);
    }

    /// A snapshot of this allocator's statistics.
    pub fn stats(self) -> HeapStats {
        match self {
            Self::Chunk => HeapStats::of_chunks(&CHUNK),
            Self::Pools => HeapStats::of_pools(&POOLS),
            Self::FreeList => HeapStats::of_free_list(&FREE_LIST),
            Self::Cached => HeapStats::of_cached(&CACHED),
        }
    }

    /// The allocator whose memory holds `ptr`.
    fn owner_of(ptr: *const u8) -> Self {
        if CHUNK.contains(ptr) {
            Self::Chunk
        } else if in_pools_heap(ptr) {
            Self::Pools
        } else if in_cached_heap(ptr) {
            Self::Cached
        } else {
            Self::FreeList
        }
    }

    /// This allocator, as a `GlobalAlloc`, to call directly (the benchmark does, to measure
    /// the allocator without the router).
    pub fn global_alloc(self) -> &'static dyn GlobalAlloc {
        match self {
            Self::Chunk => &CHUNK,
            Self::Pools => &POOLS,
            Self::FreeList => &FREE_LIST,
            Self::Cached => &CACHED,
        }
    }
}

/// The placement called `name` on the command line.
pub fn placement_named(name: &str) -> Option<Placement> {
    match name {
        "next-fit" => Some(Placement::NextFit),
        "first-fit" => Some(Placement::FirstFit),
        _ => None,
    }
}

/// Makes both chunk allocators (the `chunk` choice and the pools' backing heap) search by
/// `placement` from now on.
pub fn set_placement(placement: Placement) {
    CHUNK.set_placement(placement);
    let mut pools = POOLS.lock();
    // SAFETY: only the backing chunk allocator's placement changes; nothing moves.
    unsafe { pools.get_mut().fallback_mut() }.set_placement(placement);
}

/// The statistics of cache `index` of the `cached` choice, when that choice is the active one.
pub fn cache_stats(index: usize) -> Option<bareheap::CacheStats> {
    (AllocatorChoice::active() == AllocatorChoice::Cached).then(|| CACHED.stats(index))
}

/// What a thread does with the allocators as it ends: gives its cache's blocks back to the
/// shared heap of the `cached` choice (a few locks of that heap; nothing when the cache is
/// empty). Called by every thread started with [`crate::thread::Thread::spawn`], last thing.
pub fn thread_exit() {
    CACHED.release(crate::tls::cache_index());
}

/// Tells the allocators what they need to know about the machine before the first
/// allocation: the page size, which the free list's `mmap` grower rounds its regions to.
pub fn init(page_size: usize) {
    // The kernel's page size is a power of two, which is all `set_page_size` checks for.
    let _ = FREE_LIST.set_page_size(page_size);
}
