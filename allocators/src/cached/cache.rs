//! One cache: a magazine of free blocks per size class, its statistics, and the flag that gives
//! one thread at a time the use of it.
//!
//! ```text
//!   Slot (128-byte aligned: no two slots share a cache line, nor an adjacent-line prefetch pair)
//!   ┌ busy: AtomicBool ┐ set by the thread inside, with Acquire; cleared with Release
//!   │ bypassed: AtomicU64      calls that found it busy and went to the shared heap
//!   └ cache: UnsafeCell<Cache>
//!        magazines[class]: len │ blocks[0..len] = pointers to free blocks of the class
//!                                16 B: up to 64 │ ... │ 256 B: 64 │ 512 B: 32 │ 1 KiB: 16 │ 2 KiB: 8
//!        stats: CacheStats
//! ```
//!
//! A magazine is a stack: a free pushes, an allocation pops, so the block handed out is the one
//! freed last, still warm in the processor's cache. The pointers live in the magazine, never in
//! the free blocks themselves: a block's bytes are not touched between its free and its next
//! allocation (which also keeps a `Box` that is freed while a function still holds its
//! permission clear of any write by the allocator).
//!
//! Every pointer in a magazine carries the shared heap's provenance, never the one a block was
//! freed with (a `Box<[u64; 3]>`'s covers 24 bytes of its 32-byte block). A free rebases the
//! block's address on one of the cache's *roots*: spans of the shared heap's memory with the
//! heap's own pointer to each, learned from the heap (under its lock) the first time a block of
//! the span is freed into the cache, most recently used first:
//!
//! ```text
//!   roots: [region A: ptr, len][region B][ ][ ]   learned while the heap had given back n regions
//!   free(0x7f..a40) ── inside region A ──► A.ptr.with_addr(0x7f..a40) ──► magazine
//!                   └─ in no root, or the heap has given memory back since ──► shared lock once:
//!                      the heap's own pointer, and its span as a new root
//! ```

use core::cell::UnsafeCell;
use core::num::NonZeroUsize;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::Region;
use crate::pools::{CLASS_COUNT, block_size};

/// The most blocks a magazine can hold (the array's length).
pub(super) const MAGAZINE_SLOTS: usize = 64;

/// The most bytes a class's magazine may hold: 64 blocks of up to 256 B, fewer of the larger
/// classes, 79 KiB over all eight classes. (Half of each, 32 blocks and 8 KiB, sent the threads
/// of the random-actions mix to the shared heap 3.8 times as often, and cost them about 15 % of
/// their throughput at 2 and at 16 threads.)
const MAGAZINE_BYTES: usize = 16 * 1024;

/// The most blocks the magazine of `class` holds: as many as fit in [`MAGAZINE_BYTES`], at
/// least 4, at most [`MAGAZINE_SLOTS`]. One load from a table made at compile time (the free's
/// common path asks for it).
#[inline(always)]
pub(super) const fn magazine_limit(class: usize) -> usize {
    debug_assert!(class < CLASS_COUNT);
    MAGAZINE_LIMITS[class % CLASS_COUNT]
}

/// [`magazine_limit`] of every class.
const MAGAZINE_LIMITS: [usize; CLASS_COUNT] = {
    let mut limits = [0; CLASS_COUNT];
    let mut class = 0;
    while class < CLASS_COUNT {
        let fit = MAGAZINE_BYTES / block_size(class);
        limits[class] = if fit < 4 {
            4
        } else if fit > MAGAZINE_SLOTS {
            MAGAZINE_SLOTS
        } else {
            fit
        };
        class += 1;
    }
    limits
};

/// How many blocks a refill takes from the shared heap, and a drain gives back: half a
/// magazine, so that a thread alternating between allocating and freeing around a batch edge
/// does not go to the shared heap on every call.
pub(super) const fn batch(class: usize) -> usize {
    magazine_limit(class) / 2
}

/// What one cache has done, and what it holds now. Exact: every counter changes only while the
/// cache is held by one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CacheStats {
    /// Allocations served by this cache (from its magazines, refilled when empty).
    pub allocations: u64,
    /// Frees taken into this cache, whichever thread allocated the block.
    pub frees: u64,
    /// Batches taken from the shared heap to refill an empty magazine.
    pub refills: u64,
    /// Blocks those refills brought.
    pub refilled_blocks: u64,
    /// Batches given back to the shared heap, from a full magazine or a release.
    pub drains: u64,
    /// Blocks those drains gave back.
    pub drained_blocks: u64,
    /// Calls that found this cache in use by another thread (or by the same thread, re-entered
    /// from a signal handler) and went to the shared heap instead.
    pub bypassed: u64,
    /// Free blocks held now, all classes.
    pub cached_blocks: usize,
    /// Bytes of those blocks.
    pub cached_bytes: usize,
}

impl CacheStats {
    /// The sum of two caches' statistics (for a total over all caches).
    #[must_use]
    pub const fn plus(self, other: Self) -> Self {
        Self {
            allocations: self.allocations + other.allocations,
            frees: self.frees + other.frees,
            refills: self.refills + other.refills,
            refilled_blocks: self.refilled_blocks + other.refilled_blocks,
            drains: self.drains + other.drains,
            drained_blocks: self.drained_blocks + other.drained_blocks,
            bypassed: self.bypassed + other.bypassed,
            cached_blocks: self.cached_blocks + other.cached_blocks,
            cached_bytes: self.cached_bytes + other.cached_bytes,
        }
    }
}

/// The free blocks of one class held by one cache, as a stack.
pub(super) struct Magazine {
    /// How many entries of `blocks` hold a block.
    len: usize,
    /// `blocks[..len]`: free blocks of the class, each allocated from the shared heap with the
    /// class's layout; the rest is unused.
    blocks: [Option<NonNull<u8>>; MAGAZINE_SLOTS],
}

impl Magazine {
    /// An empty magazine.
    const EMPTY: Self = Self {
        len: 0,
        blocks: [None; MAGAZINE_SLOTS],
    };

    /// The block freed last, if any. O(1). (The entry is left as it is: only `blocks[..len]`
    /// counts.)
    #[inline]
    pub(super) fn pop(&mut self) -> Option<NonNull<u8>> {
        let top = self.len.checked_sub(1)?;
        self.len = top;
        self.blocks.get(top).copied().flatten()
    }

    /// Adds a free block; `false` (and nothing changes) when the magazine holds `limit` blocks
    /// already. O(1).
    #[inline]
    pub(super) fn push(&mut self, block: NonNull<u8>, limit: usize) -> bool {
        if self.len >= limit {
            return false;
        }
        let Some(entry) = self.blocks.get_mut(self.len) else {
            return false;
        };
        *entry = Some(block);
        self.len += 1;
        true
    }

    /// The blocks held now.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether `block` is held here. O(len).
    pub(super) fn holds(&self, block: NonNull<u8>) -> bool {
        self.blocks[..self.len].contains(&Some(block))
    }
}

/// How many spans of the shared heap a cache remembers.
const ROOTS: usize = 4;

/// Spans of the shared heap's memory, each with the heap's own pointer for all of it (see
/// [`RawAllocator::span_of`](crate::RawAllocator::span_of)), most recently used first.
pub(super) struct Roots {
    /// The spans; an empty one (zero length) holds nothing.
    spans: [Region; ROOTS],
    /// The shared heap's count of memory given back when these spans were learned: they are
    /// valid while it has not changed.
    given_back: usize,
}

impl Roots {
    /// No spans.
    pub(super) const EMPTY: Self = Self {
        spans: [Region::new(NonNull::dangling(), 0); ROOTS],
        given_back: 0,
    };

    /// The shared heap's pointer to `address`, when the first span (the most recently used)
    /// holds it and is still valid at `given_back` (the heap's count now). Two comparisons: the
    /// free's common case, with no call that would make it save registers.
    #[inline(always)]
    pub(super) fn rebase_on_first(
        &self,
        address: NonZeroUsize,
        given_back: usize,
    ) -> Option<NonNull<u8>> {
        let first = self.spans[0];
        (self.given_back == given_back && first.contains_addr(address.get()))
            .then(|| first.ptr().with_addr(address))
    }

    /// The shared heap's pointer to `address`, when a span still valid at `given_back` (the
    /// heap's count now) holds it; that span moves to the front. O(ROOTS).
    pub(super) fn rebase(
        &mut self,
        address: NonZeroUsize,
        given_back: usize,
    ) -> Option<NonNull<u8>> {
        if self.given_back != given_back {
            return None;
        }
        let found = self
            .spans
            .iter()
            .position(|span| span.contains_addr(address.get()))?;
        self.spans[..=found].rotate_right(1);
        Some(self.spans[0].ptr().with_addr(address))
    }

    /// Remembers `span`, learned when the heap's count was `given_back`, first (forgetting the
    /// least recently used span, or every span when the count has changed since they were
    /// learned).
    pub(super) fn learn(&mut self, span: Region, given_back: usize) {
        if self.given_back != given_back {
            *self = Self::EMPTY;
            self.given_back = given_back;
        }
        self.spans.rotate_right(1);
        self.spans[0] = span;
    }
}

/// One thread's (or CPU's) cache: a magazine per size class, its roots and its statistics.
pub(super) struct Cache {
    /// Indexed by size class.
    pub(super) magazines: [Magazine; CLASS_COUNT],
    /// Where the addresses of freed blocks are rebased.
    pub(super) roots: Roots,
    /// The counters of events; what the cache holds is read from the magazines ([`stats`]).
    ///
    /// [`stats`]: Cache::stats
    pub(super) events: CacheStats,
}

impl Cache {
    /// An empty cache.
    const EMPTY: Self = Self {
        magazines: [const { Magazine::EMPTY }; CLASS_COUNT],
        roots: Roots::EMPTY,
        events: CacheStats {
            allocations: 0,
            frees: 0,
            refills: 0,
            refilled_blocks: 0,
            drains: 0,
            drained_blocks: 0,
            bypassed: 0,
            cached_blocks: 0,
            cached_bytes: 0,
        },
    };

    /// The counters, with the blocks and bytes held now counted from the magazines (kept out
    /// of the hot paths: O(classes) here instead of two additions on every call). The caller
    /// fills in `bypassed`.
    pub(super) fn stats(&self) -> CacheStats {
        let mut stats = self.events;
        for (class, magazine) in self.magazines.iter().enumerate() {
            stats.cached_blocks += magazine.len();
            stats.cached_bytes += magazine.len() * block_size(class);
        }
        stats
    }
}

/// A cache with the flag that lets one thread at a time use it.
#[repr(align(128))]
pub(super) struct Slot {
    /// Whether a thread is inside the cache now.
    busy: AtomicBool,
    /// Calls that found `busy` set (kept outside the cache, which such a call cannot touch).
    bypassed: AtomicUsize,
    /// Only touched by the thread that set `busy`, until it clears it.
    cache: UnsafeCell<Cache>,
}

// SAFETY: the cache is reached only through `SlotGuard`, which exists only while its thread
// holds `busy` (set by a successful swap with Acquire, cleared with Release on drop), so the
// accesses of two threads are ordered and never overlap. The blocks it points to belong to the
// shared heap, which any thread may use.
unsafe impl Sync for Slot {}
// SAFETY: as for `Sync`; the pointers in the magazines are blocks of the shared heap, not tied
// to any thread.
unsafe impl Send for Slot {}

impl Slot {
    /// A free slot with an empty cache.
    pub(super) const fn new() -> Self {
        Self {
            busy: AtomicBool::new(false),
            bypassed: AtomicUsize::new(0),
            cache: UnsafeCell::new(Cache::EMPTY),
        }
    }

    /// The cache, if no thread is inside it now; else `None`. One atomic swap.
    #[inline]
    pub(super) fn enter(&self) -> Option<SlotGuard<'_>> {
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        Some(SlotGuard(self))
    }

    /// Counts a call that found the cache busy and went to the shared heap.
    pub(super) fn note_bypass(&self) {
        self.bypassed.fetch_add(1, Ordering::Relaxed);
    }

    /// The cache, waiting (spinning) while another thread is inside; for the rare calls that
    /// must reach this very cache (statistics, release). A thread stays inside for one
    /// allocator call at most.
    pub(super) fn wait_and_enter(&self) -> SlotGuard<'_> {
        loop {
            if !self.busy.swap(true, Ordering::Acquire) {
                return SlotGuard(self);
            }
            while self.busy.load(Ordering::Relaxed) {
                core::hint::spin_loop();
            }
        }
    }

    /// The calls that found this cache busy so far (a word-sized counter: atomic 64-bit
    /// counters do not exist on every 32-bit target).
    pub(super) fn bypassed(&self) -> u64 {
        self.bypassed.load(Ordering::Relaxed) as u64
    }
}

/// Exclusive use of one slot's cache, until dropped.
pub(super) struct SlotGuard<'a>(&'a Slot);

impl SlotGuard<'_> {
    /// The cache.
    #[inline]
    pub(super) fn cache(&mut self) -> &mut Cache {
        // SAFETY: this guard exists only while its thread holds `busy` (see `Slot::enter`), so
        // no other reference to the cache exists until the guard is dropped; the `&mut self`
        // borrow keeps this one from being taken twice.
        unsafe { &mut *self.0.cache.get() }
    }
}

impl Drop for SlotGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.busy.store(false, Ordering::Release);
    }
}
