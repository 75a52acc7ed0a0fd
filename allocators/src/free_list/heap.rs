//! The allocation policy: where a request is placed, how a freed block merges, when the heap
//! grows and when a region goes back to the grower.
//!
//! ```text
//!   allocate(layout)
//!     need = payload + tag, rounded to 16 (at least one minimal block)
//!     large (>= dedicated_threshold)? ──► a region of its own from the grower
//!     else bins.find_fit(need [+ alignment slack]) ──► none? grow a region
//!     place: [front gap → free] [block: need] [tail → free when >= MIN_BLOCK]
//!
//!   deallocate(ptr)
//!     checks (null, region, alignment, tag shape, allocated, neighbours agree)
//!     merge:  [prev free?][ block ][next free?]  ──►  [      one free block      ]
//!     the merged block covers its whole region? ──► give the region back (policy)
//! ```
//!
//! Costs: `allocate` is O(1) when a fitting block is binned (two bit scans, a few tag writes)
//! plus one grower call when the heap grows; `deallocate` is O(regions) for the raw API's
//! region check and O(1) for the rest; `reallocate` is O(1) in place, or an allocation, a copy
//! and a free.
//!
//! A pointer coming back from a caller reaches its own bytes only, `[ptr, ptr + layout.size())`
//! (the caller's *span*: its tag may cover no more, and may still be protected while the free
//! runs). Everything else is reached with the provenance of the heap's own memory: the checked
//! path re-bases the address on the region its check found, the trusted path on the region
//! [`RegionList::rebase`] finds (two comparisons when it is the region of the previous miss, else
//! a walk over the regions). The words a free or a resize writes into the span (a freed block's
//! links and footer, a shrunk block's new tail) go through the caller's pointer, by
//! [`CallerSpan`] (see [`tag`](super::tag)); the bytes a move copies are read through it. Pointers
//! kept in the bins and handed out always carry the region's provenance.

use core::alloc::Layout;
use core::ptr::NonNull;

use super::bins::Bins;
use super::inspect::Stats;
use super::region::{REGION_OVERHEAD, RegionList, RegionView};
use super::tag::{Block, CallerSpan, GRANULE, MAX_BLOCK, MIN_BLOCK, Tag, WORD};
use crate::grower::{BadPageSize, HeapGrower, MmapGrower};
use crate::raw_allocator::move_block;
use crate::{FreeError, OutOfMemory, RawAllocator, ResizeError};

/// When the heap takes whole regions for large blocks and when it gives regions back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A request whose block needs at least this many bytes gets a region of its own from the
    /// grower, given back when the block is freed (only with growers that can release).
    /// Default 256 KiB; `usize::MAX` turns dedicated regions off.
    pub dedicated_threshold: usize,
    /// Whether a region that becomes entirely free is given back to the grower. Default `true`.
    pub release_empty_regions: bool,
    /// How many general (non-dedicated) regions are kept even when empty, so that a heap that
    /// repeatedly empties and refills does not map and unmap each time. Default 1.
    pub retained_regions: usize,
}

impl Policy {
    /// The defaults: dedicated regions from 256 KiB, release empty regions, keep one.
    pub const DEFAULT: Self = Self {
        dedicated_threshold: 256 * 1024,
        release_empty_regions: true,
        retained_regions: 1,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A growing heap: boundary-tagged blocks in regions from a [`HeapGrower`], free blocks in
/// segregated lists with bitmaps (see the [module docs](crate::free_list)).
///
/// Single-threaded; [`LockedFreeListAllocator`](super::LockedFreeListAllocator) is the form for
/// `#[global_allocator]`. Dropping it gives every region back to the grower (if it can take
/// them), so pointers it handed out dangle afterwards.
pub struct FreeListAllocator<G: HeapGrower> {
    bins: Bins,
    regions: RegionList,
    /// The counters; `free_bytes` is derived in [`stats`](Self::stats), not kept here.
    stats: Stats,
    /// Bytes of all blocks of all regions, free or allocated (each region's span from its
    /// first block to its sentinel): the free bytes are this minus the bytes in use.
    block_bytes: usize,
    general_regions: usize,
    policy: Policy,
    grower: G,
}

// SAFETY: the raw pointers inside point only into regions owned by this allocator (handed over
// by the grower), never to thread-local data, so the whole heap may move to another thread
// with its grower.
unsafe impl<G: HeapGrower + Send> Send for FreeListAllocator<G> {}

/// The block size that holds a payload of `size` bytes, or `None` when it is too large.
fn block_size_for(size: usize) -> Option<usize> {
    // One comparison instead of checked steps: `MAX_BLOCK` is a multiple of the granule, so
    // the rounded block fits exactly when the unrounded one does, and nothing can overflow.
    if size > MAX_BLOCK - WORD {
        return None;
    }
    Some(((size + WORD + GRANULE - 1) & !(GRANULE - 1)).max(MIN_BLOCK))
}

/// How large a free block must be to hold a block of `need` bytes whose payload is aligned to
/// `align`: payloads are always 16-aligned; beyond that the front gap is at most `align + 16`.
fn search_size(need: usize, align: usize) -> Option<usize> {
    if align <= GRANULE {
        return Some(need);
    }
    need.checked_add(align)?.checked_add(GRANULE)
}

/// Bytes to skip at the front of `block` so its payload is `align`-aligned; zero, or large
/// enough to become a free block of its own.
fn front_gap(block: Block, align: usize) -> usize {
    // `align` is a power of two (a `Layout`'s): the distance to its next multiple is a mask
    // of the negated address, no division.
    let gap = block.payload().addr().get().wrapping_neg() & (align - 1);
    if gap != 0 && gap < MIN_BLOCK {
        gap + align
    } else {
        gap
    }
}

impl<G: HeapGrower> FreeListAllocator<G> {
    /// An empty heap that grows through `grower`, with the default [`Policy`]. O(1), no memory
    /// is taken until the first allocation.
    #[must_use]
    pub const fn new(grower: G) -> Self {
        Self::with_policy(grower, Policy::DEFAULT)
    }

    /// An empty heap with the given policy. O(1).
    #[must_use]
    pub const fn with_policy(grower: G, policy: Policy) -> Self {
        Self {
            bins: Bins::new(),
            regions: RegionList::new(),
            stats: Stats::ZERO,
            block_bytes: 0,
            general_regions: 0,
            policy,
            grower,
        }
    }

    /// The grower (e.g. to read its counters). O(1).
    pub const fn grower(&self) -> &G {
        &self.grower
    }

    /// The policy in force. O(1).
    pub const fn policy(&self) -> Policy {
        self.policy
    }

    /// The current statistics. O(1).
    pub const fn stats(&self) -> Stats {
        Stats {
            free_bytes: self.block_bytes - self.stats.in_use_bytes,
            ..self.stats
        }
    }

    pub(super) const fn bins(&self) -> &Bins {
        &self.bins
    }

    pub(super) const fn region_list(&self) -> &RegionList {
        &self.regions
    }

    /// Allocates a block for `layout`; any power-of-two alignment is honoured. A zero-sized
    /// layout gets a real (minimal) block. `None` when the grower has no more memory or the size
    /// is impossible.
    ///
    /// O(1) when a binned block fits (two bit scans over the bins); otherwise one call to the
    /// grower.
    fn allocate_block(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        let need = block_size_for(layout.size())?;
        let search = search_size(need, layout.align())?;
        let dedicated = need >= self.policy.dedicated_threshold && self.grower.can_release();
        if dedicated && let Some(block) = self.allocate_grown(layout, need, search, true) {
            return Some(block);
        }
        // Not dedicated, or no dedicated region could be had: a binned block, else a general
        // region, serves.
        // SAFETY: the bins hold only free blocks of this heap with valid tags.
        if let Some(fit) = unsafe { self.bins.find_fit(search) } {
            // SAFETY: a listed free block of `fit.size >= search` bytes in class `fit.class`;
            // its previous block is allocated and its next tag has the P flag.
            let block =
                unsafe { self.place(fit.block, fit.size, Some(fit.class), need, layout.align()) };
            return Some(block.payload());
        }
        self.allocate_grown(layout, need, search, false)
    }

    /// The rest of [`allocate`](Self::allocate) when no binned block fits: a new region, then
    /// the block from it. Out of line, so that the hot path makes no call and keeps its values
    /// in scratch registers.
    #[cold]
    #[inline(never)]
    fn allocate_grown(
        &mut self,
        layout: Layout,
        need: usize,
        search: usize,
        dedicated: bool,
    ) -> Option<NonNull<u8>> {
        let (block, size) = self.grow(search, dedicated)?;
        // SAFETY: a fresh free block of `size >= search` bytes in no list; a region's first
        // block, whose next tag (the sentinel's) has the P flag.
        let block = unsafe { self.place(block, size, None, need, layout.align()) };
        Some(block.payload())
    }

    /// Frees the block at `ptr`, allocated with `layout`, merging it with free neighbours; gives
    /// its region back to the grower when the region becomes empty (see [`Policy`]).
    ///
    /// Checks, in order: null ([`FreeError::NullPtrFree`]); inside a region
    /// ([`FreeError::FreeOutOfBounds`], O(regions)); aligned, and the tag before it shaped like a
    /// block that fits the region ([`FreeError::UnalignedFree`]); allocated
    /// ([`FreeError::DoubleFree`]); `layout` fits the block and the neighbours' tags agree
    /// ([`FreeError::CorruptedBlock`]). A refused free changes nothing. O(regions) + O(1).
    ///
    /// # Errors
    /// The [`FreeError`] of the first check that fails.
    ///
    /// # Safety
    /// If `ptr` lies inside one of the heap's regions, the word before it must be initialized
    /// memory (it always is for a pointer this heap returned, live or freed); after a successful
    /// free nothing may use the block. Interior pointers are caught only as far as the tags show:
    /// user data that imitates a consistent tag cannot be told from one. A tag already damaged
    /// (by a buffer overflow) is followed as far as the checks go: the words it leads them to
    /// read (a claimed footer) must be initialized memory too.
    unsafe fn free_checked(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        let (block, caller) = self.checked_block(ptr, layout)?;
        // SAFETY: `block` passed every check: an allocated block of this heap, whose payload's
        // first `layout.size()` bytes the caller hands back through `ptr`.
        unsafe { self.release_block(block, caller) };
        Ok(())
    }

    /// Resizes the block at `ptr` (allocated with `layout`) to `new_size` bytes, keeping its
    /// alignment and the first `min(old, new)` bytes. In place when shrinking (the tail is freed
    /// when it can form a block) or when the following block is free and large enough (O(1));
    /// otherwise allocate, copy and free.
    ///
    /// # Errors
    /// [`ResizeError::Invalid`] with the checks of [`deallocate`](Self::deallocate);
    /// [`ResizeError::OutOfMemory`] when the new block cannot be had; the old block is kept.
    ///
    /// # Safety
    /// As for [`deallocate`](Self::deallocate); on success the old pointer must not be used
    /// (unless it is the returned one).
    unsafe fn reallocate(
        &mut self,
        ptr: *mut u8,
        layout: Layout,
        new_size: usize,
    ) -> Result<NonNull<u8>, ResizeError> {
        let (block, caller) = self
            .checked_block(ptr, layout)
            .map_err(ResizeError::Invalid)?;
        // SAFETY: `block` passed every check: an allocated block of this heap, whose payload's
        // first `layout.size()` bytes the caller hands back through `ptr`.
        unsafe { self.reallocate_block(block, caller, layout, new_size) }
            .ok_or(ResizeError::OutOfMemory)
    }

    /// Frees the block at `ptr` the way the `GlobalAlloc` form does: without the region walk
    /// of [`deallocate`](Self::deallocate), only the O(1) checks of the block's own tag and its
    /// neighbours' (a free those checks refuse is ignored, nothing changes). O(1).
    ///
    /// For callers that, like a `#[global_allocator]`'s, only ever free what they allocated;
    /// anything else should use the checked [`deallocate`](Self::deallocate).
    ///
    /// # Safety
    /// `ptr` must be null or a live pointer this heap returned for `layout` (from
    /// [`allocate`](Self::allocate) or a reallocation); after the call nothing may use the block.
    unsafe fn free_trusted(&mut self, ptr: *mut u8, layout: Layout) {
        let Some(ptr) = NonNull::new(ptr) else { return };
        let Some(block) = self.trusted_block(ptr) else {
            return;
        };
        // SAFETY: as above, the tag and the next tag are in the region.
        if unsafe { self.verify_allocated(block, layout, None) }.is_ok() {
            let caller = CallerSpan::new(ptr, layout.size());
            // SAFETY: verified allocated block of this heap; the caller hands its payload's
            // first `layout.size()` bytes back through `ptr`.
            unsafe { self.release_block(block, caller) };
        }
    }

    /// Resizes the block at `ptr` the way the `GlobalAlloc` form does: the O(1) checks of
    /// [`deallocate_trusted`](Self::deallocate_trusted), then [`reallocate`](Self::reallocate)'s
    /// work. `None` (old block kept) when the checks refuse or memory runs out. O(1) in place,
    /// else an allocation, a copy and a free.
    ///
    /// # Safety
    /// `ptr` must be a live pointer this heap returned for `layout`; on success the old pointer
    /// must not be used (unless it is the returned one).
    unsafe fn reallocate_trusted(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let block = self.trusted_block(ptr)?;
        // SAFETY: the caller guarantees `ptr` is a payload of this heap.
        unsafe { self.verify_allocated(block, layout, None) }.ok()?;
        let caller = CallerSpan::new(ptr, layout.size());
        // SAFETY: verified allocated block of this heap; the caller hands its payload's first
        // `layout.size()` bytes back through `ptr`.
        unsafe { self.reallocate_block(block, caller, layout, new_size) }
    }

    /// The block whose payload is at `ptr`'s address, reached through its region's provenance
    /// (see [`RegionList::rebase`]): O(1) in the common case, O(regions) at worst. `None` when no
    /// region holds the address (a caller that broke the trusted contract: nothing is touched).
    fn trusted_block(&mut self, ptr: NonNull<u8>) -> Option<Block> {
        let payload = self.regions.rebase(ptr.addr())?;
        // SAFETY: a payload of this heap (the trusted caller's promise) is never its region's
        // first byte, so the word before it lies in the same region.
        Some(unsafe { Block::of_payload(payload) })
    }

    /// The raw API's checks, O(regions): returns the block of `ptr`, reached through the
    /// provenance of the region that holds it, and the caller's span (`layout.size()` bytes
    /// through `ptr`).
    fn checked_block(
        &self,
        ptr: *mut u8,
        layout: Layout,
    ) -> Result<(Block, CallerSpan), FreeError> {
        let ptr = NonNull::new(ptr).ok_or(FreeError::NullPtrFree)?;
        let addr = ptr.addr().get();
        let Some(region) = self.regions.find_payload(addr) else {
            return Err(if self.regions.contains(addr) {
                FreeError::UnalignedFree
            } else {
                FreeError::FreeOutOfBounds
            });
        };
        if addr % layout.align().max(GRANULE) != 0 {
            return Err(FreeError::UnalignedFree);
        }
        let payload = region.first.ptr().with_addr(ptr.addr());
        // SAFETY: `payload` is past the first block's tag of `region`, so its tag word is inside.
        let block = unsafe { Block::of_payload(payload) };
        // SAFETY: the tag word is inside `region`'s block area, and initialized by the caller's
        // promise; the region bounds every further read.
        unsafe { self.verify_allocated(block, layout, Some(&region)) }?;
        Ok((block, CallerSpan::new(ptr, layout.size())))
    }

    /// Checks that `block` is an allocated block that `layout` fits, as far as tags show. With
    /// `bounds`, every read stays inside that region; without, the caller vouches for the block.
    ///
    /// # Safety
    /// `block`'s tag word must be initialized memory of a region, and with `bounds == None`
    /// `block` must be a block of this heap.
    unsafe fn verify_allocated(
        &self,
        block: Block,
        layout: Layout,
        bounds: Option<&RegionView>,
    ) -> Result<(), FreeError> {
        // SAFETY: the caller vouches for the tag word.
        let tag = unsafe { block.tag() };
        if !tag.has_block_shape() {
            return Err(FreeError::UnalignedFree);
        }
        if let Some(region) = bounds {
            let fits = tag.size() <= region.sentinel.addr() - block.addr();
            if !fits || tag.is_first() != (block == region.first) {
                return Err(FreeError::UnalignedFree);
            }
        }
        if !tag.is_allocated() {
            return Err(FreeError::DoubleFree);
        }
        // The block (a multiple of the granule, at least MIN_BLOCK: its shape is checked) holds
        // the request exactly when its payload does; one comparison, no rounding.
        if layout.size() > tag.size() - WORD {
            return Err(FreeError::CorruptedBlock);
        }
        // SAFETY: the block (checked against `bounds`, or vouched for) ends at or before the
        // sentinel, so the next tag is inside the region.
        let next_tag = unsafe { block.forward(tag.size()).tag() };
        if next_tag.prev_free() {
            return Err(FreeError::CorruptedBlock);
        }
        match bounds {
            // SAFETY: the bounds keep the footer and previous tag reads inside the region.
            Some(region) if tag.prev_free() => unsafe { Self::verify_prev(block, region) },
            _ => Ok(()),
        }
    }

    /// Checks that the free block before `block` agrees with it (footer and tag).
    ///
    /// # Safety
    /// `block` must lie in `region`'s block area, after its first block.
    unsafe fn verify_prev(block: Block, region: &RegionView) -> Result<(), FreeError> {
        // SAFETY: `block` is not the first block, so the word before it is in the region.
        let prev_size = unsafe { block.prev_size() };
        if prev_size > block.addr() - region.first.addr() || prev_size < MIN_BLOCK {
            return Err(FreeError::CorruptedBlock);
        }
        // SAFETY: `block - prev_size` is at or after the first block (checked just above).
        let prev_tag = unsafe { block.backward(prev_size).tag() };
        if prev_tag.is_allocated() || prev_tag.size() != prev_size {
            return Err(FreeError::CorruptedBlock);
        }
        Ok(())
    }

    /// Grows the heap by a region with room for a free block of `search` bytes and returns
    /// that block (tagged free, not binned). Cold: once per region.
    #[cold]
    fn grow(&mut self, search: usize, dedicated: bool) -> Option<(Block, usize)> {
        let min_size = search.checked_add(REGION_OVERHEAD)?;
        let grown = if dedicated {
            self.grower.grow_dedicated(min_size)
        } else {
            self.grower.grow(min_size)
        }
        .ok()?;
        // SAFETY: the grower hands out valid, unused memory that stays ours until released.
        let Some(region) = (unsafe { self.regions.adopt(grown, dedicated) }) else {
            // SAFETY: `grown` came from the grower just now and nothing uses it.
            let _ = unsafe { self.grower.release(grown) };
            return None;
        };
        self.stats.mapped_bytes += grown.len();
        self.stats.regions += 1;
        self.stats.grows += 1;
        self.general_regions += usize::from(!dedicated);
        let size = region.sentinel.addr() - region.first.addr();
        self.block_bytes += size;
        // SAFETY: the first block lies in the fresh region; it is one free block up to the
        // sentinel (whose P flag `adopt` set).
        unsafe { region.first.set_tag(Tag::free(size, true), None) };
        Some((region.first, size))
    }

    /// Carves an allocated block of `need` bytes, `align`-aligned payload, out of the free block
    /// `block` of `size` bytes; the front gap and the tail go back to the bins. A tail that
    /// stays in the listed block's class takes its place in the list (no bitmap work).
    ///
    /// # Safety
    /// `block` must be a free block of `size >= search_size(need, align)` bytes, listed in
    /// class `c` when `listed == Some(c)` and in no list when `None`, whose previous block is
    /// allocated and whose next tag has the P flag.
    #[inline(always)]
    unsafe fn place(
        &mut self,
        block: Block,
        size: usize,
        listed: Option<usize>,
        need: usize,
        align: usize,
    ) -> Block {
        let (mut block, mut size, mut listed) = (block, size, listed);
        // SAFETY: `block` is a tagged free block.
        let mut first = unsafe { block.tag() }.is_first();
        let mut prev_free = false;
        if align > GRANULE {
            let gap = front_gap(block, align);
            if gap > 0 {
                // SAFETY: `gap + need <= size` by `search_size`; the gap is a block of at least
                // MIN_BLOCK bytes at the front of the free block, unlisted before re-binning.
                unsafe {
                    if let Some(class) = listed.take() {
                        self.remove_listed(block, class);
                    }
                    self.insert_free(block, gap, first, None);
                }
                // SAFETY: still inside the free block.
                block = unsafe { block.forward(gap) };
                size -= gap;
                first = false;
                prev_free = true;
            }
        }
        let rest = size - need;
        if rest >= MIN_BLOCK {
            // SAFETY: the tail `[need, size)` lies in the free block and forms a block; the tag
            // after it already has the P flag; its links start at least MIN_BLOCK bytes after
            // the block's, so they do not overlap.
            unsafe {
                let tail = block.forward(need);
                tail.set_tag(Tag::free(rest, false), None);
                tail.write_footer(rest, None);
                match listed {
                    Some(class) => self.bins.relocate_in(block, size, class, tail, rest),
                    None => {
                        self.bins.push(tail, rest, None);
                        self.stats.free_blocks += 1;
                    }
                }
            }
            size = need;
        } else {
            // SAFETY: the tag after the block is inside the region (at most the sentinel); a
            // listed block leaves the bins whole.
            unsafe {
                if let Some(class) = listed {
                    self.remove_listed(block, class);
                }
                block.forward(size).set_prev_free(false);
            }
        }
        // SAFETY: the block's tag word is part of the free block being carved.
        unsafe { block.set_tag(Tag::allocated(size, prev_free, first), None) };
        self.count_allocated(size);
        block
    }

    /// Frees an allocated block: merges it with free neighbours, then bins the result or gives
    /// its region back. The links and the footer, which may fall in the caller's bytes, are
    /// written through `caller`'s pointer there; tags lie before the payload or after the block,
    /// outside the span, and go through the region.
    ///
    /// # Safety
    /// `block` must be an allocated block of this heap; `caller` the bytes of its payload that
    /// the caller hands back.
    unsafe fn release_block(&mut self, block: Block, caller: CallerSpan) {
        let caller = Some(caller);
        // SAFETY: `block` is an allocated block: its tag, its neighbours' tags, and (with the P
        // flag) its predecessor's footer are valid; free neighbours are listed.
        unsafe {
            let tag = block.tag();
            self.stats.in_use_bytes -= tag.size();
            self.stats.allocated_blocks -= 1;
            let (mut start, mut size, mut first) = (block, tag.size(), tag.is_first());
            // The listed free neighbour whose place in the bins the merged block takes.
            let mut listed = None;
            if tag.prev_free() {
                let prev_size = block.prev_size();
                start = block.backward(prev_size);
                // A stale free tag, so that freeing `block` again reads as a double free.
                block.set_tag(Tag::free(tag.size(), false), None);
                size += prev_size;
                first = start.tag().is_first();
                listed = Some((start, prev_size));
            }
            let next = block.forward(tag.size());
            let next_tag = next.tag();
            if next_tag.is_allocated() {
                next.set_tag(next_tag.with_prev_free(), None);
            } else {
                size += next_tag.size();
                match listed {
                    Some(_) => self.remove_free(next, next_tag.size()),
                    None => listed = Some((next, next_tag.size())),
                }
            }
            // Only a first block can span its region; then the tag after it is the sentinel's.
            if first && start.forward(size).tag().size() == 0 {
                if let Some((old, old_size)) = listed {
                    self.remove_free(old, old_size);
                }
                self.release_region(start, size, caller);
                return;
            }
            start.set_tag(Tag::free(size, first), None);
            start.write_footer(size, caller);
            match listed {
                Some((old, old_size)) => self.bins.relocate(old, old_size, start, size, caller),
                None => {
                    self.bins.push(start, size, caller);
                    self.stats.free_blocks += 1;
                }
            }
        }
    }

    /// The region whose only block is the free block `first` (of `size` bytes): gives it back
    /// to the grower if the policy allows and the grower takes it, else bins the block.
    ///
    /// # Safety
    /// `first` must be an unbinned free block spanning its whole region; `caller` the bytes in
    /// it still reachable only through the caller's pointer, if any.
    #[cold]
    unsafe fn release_region(&mut self, first: Block, size: usize, caller: Option<CallerSpan>) {
        // SAFETY: `first` is the first block of one of this heap's regions.
        let region = unsafe { self.regions.of_first_block(first) };
        if self.may_release(&region) {
            // SAFETY: the region is in the list, and entirely free: nothing uses it.
            unsafe { self.regions.unlink(&region) };
            // SAFETY: `grown` is exactly what the grower handed out, now unused.
            match unsafe { self.grower.release(region.grown) } {
                Ok(()) => {
                    self.block_bytes -= size;
                    self.stats.mapped_bytes -= region.grown.len();
                    self.stats.regions -= 1;
                    self.stats.releases += 1;
                    self.general_regions -= usize::from(!region.dedicated);
                    return;
                }
                // SAFETY: the grower kept nothing: the region is still ours and intact.
                Err(_) => unsafe { self.regions.relink(&region) },
            }
        }
        // SAFETY: the caller guarantees an unbinned free block of `size` bytes.
        unsafe { self.insert_free(first, size, true, caller) };
    }

    /// Whether the policy lets an empty `region` go.
    fn may_release(&self, region: &RegionView) -> bool {
        self.policy.release_empty_regions
            && self.grower.can_release()
            && (region.dedicated || self.general_regions > self.policy.retained_regions)
    }

    /// Resizes an allocated block, in place if possible, else by moving it. The caller's bytes
    /// are read and overwritten through `caller`'s pointer only; the block handed back carries
    /// the region's provenance.
    ///
    /// # Safety
    /// `block` must be an allocated block of this heap that `layout` fits; `caller` its first
    /// `layout.size()` payload bytes, as the caller hands them back.
    unsafe fn reallocate_block(
        &mut self,
        block: Block,
        caller: CallerSpan,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let need = block_size_for(new_size)?;
        // SAFETY: forwarded to the caller.
        if unsafe { self.resize_in_place(block, need, caller) } {
            return Some(block.payload());
        }
        let moved = self.allocate_block(Layout::from_size_align(new_size, layout.align()).ok()?)?;
        // SAFETY: the old payload holds at least `layout.size()` bytes, the new one `new_size`;
        // they are distinct blocks, so they do not overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(
                caller.ptr().as_ptr(),
                moved.as_ptr(),
                layout.size().min(new_size),
            );
        }
        // SAFETY: `block` is still allocated (allocating elsewhere may only change its P flag,
        // which `release_block` re-reads).
        unsafe { self.release_block(block, caller) };
        Some(moved)
    }

    /// Shrinks the allocated `block` to `need` bytes, or grows it into a free next block;
    /// `false` when neither works.
    ///
    /// # Safety
    /// `block` must be an allocated block of this heap; `caller` its bytes the caller hands back.
    unsafe fn resize_in_place(&mut self, block: Block, need: usize, caller: CallerSpan) -> bool {
        // SAFETY: the tags of an allocated block and of its next block are valid.
        let (tag, next_tag) = unsafe { (block.tag(), block.forward(block.tag().size()).tag()) };
        let size = tag.size();
        if need <= size {
            // SAFETY: forwarded.
            unsafe { self.shrink_in_place(block, tag, need, caller) };
            return true;
        }
        if next_tag.is_allocated() || size + next_tag.size() < need {
            return false;
        }
        // SAFETY: the next block is a binned free block; the merged span stays in the region.
        unsafe {
            self.remove_free(block.forward(size), next_tag.size());
            let total = size + next_tag.size();
            let kept = if total - need >= MIN_BLOCK {
                self.insert_free(block.forward(need), total - need, false, Some(caller));
                need
            } else {
                block.forward(total).set_prev_free(false);
                total
            };
            block.set_tag(Tag::allocated(kept, tag.prev_free(), tag.is_first()), None);
            self.stats.in_use_bytes -= size;
            self.count_allocated_bytes(kept);
        }
        true
    }

    /// Shrinks the allocated `block` (tag `tag`) to `need <= size` bytes, freeing the tail when
    /// it can form a block. The tail's tag, links and footer may fall in the caller's bytes of
    /// the old size: written through `caller`'s pointer there.
    ///
    /// # Safety
    /// `block` must be an allocated block of this heap with tag `tag`; `caller` its bytes the
    /// caller hands back.
    unsafe fn shrink_in_place(&mut self, block: Block, tag: Tag, need: usize, caller: CallerSpan) {
        let size = tag.size();
        if size - need < MIN_BLOCK {
            return;
        }
        // SAFETY: the tail `[need, size)` lies in the block; the next block's tag is valid and,
        // when free, the next block is binned; the tag after the merged tail is in the region.
        unsafe {
            block.set_tag(Tag::allocated(need, tag.prev_free(), tag.is_first()), None);
            self.stats.in_use_bytes -= size - need;
            let next_tag = block.forward(size).tag();
            let mut tail_size = size - need;
            if !next_tag.is_allocated() {
                self.remove_free(block.forward(size), next_tag.size());
                tail_size += next_tag.size();
            }
            let tail = block.forward(need);
            tail.forward(tail_size).set_prev_free(true);
            self.insert_free(tail, tail_size, false, Some(caller));
        }
    }

    /// Tags `block` free (`size` bytes, footer included) and bins it; what falls in `caller`'s
    /// span goes through the caller's pointer.
    ///
    /// # Safety
    /// `block` must be `size` bytes of a region that no other allocated block covers, not
    /// binned, whose previous block is allocated.
    unsafe fn insert_free(
        &mut self,
        block: Block,
        size: usize,
        first: bool,
        caller: Option<CallerSpan>,
    ) {
        // SAFETY: forwarded to the caller.
        unsafe {
            block.set_tag(Tag::free(size, first), caller);
            block.write_footer(size, caller);
            self.bins.push(block, size, caller);
        }
        self.stats.free_blocks += 1;
    }

    /// Takes the binned free `block` of `size` bytes out of its bin.
    ///
    /// # Safety
    /// `block` must be a binned free block of `size` bytes.
    unsafe fn remove_free(&mut self, block: Block, size: usize) {
        // SAFETY: forwarded to the caller.
        unsafe { self.bins.unlink(block, size) };
        self.stats.free_blocks -= 1;
    }

    /// Takes the free `block`, listed in class `class`, out of its bin.
    ///
    /// # Safety
    /// `block` must be a free block listed in class `class`.
    unsafe fn remove_listed(&mut self, block: Block, class: usize) {
        // SAFETY: forwarded to the caller.
        unsafe { self.bins.unlink_in(block, class) };
        self.stats.free_blocks -= 1;
    }

    /// Counts a newly allocated block of `size` bytes.
    fn count_allocated(&mut self, size: usize) {
        self.stats.allocated_blocks += 1;
        self.count_allocated_bytes(size);
    }

    /// Adds `size` bytes to the bytes in use and the peak.
    fn count_allocated_bytes(&mut self, size: usize) {
        self.stats.in_use_bytes += size;
        self.stats.peak_in_use_bytes = self.stats.peak_in_use_bytes.max(self.stats.in_use_bytes);
    }
}

// SAFETY: blocks are carved from regions the grower handed over (valid until released, which
// happens only once a region holds no live block), never overlap (boundary tags partition each
// region), are aligned by `place`, and are reached through the region's provenance. Refused
// calls return before any write. No method panics: sizes are bounded by `MAX_BLOCK` and every
// other sum is checked.
unsafe impl<G: HeapGrower> RawAllocator for FreeListAllocator<G> {
    /// O(1) when a binned block fits (two bit scans over the bins); otherwise one call to the
    /// grower.
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        let block = self.allocate_block(layout).ok_or(OutOfMemory)?;
        Ok(NonNull::slice_from_raw_parts(block, layout.size()))
    }

    /// Checks, in order: null ([`FreeError::NullPtrFree`]); inside a region
    /// ([`FreeError::FreeOutOfBounds`], O(regions)); aligned, and the tag before it shaped like
    /// a block that fits the region ([`FreeError::UnalignedFree`]); allocated
    /// ([`FreeError::DoubleFree`]); `layout` fits the block and the neighbours' tags agree
    /// ([`FreeError::CorruptedBlock`]). O(regions) + O(1).
    ///
    /// Beyond the trait's contract: if `ptr` lies inside one of the heap's regions, the word
    /// before it must be initialized memory (it always is for a pointer this heap returned).
    /// Interior pointers are caught only as far as the tags show: user data that imitates a
    /// consistent tag cannot be told from one.
    unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.free_checked(ptr, layout) }
    }

    /// In place when shrinking (the tail is freed when it can form a block) or when the next
    /// block is free and large enough (O(1)); otherwise allocate, copy and free.
    unsafe fn resize(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError> {
        let moved = if new.align() <= old.align() {
            // SAFETY: forwarded from the caller.
            unsafe { self.reallocate(ptr, old, new.size()) }?
        } else {
            let (block, _) = self.checked_block(ptr, old)?;
            // SAFETY: the block passed every check: a live block of this heap for `old`.
            unsafe { move_block(self, block.payload(), old, new) }?.cast()
        };
        Ok(NonNull::slice_from_raw_parts(moved, new.size()))
    }

    /// O(1): the block is found through the region that holds it (the remembered one in the
    /// common case), then merged with its free neighbours.
    unsafe fn deallocate_trusted(&mut self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.free_trusted(ptr.as_ptr(), layout) }
    }

    unsafe fn resize_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        let moved = if new.align() <= old.align() {
            // SAFETY: forwarded from the caller.
            unsafe { self.reallocate_trusted(ptr, old, new.size()) }.ok_or(OutOfMemory)?
        } else {
            // SAFETY: forwarded from the caller.
            unsafe { move_block(self, ptr, old, new) }?.cast()
        };
        Ok(NonNull::slice_from_raw_parts(moved, new.size()))
    }

    /// O(regions).
    fn contains(&self, ptr: *const u8) -> bool {
        self.regions.contains(ptr.addr())
    }
}

impl FreeListAllocator<MmapGrower> {
    /// Tells the grower the kernel's page size (see [`MmapGrower::set_page_size`]). O(1).
    ///
    /// # Errors
    /// [`BadPageSize`] when `page_size` is not a power of two.
    pub const fn set_page_size(&mut self, page_size: usize) -> Result<(), BadPageSize> {
        self.grower.set_page_size(page_size)
    }
}

impl<G: HeapGrower> Drop for FreeListAllocator<G> {
    fn drop(&mut self) {
        if !self.grower.can_release() {
            return;
        }
        while let Some(region) = self.regions.iter().next() {
            // SAFETY: the region is in the list; the heap is going away, so nothing may use
            // its memory any more (the contract stated on the type).
            unsafe {
                self.regions.unlink(&region);
                let _ = self.grower.release(region.grown);
            }
        }
    }
}
