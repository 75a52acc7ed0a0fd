//! A growing free-list allocator with boundary tags and segregated, bitmapped free lists.
//!
//! The heap is a set of *regions*: memory from a [`HeapGrower`](crate::HeapGrower) (mmap, or
//! pieces of a buffer), or handed over at run time with [`claim`](FreeListAllocator::claim)
//! or [`extend`](FreeListAllocator::extend). Each region is cut into *blocks*, allocated or free,
//! laid end to end. Every block starts with a one-word tag (its size and two flags); a free
//! block also ends with a footer and holds two list links in its payload:
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
//!   bitmap  0 0 1 0 0 1 1 0 …          bins: 0…63 exact (16-byte steps below 1 KiB),
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
//! Here, a fit is found with one to three bit scans (O(1)), and the neighbours of a freed block
//! are found through the tags (the next block starts `size` bytes on; the previous one's footer
//! is just before the tag), so freeing with merging is O(1) too.
//!
//! **What it costs:** one word per allocated block; blocks are multiples of 16 bytes, at least
//! 32 (on 64-bit targets); 416 bin heads (3.3 KiB on 64-bit) and 64 bytes of bitmaps (56 on
//! 32-bit) in the allocator; about 64 bytes per region (header, sentinel, alignment). In time,
//! counted by callgrind on the benchmark's random actions (M = 1000, with realloc): 67
//! instructions per action, where talc takes 61 and rlsf 76 (`make bench`, section 1b). The
//! common paths are short and inline: an allocation of at most 16-byte alignment served by a
//! bin head (a bit scan, one split), a free whose neighbours are both in use (two tag reads, one
//! push). Merging, higher alignments and growth run out of line. A block leaves its list in O(1)
//! without its size class being computed: the first block of a list names the list in its
//! `prev` link.
//!
//! **Growth and release:** when no block fits, the grower provides a region (for `MmapGrower`,
//! in doubling steps, so O(log heap) regions); a piece of a `StaticGrower`'s buffer that starts
//! where the newest region ends extends it instead (the pieces share the buffer's pointer;
//! separate mappings are separate allocations, so they never join). Requests of 256 KiB and more (by default) get a region of their own,
//! taken whole, when the grower can take memory back; if it has none to give, they are served
//! like any other. A region that becomes entirely free goes back to the grower, except for the
//! last general one when it is small (see [`Policy`]) and memory the program handed over. A
//! region that a few live blocks keep does not keep its free pages resident: after every 4 MiB
//! (by default) freed into free blocks of 64 KiB and more, the pages inside those blocks are
//! given back through the grower's `discard` (`madvise(MADV_DONTNEED)` for `MmapGrower`).
//! Measured with a std program that frees 100,000 blocks of 2,000 bytes (`make bench`, section
//! 7): the free list's resident set falls from 195 MiB to 2 MiB, the pools' in front of it from
//! 226 MiB to 5 MiB, where it stayed at 98 MiB before the discard.
//!
//! # Metadata in the freed blocks, and the aliasing models
//!
//! A free block holds its links and its footer in its own payload: the bytes the caller just
//! gave back. Every such word is written through the *region's* pointer (the provenance of the
//! grower's memory, found from the address alone), never through the caller's, which may carry
//! a permission for its own bytes only or a read-only one (a pointer from a `&[u8]`): either
//! would make the write undefined behaviour, and this way no caller following the `GlobalAlloc`
//! contract can cause any.
//!
//! One case stays open, and it is a question about Rust's aliasing rules rather than about this
//! allocator. When a `Box` is freed while it is still a *protected* function argument (a function
//! taking `Box<T>` by value drops it before returning, as `Box<dyn FnOnce>::call_once` does), the
//! free's write into the block is, under Stacked Borrows and Tree Borrows as Miri implements them
//! today, a foreign write to protected memory, and Miri reports it. Every allocator that keeps
//! metadata in freed blocks (talc, rlsf, dlmalloc) gets the same report (rlsf issue #20; the
//! interaction of allocators with protectors is unsafe-code-guidelines #376, Miri #2104). The
//! alternative, metadata kept entirely outside the blocks, is what the size-class pools do (a
//! bitmap per slab) and why the default [`Heap`](crate::Heap) puts small blocks, where such
//! `Box`es are, in the pools; for a general-purpose free list it would cost a second header word
//! per block and an indirection on every operation. The example `protected_boxes` (two boxes
//! freed inside `fn two(a: Box<[u64; 3]>, b: Box<[u64; 3]>)`) shows the case: `make miri`
//! runs it last and expects Miri's report. The std test binaries over this allocator run under
//! Miri without libtest's harness and threads, whose internals free boxes that way.
//!
//! Modules: `block` (block tags and pointer arithmetic), `bins` (size classes, bitmaps, fit),
//! `region` (region layout, joining and the region list), `heap` (the allocation policy),
//! `inspect` (statistics, iteration, validation), `locked` (the locked form's name).

mod bins;
mod block;
mod heap;
mod inspect;
mod locked;
mod region;

#[cfg(test)]
mod tests;

pub use heap::{
    DISCARD_MIN_BLOCK, FreeListAllocator, Policy, fit_size, max_block_size, region_size,
};
pub use inspect::{BlockInfo, BlockIter, ClassCount, RegionInfo, RegionIter, Stats};
pub use locked::LockedFreeListAllocator;
#[cfg(target_os = "linux")]
pub use locked::UnixAllocator;
pub use region::RegionKind;
