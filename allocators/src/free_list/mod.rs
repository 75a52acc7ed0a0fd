//! A growing free-list allocator with boundary tags and segregated, bitmapped free lists.
//!
//! The heap is a set of *regions* obtained from a [`HeapGrower`](crate::HeapGrower) (mmap, or
//! pieces of a buffer). Each region is cut into *blocks*, allocated or free, laid end to end.
//! Every block starts with a one-word tag (its size and three flags); a free block also ends
//! with a footer and holds two list links in its payload:
//!
//! ```text
//!   region:  [hdr][ alloc ][  free  ][ alloc ][ alloc ][    free    ][sentinel]
//!
//!   alloc:   [tag|A]  payload ..............................
//!   free:    [tag  ]  [next][prev] ........... [footer=size]
//!             ▲ 8 bytes; payload is 16-aligned
//! ```
//!
//! Free blocks of similar size share a list (a *bin*); a bitmap says which bins are non-empty:
//!
//! ```text
//!   bitmap  0 0 1 0 0 1 1 0 …          bins: 0…15 exact (16-byte steps below 256 B),
//!               │     │ │                    then 16 bins per power of two
//!   bins   [ ][ ][●][ ][ ][●][●][ ] …
//!                 │        │
//!                 ▼        ▼
//!               free ⇄ free  free
//! ```
//!
//! **Why not one address-ordered list?** The textbook free list (`linked_list_allocator`, the
//! `basic_allocator` this module replaces) keeps every free block in one list sorted by address:
//! allocation walks it until a block fits and freeing walks it to find the insertion point and
//! the neighbours, both O(n) in the number of free blocks, and a fragmented heap makes n large.
//! Here, a fit is found with two bit scans (O(1)), and the neighbours of a freed block are found
//! through the tags (the next block starts `size` bytes on; the previous one's footer is just
//! before the tag), so freeing with merging is O(1) too.
//!
//! **What it costs:** one word per allocated block; blocks are multiples of 16 bytes, at least
//! 32; 400 bin heads (3.2 KiB on 64-bit) and 52 bytes of bitmaps in the allocator; about 64
//! bytes per region (header, sentinel, alignment).
//!
//! **Growth and release:** when no block fits, the grower provides a region (for `MmapGrower`,
//! in doubling steps, so O(log heap) regions). Requests of 256 KiB and more (by default) get a
//! region of their own. A region that becomes entirely free goes back to the grower, except for
//! the last general one (see [`Policy`]).
//!
//! Modules: `tag` (block tags and pointer arithmetic), `bins` (size classes, bitmaps, fit),
//! `region` (region layout and list), `heap` (the allocation policy), `inspect` (statistics,
//! iteration, validation), `locked` (the spin-locked `GlobalAlloc`/`Allocator` form).

mod bins;
mod heap;
mod inspect;
mod locked;
mod region;
mod tag;

#[cfg(test)]
mod tests;

pub use heap::{FreeListAllocator, Policy};
pub use inspect::{
    BlockInfo, BlockIter, ClassCount, HeapCorruption, RegionInfo, RegionIter, Stats,
};
pub use locked::LockedFreeListAllocator;
