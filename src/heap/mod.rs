//! The global allocator: where every `Box`, `Vec` and `String` of this program gets its memory.
//!
//! Rust lets a program install exactly one `#[global_allocator]`. To run the same workloads on
//! several allocators in one process, the installed one is a [`Router`]: it sends each new
//! allocation to the allocator chosen for the current workload, and sends each free to the
//! allocator that *owns* the pointer, found by address range, so a block that outlives a switch
//! still goes back where it came from:
//!
//! ```text
//!   alloc(layout) ───────────────► the active allocator (chosen by `activate`)
//!   dealloc(ptr) / realloc(ptr) ─► the owner of ptr:
//!        inside CHUNK's heap?        ──► chunk allocator
//!        inside POOLS' backing heap? ──► size-class pools
//!        anywhere else               ──► free-list allocator (its mmap regions)
//! ```
//!
//! Every allocator owns memory that no other one touches, which is what makes ownership a pure
//! address test: the two static heaps are fixed ranges, and everything outside them can only
//! have come from the free list's mappings. The cost is one atomic load per allocation, at most
//! two range comparisons per free, and one indirect call, on top of the allocator's own cost.
//!
//! The instances themselves, with their memory, live in [`instances`]; what each reports is
//! [`HeapStats`].

mod instances;
mod stats;

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicU8, Ordering};

pub use stats::HeapStats;

use crate::cli::Named;
use instances::{CHUNK, FREE_LIST, POOLS, POOLS_BACKING};

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
}

impl Named for AllocatorChoice {
    const ALL: &'static [Self] = &[Self::Chunk, Self::Pools, Self::FreeList];

    fn name(self) -> &'static str {
        match self {
            Self::Chunk => "chunk",
            Self::Pools => "pools",
            Self::FreeList => "freelist",
        }
    }

    fn summary(self) -> &'static str {
        match self {
            Self::Chunk => "bitmap over a 16 MiB static heap, 256-byte chunks",
            Self::Pools => "size classes 16 B..2 KiB, 32 KiB slabs from a chunk heap",
            Self::FreeList => "segregated free lists, boundary tags, heap grown by mmap",
        }
    }
}

impl AllocatorChoice {
    /// Makes this allocator serve every allocation from now on.
    pub fn activate(self) {
        ACTIVE.store(self as u8, Ordering::Relaxed);
    }

    /// A snapshot of this allocator's statistics.
    pub fn stats(self) -> HeapStats {
        match self {
            Self::Chunk => HeapStats::of_chunks(&CHUNK),
            Self::Pools => HeapStats::of_pools(&POOLS, &POOLS_BACKING),
            Self::FreeList => HeapStats::of_free_list(&FREE_LIST),
        }
    }

    /// The allocator that is active now.
    fn active() -> Self {
        let active = ACTIVE.load(Ordering::Relaxed);
        *Self::ALL
            .iter()
            .find(|choice| **choice as u8 == active)
            .unwrap_or(&Self::Chunk)
    }

    /// The allocator whose memory holds `ptr`.
    fn owner_of(ptr: *const u8) -> Self {
        if CHUNK.contains(ptr) {
            Self::Chunk
        } else if POOLS_BACKING.contains(ptr) {
            Self::Pools
        } else {
            Self::FreeList
        }
    }

    /// This allocator, as a `GlobalAlloc`.
    fn allocator(self) -> &'static dyn GlobalAlloc {
        match self {
            Self::Chunk => &CHUNK,
            Self::Pools => &POOLS,
            Self::FreeList => &FREE_LIST,
        }
    }
}

/// Tells the allocators what they need to know about the machine before the first
/// allocation: the page size, which the free list's `mmap` grower rounds its regions to.
pub fn init(page_size: usize) {
    // The kernel's page size is a power of two, which is all `set_page_size` checks for.
    let _ = FREE_LIST.set_page_size(page_size);
}

/// Which allocator serves new allocations (an `AllocatorChoice` as `u8`).
static ACTIVE: AtomicU8 = AtomicU8::new(AllocatorChoice::Chunk as u8);

/// The program's global allocator: see the module docs.
struct Router;

#[global_allocator]
static ROUTER: Router = Router;

// SAFETY: each method forwards to one of the crate's allocators, which meet the `GlobalAlloc`
// contract themselves. A block is always freed or resized by the allocator that allocated it:
// `owner_of` identifies it by the disjoint memory each allocator owns.
unsafe impl GlobalAlloc for Router {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller (a non-zero-size layout).
        unsafe { AllocatorChoice::active().allocator().alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        unsafe { AllocatorChoice::active().allocator().alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this router allocated with `layout`; it came from
        // the allocator that owns its address.
        unsafe {
            AllocatorChoice::owner_of(ptr)
                .allocator()
                .dealloc(ptr, layout)
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the block stays with its owner, which may be an allocator
        // that is no longer active.
        unsafe {
            AllocatorChoice::owner_of(ptr)
                .allocator()
                .realloc(ptr, layout, new_size)
        }
    }
}
