//! # Size-class pools: fixed-size blocks as a general-purpose allocator
//!
//! Eight pools of fixed-size blocks, one per power of two from 16 B to 2 KiB, sit in front of
//! a fallback allocator (any [`RawAllocator`](crate::RawAllocator)). A request is served
//! by the smallest class whose blocks hold its size *and* alignment; anything larger goes to
//! the fallback. Classes take memory from the fallback in slabs (by default 32 KiB, aligned to
//! their size and 16 bytes short of it so that slabs from a boundary-tag fallback pack end to
//! end; a heap handed a small memory uses smaller ones, down to 1 KiB, and then only the classes
//! that fit at least 4 times in a slab use slabs) and cut them into blocks. All bookkeeping sits in the slab headers: a bitmap of the blocks in use, with a
//! summary word of the bitmap words that have room, and a list per class of the slabs with a
//! free block. The pools never read or write the bytes of a block, free or not:
//!
//! ```text
//!   classes           slabs (32 KiB each, from the fallback)
//!   ┌──────┐
//!   │ 16 B │──► [hdr|■|□|■|■|□|...] ⇄ [hdr|□|□|□|...]      slabs with room
//!   │ 32 B │──► [hdr|□ |■ |■ |...]      (full slabs are on no list)
//!   │  ..  │    hdr: links, class, blocks in use, words_with_room, in_use[32]  (■ = bit set)
//!   │ 2 KiB│──► null                  (no slab until the first request)
//!   └──────┘
//!   larger / more aligned ──────────► fallback.alloc(layout)
//!
//!   slab table (open addressing, ≤ half full, from the fallback):
//!     slab number (address >> log2 slab size) ──► the pools' own pointer to that slab
//! ```
//!
//! A caller's pointer is used only for its address: it may carry permission for its own block
//! alone (a `Box` or `&mut` handed back to `dealloc`), so a free never reaches the slab header
//! through it. The trusted free asks the fallback for its own pointer to the slab (the
//! fallback handed the slab out, so it knows it: O(1) for every allocator of this crate), the
//! checked free looks the slab up in the slab table; both then work on the header through a
//! pointer with the provenance of the fallback's memory. Blocks are handed out as that pointer re-based, so they carry the pools'
//! provenance. Keeping no link inside free blocks matters under Rust's aliasing rules too: a
//! `Box` may be freed while a function that received it still runs, its permission still
//! guarding the block's bytes, and an allocator that wrote a free-list link there (or handed
//! the block out again under its own permission) would access them while that guard stands.
//!
//! | operation | cost |
//! |---|---|
//! | allocate, class-sized | O(1): lowest free bit of the first slab with room (two trailing-zero counts); one fallback call per new slab, and O(slabs) to rehash when the slab table doubles (amortised O(1) per slab) |
//! | deallocate via `GlobalAlloc` / `Allocator` | O(1): the fallback's pointer to the slab (the slab table, expected O(1), for a fallback without one), bitmap check and clear, relink a slab that was full; a slab that empties beyond the reserve goes back (one fallback call, amortised against the one that brought it) |
//! | raw `deallocate` (fully checked) | expected O(1): a slab-table lookup (~1.5 probes), plus the class, block-start and bitmap checks |
//! | realloc within a class | expected O(1): slab-table lookup, same address |
//! | realloc across classes or pool <-> fallback | allocate + copy + free |
//! | realloc fallback -> fallback | the fallback's `realloc` |
//! | statistics | O(1) |
//!
//! Memory overhead: the header of each slab (296 bytes for 32 KiB slabs, 56 for 2 KiB) and its
//! short end (under 1 % of a 32 KiB slab for 16-byte blocks; for 2 KiB blocks, header and short
//! end cost two blocks in 16), the slab table (8 bytes per slot, 16 slots at first, doubling to
//! stay at most half full: at most 32 bytes per slab once grown, 0.1 % of a 32 KiB slab; one more allocation from the fallback, shown as
//! [`PoolStats::slab_table_bytes`]), rounding each request up to its class (less than half the
//! block), and free blocks kept by their class: a slab goes back only once all its blocks are
//! free (a single live block keeps its whole slab), and the table only when the pools are
//! dropped.
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
//! with room and its counts), `allocator` ([`SizeClassPools`], routing and reallocation) and
//! `locked` ([`LockedSizeClassPools`]).

mod allocator;
mod class;
mod class_pool;
mod locked;
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
