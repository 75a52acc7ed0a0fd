//! # Size-class pools: fixed-size blocks as a general-purpose allocator
//!
//! Eight pools of fixed-size blocks, one per power of two from 16 B to 2 KiB, sit in front of
//! a fallback allocator (any [`RawAllocator`](crate::RawAllocator)). A request is served
//! by the smallest class whose blocks hold its size *and* alignment; anything larger goes to
//! the fallback. Classes take memory from the fallback in slabs (by default 32 KiB, aligned to
//! their size and 16 bytes short of it so that slabs from a boundary-tag fallback pack end to
//! end; a heap handed a small memory uses smaller ones, down to 1 KiB, and then only the classes
//! that fit at least 4 times in a slab use slabs) and cut them into blocks. All bookkeeping
//! sits in the slab headers: a bitmap of the blocks in use, with a summary word of the bitmap
//! words that have room, and a list per class of the slabs with a free block. In front of the
//! slabs, each class keeps a *magazine*: a stack of the last 16 blocks freed to it, handed out
//! again first, so that a program that frees and asks again (most do) costs a push and a pop,
//! and the bitmaps change only when a magazine overflows or runs dry. The pools never read or
//! write the bytes of a block, free or not:
//!
//! ```text
//!   classes   magazines (16 each)       slabs (32 KiB each, from the fallback)
//!   ┌──────┐
//!   │ 16 B │─► [blk|blk|blk| . | . ]    [hdr|■|□|■|■|□|...] ⇄ [hdr|□|□|□|...]  slabs with room
//!   │ 32 B │─► [ . | . | . | . | . ]    [hdr|□ |■ |■ |...]      (full slabs are on no list)
//!   │  ..  │     ▲ free pushes,          hdr: links, class, blocks taken, words_with_room,
//!   │ 2 KiB│     │ allocate pops          in_use[32]  (■ = bit set: handed out or in a magazine)
//!   └──────┘     └ empty? take from a slab · full? its older half goes back to the slabs
//!   larger / more aligned ──────────► fallback.alloc(layout)
//!
//!   slab table (open addressing, ≤ half full, from the fallback):
//!     slab number (address >> log2 slab size) ──► the pools' own pointer to that slab
//! ```
//!
//! A caller's pointer is used only for its address: it may carry permission for its own block
//! alone (a `Box` or `&mut` handed back to `dealloc`), so a free never reaches the slab header
//! through it. The trusted free asks the fallback for its own pointer to the block (the
//! fallback handed the slab out, so it knows it: O(1) for every allocator of this crate), the
//! checked free looks the slab up in the slab table; the magazine keeps that pointer, with the
//! provenance of the fallback's memory, and every header is reached through one like it.
//! Blocks are handed out as such pointers, so they carry the pools' provenance. Keeping no link
//! inside free blocks matters under Rust's aliasing rules too: a `Box` may be freed while a
//! function that received it still runs, its permission still guarding the block's bytes, and
//! an allocator that wrote a free-list link there (or handed the block out again under the
//! caller's permission) would access them while that guard stands.
//!
//! | operation | cost |
//! |---|---|
//! | allocate, class-sized | O(1): a pop from the class's magazine; when it is empty, the lowest free bit of the first slab with room (two trailing-zero counts); one fallback call per new slab, and O(slabs) to rehash when the slab table doubles (amortised O(1) per slab) |
//! | deallocate via `GlobalAlloc` / `Allocator` | O(1): the fallback's pointer to the block (the slab table, expected O(1), for a fallback without one), pushed on the magazine; when the magazine is full, its 8 oldest blocks go back to their slabs first (bitmap, counts, relinking a slab that was full; a slab that empties beyond the reserve goes back to the fallback) |
//! | raw `deallocate` (fully checked) | expected O(1): a slab-table lookup (~1.5 probes), the class, block-start and bitmap checks, and a look through the class's magazine (at most 16 blocks), then as above |
//! | realloc within a class | O(1): same address |
//! | realloc across classes or pool <-> fallback | allocate + copy + free |
//! | realloc fallback -> fallback | the fallback's `realloc` |
//! | [`trim`](SizeClassPools::trim) | O(classes × 16 + slabs given back), plus O(slabs with room) per empty slab kept |
//! | statistics | O(1) |
//!
//! Memory overhead: the magazines (16 pointers and a length per class, inside the pools
//! value: 1,032 bytes on 64-bit targets, 520 on 32-bit ones), the header of each slab (296
//! bytes for 32 KiB slabs, 56 for 2 KiB) and its short end (under 1 % of a 32 KiB slab for
//! 16-byte blocks; for 2 KiB blocks, header and short end cost two blocks in 16), the slab
//! table (8 bytes per slot, 16 slots at first, doubling to stay at most half full: at most 32
//! bytes per slab once grown, 0.1 % of a 32 KiB slab; one more allocation from the fallback,
//! shown as [`PoolStats::slab_table_bytes`]), rounding each request up to its class (less than
//! half the block), and free blocks kept by their class: up to 16 per class in its magazine,
//! which keep their slabs; a slab goes back only once all its blocks are free and out of the
//! magazine (a single live block keeps its whole slab), and the table only when the pools are
//! dropped. When the fallback runs out of memory, the pools first [`trim`](SizeClassPools::trim)
//! themselves (every magazine and every empty slab back) and try once more: a request fails
//! only when the fallback cannot serve it with all of that given back. (What a trim cannot
//! undo: a slab kept where a large block would have gone leaves a hole when it goes. So a heap
//! that chose slabs under 32 KiB, a microcontroller's, keeps neither magazines nor empty slabs:
//! [`SizeClassPools::uses_magazines`].)
//!
//! The magazines are the crate's `magazines` feature, on by default. Without it (a firmware
//! build with `default-features = false`), a free goes straight back to its slab, the pools
//! keep no memory at hand but the empty slabs the policy keeps, they do not trim by
//! themselves, and the code is about 760 bytes smaller on a Cortex-M.
//!
//! **Why the fallback is a [`RawAllocator`](crate::RawAllocator), not any `GlobalAlloc`.** The
//! pools' checked free refuses a bad pointer exactly; for a pointer outside every slab it asks
//! the fallback, and a `GlobalAlloc` (the system allocator, another crate's heap) has no call
//! that can say "not mine" or "already freed". The pools also need the fallback's own pointer
//! to a slab ([`pointer_to`](crate::RawAllocator::pointer_to)) for the trusted free, and the
//! per-thread caches need its spans ([`span_of`](crate::RawAllocator::span_of)). An adapter
//! would have to answer those by trusting every pointer, which would break the promise of the
//! checked calls. So there is none; what to use instead:
//! - small blocks fast in a hosted program: the default [`Heap`](crate::Heap) (these pools
//!   over a free list that takes its memory from `mmap`), and `Cached` over it for threads;
//! - pools over memory the system allocator gives: take one large buffer from it at start-up
//!   and hand it to a `Heap` (`Heap::empty()` then `claim`), so that every block is the
//!   heap's and every check stays exact.
//!
//! Module layout: `class` (size-class arithmetic), `slab` (slab geometry, header, bitmap),
//! `slab_table` (address to the pools' own slab pointer), `class_pool` (one class: its slabs
//! with room and its counts), `magazine` (the last blocks freed to each class), `allocator` ([`SizeClassPools`], routing and reallocation) and
//! `locked` ([`LockedSizeClassPools`]).

mod allocator;
mod class;
mod class_pool;
mod locked;
mod magazine;
mod slab;
mod slab_table;

pub use allocator::{Policy, PoolStats, SizeClassPools};
pub use class::{CLASS_COUNT, MAX_BLOCK_SIZE, MIN_BLOCK_SIZE};
#[cfg(target_has_atomic = "ptr")]
pub(crate) use class::{block_size, class_of};
pub use class_pool::ClassStats;
pub use locked::LockedSizeClassPools;
pub use slab::{MIN_SLAB_SIZE, SLAB_SIZE, SLAB_TAIL};

#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod test_fallback;
#[cfg(test)]
mod tests;
