//! The allocation policy: where a request is placed, how a freed block merges, when the heap
//! grows and when a region goes back to the grower.
//!
//! ```text
//!   allocate(layout)
//!     need = payload + tag, rounded to 16 (at least one minimal block)
//!     bins.find_head(need [+ alignment slack])  ──► none? large (>= dedicated_threshold)?
//!                                                     ──► a region of its own, whole
//!                                                   else grow a region
//!     place: [front gap → free] [block: need] [tail → free when >= MIN_BLOCK]
//!
//!   free(ptr)            (trusted: O(1); checked: the region walk and the tag checks first)
//!     merge:  [prev free?][ block ][next free?]  ──►  [      one free block      ]
//!     the merged block covers its whole region? ──► give the region back (policy)
//! ```
//!
//! Costs: `allocate` is O(1) when a fitting block is binned (one to three bit scans, a few tag
//! writes) plus one grower call when the heap grows; the trusted free is O(1) (the region that
//! holds the block is the remembered one, or one walk over the regions); the checked free adds
//! the O(regions) walk; resizing is O(1) in place, or an allocation, a copy and a free.

use core::alloc::Layout;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::bins::{Bins, CLASS_COUNT, Fit, class_of, guaranteed_fit};
use super::block::{Block, GRANULE, Links, MIN_BLOCK, Tag, WORD};
use super::inspect::Stats;
use super::region::{REGION_OVERHEAD, RegionKind, RegionList, RegionView};
use crate::grower::{HeapGrower, NoGrowth, Region};
use crate::{FreeError, OutOfMemory, RawAllocator, ResizeError};

/// When the heap takes whole regions for large blocks and when it gives regions back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A request whose block needs at least this many bytes, and that no free block serves,
    /// gets a region of its own from the grower, given back when the block is freed (only
    /// with growers that can release). When the grower has no such region to give, the heap
    /// grows as for any request. Default 256 KiB; `usize::MAX` turns dedicated regions off.
    pub dedicated_threshold: usize,
    /// Whether a region that becomes entirely free is given back to the grower. Default `true`.
    pub release_empty_regions: bool,
    /// The last general (non-dedicated) region is kept when it becomes empty, so that a heap
    /// that repeatedly empties and refills does not map and unmap each time, if it spans at
    /// most this many bytes; larger ones, and every other empty region, go back. Default
    /// 1 MiB; 0 gives every empty region back, `usize::MAX` keeps the last one whatever its
    /// size.
    pub retained_bytes: usize,
    /// Once this many bytes have been freed into free blocks of [`DISCARD_MIN_BLOCK`] bytes
    /// or more, the pages inside every such free block are given back to the system through
    /// the grower's [`discard`](HeapGrower::discard) (for [`MmapGrower`](crate::MmapGrower),
    /// `madvise(MADV_DONTNEED)`: the memory stays mapped, the resident set shrinks). So a
    /// region that a few live blocks keep from being released does not keep its free pages
    /// resident. Default 4 MiB; `usize::MAX` never discards.
    pub discard_after_bytes: usize,
}

/// Free blocks at least this large have their pages discarded (see
/// [`Policy::discard_after_bytes`]): 64 KiB, so that a discard gives back at least 15 pages of
/// 4 KiB and small free blocks, which are soon reused, keep theirs.
pub const DISCARD_MIN_BLOCK: usize = 64 * 1024;

impl Policy {
    /// The defaults: dedicated regions from 256 KiB, release empty regions, keep the last one
    /// up to 1 MiB, discard the pages of large free blocks after every 4 MiB freed into them.
    pub const DEFAULT: Self = Self {
        dedicated_threshold: 256 * 1024,
        release_empty_regions: true,
        retained_bytes: 1 << 20,
        discard_after_bytes: 4 << 20,
    };
}

impl Default for Policy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A [`Policy`] as the heap stores it: each field XORed with its default, so that the default
/// policy is all zero bits and a `static` heap's initial value stays all zero (it then lives
/// in `.bss`, and costs no flash). One XOR to read a field, on the slow paths only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoredPolicy(Policy);

impl StoredPolicy {
    const fn new(policy: Policy) -> Self {
        let default = Policy::DEFAULT;
        Self(Policy {
            dedicated_threshold: policy.dedicated_threshold ^ default.dedicated_threshold,
            release_empty_regions: policy.release_empty_regions ^ default.release_empty_regions,
            retained_bytes: policy.retained_bytes ^ default.retained_bytes,
            discard_after_bytes: policy.discard_after_bytes ^ default.discard_after_bytes,
        })
    }

    /// The policy: XOR is its own inverse.
    const fn get(self) -> Policy {
        Self::new(self.0).0
    }
}

/// A growing heap: boundary-tagged blocks in regions from a [`HeapGrower`], free blocks in
/// segregated lists with bitmaps (see the [module docs](crate::free_list)).
///
/// Single-threaded; [`LockedFreeListAllocator`](super::LockedFreeListAllocator) is the form for
/// `#[global_allocator]`. Dropping it gives every region it grew back to the grower (if it can
/// take them), so pointers it handed out dangle afterwards.
pub struct FreeListAllocator<G: HeapGrower> {
    bins: Bins,
    regions: RegionList,
    /// The counters; `free_bytes` is derived in [`stats`](Self::stats), not kept here.
    stats: Stats,
    /// How many of the regions are general ones (the policy keeps the last one); counted only
    /// for a grower that takes regions back, the only case where it is read.
    general_regions: usize,
    /// Bytes freed into free blocks of at least [`DISCARD_MIN_BLOCK`] bytes since their pages
    /// were last discarded.
    undiscarded_bytes: usize,
    policy: StoredPolicy,
    grower: G,
}

// SAFETY: the raw pointers inside point only into regions owned by this allocator (handed over
// by the grower or the program), never to thread-local data, so the whole heap may move to
// another thread with its grower.
unsafe impl<G: HeapGrower + Send> Send for FreeListAllocator<G> {}

/// The block size that holds a payload of `size` bytes, a `Layout`'s size. It cannot
/// overflow: such a size is at most `isize::MAX`, so adding a tag and rounding to the granule
/// stays below `usize::MAX`. It may exceed [`MAX_BLOCK`](super::block::MAX_BLOCK): such a block fits in no free block
/// and no region, which [`search_size`] and the grower's checked arithmetic refuse.
#[inline(always)]
const fn block_size_for(size: usize) -> usize {
    let rounded = (size + WORD + GRANULE - 1) & !(GRANULE - 1);
    if rounded < MIN_BLOCK {
        MIN_BLOCK
    } else {
        rounded
    }
}

/// How large a free block must be to hold a block of `need` bytes whose payload is aligned to
/// `align`: payloads are always 16-aligned; beyond that the front gap is at most `align + 16`.
#[inline(always)]
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

/// The guarantee behind every allocation: `allocate(layout)` succeeds whenever the heap has a
/// free block of at least this many bytes, or its grower can hand out a region of
/// [`region_size`] bytes. It is the block `layout` needs (its size and a one-word tag, rounded
/// up to 16 bytes), plus its alignment beyond 16 bytes (and 16 more), rounded up to the next
/// size class: at most 1/16 more than that. `None` for a layout no heap can serve. O(1).
///
/// So a heap that must serve one block of `n` bytes after any history needs a free block of
/// `fit_size` bytes; a static heap sized for a program's largest request plus its peak use
/// plus that is never out of memory by fragmentation of this kind alone.
#[must_use]
pub fn fit_size(layout: Layout) -> Option<usize> {
    let need = block_size_for(layout.size());
    guaranteed_fit(search_size(need, layout.align())?)
}

/// The region a grower must be able to hand out so that `allocate(layout)` succeeds when no
/// free block fits: the block's [`fit_size`] without the class rounding, plus a region's
/// header, sentinel and alignment. `None` for a layout no heap can serve. O(1).
#[must_use]
pub fn region_size(layout: Layout) -> Option<usize> {
    let need = block_size_for(layout.size());
    search_size(need, layout.align())?.checked_add(REGION_OVERHEAD)
}

/// The most bytes a block handed out for `layout` takes from a region shared with other
/// blocks (its tag, its rounding, and a tail too short to be a free block of its own). A block
/// in a region of its own (see [`Policy::dedicated_threshold`]) takes that region, rounded to
/// the grower's pages. O(1).
#[must_use]
pub fn max_block_size(layout: Layout) -> usize {
    block_size_for(layout.size()) + MIN_BLOCK - GRANULE
}

/// The block `block` of `size` bytes as the slice handed to the caller: its whole payload.
fn usable(block: Block, size: usize) -> NonNull<[u8]> {
    NonNull::slice_from_raw_parts(block.payload(), size - WORD)
}

impl FreeListAllocator<NoGrowth> {
    /// A heap with no memory, for memory handed over at start-up
    /// ([`claim_static`](Self::claim_static), [`claim`](Self::claim)): all zero bits, so a
    /// `static` of it lives in `.bss`. O(1), `const`.
    #[must_use]
    pub const fn empty() -> Self {
        Self::new(NoGrowth)
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
            general_regions: 0,
            undiscarded_bytes: 0,
            policy: StoredPolicy::new(policy),
            grower,
        }
    }

    /// The grower (e.g. to read its counters). O(1).
    pub const fn grower(&self) -> &G {
        &self.grower
    }

    /// The grower, to tune it (its own `&mut self` settings, such as
    /// [`MmapGrower::set_page_size`](crate::MmapGrower::set_page_size)). O(1).
    ///
    /// # Safety
    /// The grower must not be replaced, moved out of or dropped through this reference: the
    /// regions it handed out are still in use, and go back to it.
    pub const unsafe fn grower_mut(&mut self) -> &mut G {
        &mut self.grower
    }

    /// The policy in force. O(1).
    pub const fn policy(&self) -> Policy {
        self.policy.get()
    }

    /// The current statistics (the usage counters need the `counters` feature). O(1).
    pub const fn stats(&self) -> Stats {
        #[cfg(feature = "counters")]
        return Stats {
            free_bytes: self.stats.block_bytes - self.stats.in_use_bytes,
            ..self.stats
        };
        #[cfg(not(feature = "counters"))]
        self.stats
    }

    pub(super) const fn bins(&self) -> &Bins {
        &self.bins
    }

    /// How many general regions the heap counts (only for a grower that takes regions back).
    pub(super) const fn general_region_count(&self) -> usize {
        self.general_regions
    }

    pub(super) const fn region_list(&self) -> &RegionList {
        &self.regions
    }

    /// Hands `memory` over to the heap, for good, as a region of its own. Use it for memory
    /// known at run time: a second RAM bank, the ranges of a boot loader's memory map. O(1).
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use core::mem::MaybeUninit;
    /// use core::ptr::NonNull;
    /// use bareheap::{FreeListAllocator, RawAllocator, Region, StaticGrower};
    ///
    /// let mut bank = vec![MaybeUninit::new(0u8); 4096];
    /// // A heap that starts with no memory at all.
    /// let mut heap = FreeListAllocator::new(StaticGrower::new(&mut []));
    /// assert!(heap.allocate(Layout::new::<u64>()).is_err());
    /// let region = Region::new(NonNull::from(&mut bank[..]).cast(), bank.len());
    /// // SAFETY: the bank is ours alone, for as long as the heap lives.
    /// unsafe { heap.claim(region) }.expect("room for a block");
    /// assert!(heap.allocate(Layout::from_size_align(3000, 8).unwrap()).is_ok());
    /// ```
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    ///
    /// # Safety
    /// `memory` must be valid for reads and writes, used by nothing else, for as long as the
    /// heap or any block it hands out lives; it is never given back to the grower.
    pub unsafe fn claim(&mut self, memory: Region) -> Result<(), OutOfMemory> {
        // SAFETY: forwarded from the caller.
        unsafe { self.hand_over(memory, false) }
    }

    /// [`claim`](Self::claim) for memory the program holds for good (a `static` buffer's only
    /// `&'static mut`, a leaked `Box`): safe, since the borrow proves the memory is the heap's
    /// alone for ever. O(1).
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    pub fn claim_static(
        &mut self,
        memory: &'static mut [MaybeUninit<u8>],
    ) -> Result<(), OutOfMemory> {
        // SAFETY: the `'static` exclusive borrow gives the memory to the heap for good.
        unsafe { self.claim(Region::from(memory)) }
    }

    /// As [`claim`](Self::claim), but when `memory` starts exactly where the newest region
    /// ends, that region grows over it instead (its last free block takes the new memory in),
    /// so a block can span both. O(1).
    ///
    /// ```
    /// use core::alloc::Layout;
    /// use core::mem::MaybeUninit;
    /// use core::ptr::NonNull;
    /// use bareheap::{FreeListAllocator, RawAllocator, Region, StaticGrower};
    ///
    /// let mut buffer = vec![MaybeUninit::new(0u8); 4096];
    /// // One pointer to the whole buffer; both halves are cut from it.
    /// let whole = NonNull::from(&mut buffer[..]).cast::<u8>();
    /// let mut heap = FreeListAllocator::new(StaticGrower::new(&mut []));
    /// // SAFETY: each half is ours alone, for as long as the heap lives, and the second
    /// // half's pointer is valid for the first half too (both come from `whole`).
    /// unsafe {
    ///     heap.extend(Region::new(whole, 2048)).expect("room for a block");
    ///     heap.extend(Region::new(whole.byte_add(2048), 2048)).expect("room");
    /// }
    /// assert_eq!(heap.regions().count(), 1, "the second half extended the first");
    /// assert!(heap.allocate(Layout::from_size_align(3000, 8).unwrap()).is_ok());
    /// ```
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    ///
    /// # Safety
    /// As for [`claim`](Self::claim); and when `memory` starts where the newest region ends,
    /// a block may now span both, so `memory.ptr()` must be usable for the newest region's
    /// bytes too. In terms of what you hold: make both regions' pointers from one pointer to
    /// the whole buffer (`whole` and `whole.byte_add(n)`, as below), or from a pointer to
    /// memory you own outright, such as a linker symbol, an address from the boot loader's
    /// memory map, or `mmap`'s answer. Pointers from two different borrows do not qualify, even
    /// when the bytes touch: two `&mut` to separate arrays, the two halves of a
    /// `split_at_mut`, or two `Vec`s. Hand such pieces over with [`claim`](Self::claim), as two
    /// regions.
    pub unsafe fn extend(&mut self, memory: Region) -> Result<(), OutOfMemory> {
        // SAFETY: forwarded from the caller.
        unsafe { self.hand_over(memory, true) }
    }

    /// [`claim`](Self::claim) or [`extend`](Self::extend).
    ///
    /// # Safety
    /// As for [`extend`](Self::extend) when `may_join`, else as for [`claim`](Self::claim).
    unsafe fn hand_over(&mut self, memory: Region, may_join: bool) -> Result<(), OutOfMemory> {
        // SAFETY: forwarded from the caller.
        let adopted = unsafe { self.adopt(memory, RegionKind::Kept, may_join) };
        let (block, size) = adopted.ok_or(OutOfMemory)?;
        // SAFETY: a free block of `size` bytes, tagged by `adopt`, in no list.
        unsafe { self.bins.push(block, size) };
        self.check_invariants();
        Ok(())
    }

    /// A block for `layout`, and its size. O(1) when a binned block fits, else a grower call.
    ///
    /// The common request (alignment up to the granule, below the dedicated size) takes the
    /// short path: the head of the first class whose blocks all fit, split in two.
    #[inline(always)]
    fn allocate_block(&mut self, layout: Layout) -> Option<(Block, usize)> {
        self.check_invariants();
        let need = block_size_for(layout.size());
        if layout.align() <= GRANULE {
            // SAFETY: the bins hold only free blocks of this heap with valid tags.
            if let Some(fit) = unsafe { self.bins.find_head(need) } {
                // SAFETY: a fit just found, heading its list, of at least `need` bytes.
                return Some(unsafe { self.carve(fit, need) });
            }
        }
        self.allocate_slow(layout, need)
    }

    /// Carves an allocated block of `need` bytes from the front of `fit`: the fit leaves its
    /// list, and the tail, when it can form a block, joins its own. (Giving the tail the fit's
    /// place when both share a class saves the bitmap updates but measured slower: 68.7
    /// instructions per action against 66.5 without it. With 16-byte classes below 1 KiB, the
    /// two seldom share one.)
    ///
    /// # Safety
    /// `fit` must come from [`Bins::find_head`] with no change since, and hold `need` bytes.
    #[inline(always)]
    unsafe fn carve(&mut self, fit: Fit, need: usize) -> (Block, usize) {
        let (block, size) = (fit.block, fit.size);
        let rest = size - need;
        // SAFETY: the fit is a listed free block of `size >= need` bytes: its previous block is
        // allocated and the tag after it has the P flag; the tail lies inside it, its links at
        // least MIN_BLOCK bytes after the fit's, which are read first.
        unsafe {
            self.bins.take_head(fit);
            if rest >= MIN_BLOCK {
                let tail = block.forward(need);
                self.bins.push(tail, rest);
                tail.set_tag(Tag::free(rest));
                tail.set_footer(rest);
                block.set_tag(Tag::allocated(need, false));
                self.count_allocated(need);
                (block, need)
            } else {
                let next = block.forward(size);
                next.set_tag(next.tag().with_prev_free(false));
                block.set_tag(Tag::allocated(size, false));
                self.count_allocated(size);
                (block, size)
            }
        }
    }

    /// The rest of [`allocate_block`](Self::allocate_block): aligned and large requests, a
    /// block of the request's own class, a new region. Out of line, so that the common path
    /// stays short.
    #[cold]
    #[inline(never)]
    fn allocate_slow(&mut self, layout: Layout, need: usize) -> Option<(Block, usize)> {
        let search = search_size(need, layout.align())?;
        // SAFETY: the bins hold only free blocks of this heap with valid tags.
        let fit = unsafe {
            self.bins
                .find_head(search)
                .or_else(|| self.bins.scan_own_class(search))
        };
        let Some(fit) = fit else {
            if !G::GROWS {
                return None;
            }
            if G::RELEASES
                && need >= self.policy().dedicated_threshold
                && let Some(placed) = self.allocate_dedicated(need, search, layout.align())
            {
                return Some(placed);
            }
            return self.allocate_grown(need, search, layout.align());
        };
        // SAFETY: a listed free block of `fit.size >= search` bytes, whose previous block is
        // allocated and whose next tag has the P flag.
        Some(unsafe { self.place(fit.block, fit.size, Some(fit), need, layout.align()) })
    }

    /// A block of `need` bytes from a new general region.
    fn allocate_grown(
        &mut self,
        need: usize,
        search: usize,
        align: usize,
    ) -> Option<(Block, usize)> {
        let (block, size) = self.grow(search, RegionKind::General)?;
        // SAFETY: a fresh free block of `size >= search` bytes in no list, whose previous block
        // is allocated and whose next tag (the sentinel's) has the P flag.
        Some(unsafe { self.place(block, size, None, need, align) })
    }

    /// A block of `need` bytes in a region of its own, taken whole (its tail is part of the
    /// block, so no other block can pin the region). `None` when the grower cannot give back
    /// memory, or has no region to give.
    fn allocate_dedicated(
        &mut self,
        need: usize,
        search: usize,
        align: usize,
    ) -> Option<(Block, usize)> {
        if !G::RELEASES {
            return None;
        }
        let (block, size) = self.grow(search, RegionKind::Dedicated)?;
        // SAFETY: as for `allocate_grown`; asking for the whole block keeps no tail.
        Some(unsafe {
            self.place(
                block,
                size,
                None,
                need.max(size - front_gap(block, align)),
                align,
            )
        })
    }

    /// Grows the heap by a region (or an extension of the newest one) with room for a free
    /// block of `search` bytes, and returns that block, tagged free and in no list. Cold:
    /// once per region.
    #[cold]
    fn grow(&mut self, search: usize, kind: RegionKind) -> Option<(Block, usize)> {
        let min_size = search.checked_add(REGION_OVERHEAD)?;
        let grown = match kind {
            RegionKind::Dedicated => self.grower.grow_dedicated(min_size),
            _ => self.grower.grow(min_size),
        }
        .ok()?;
        let may_join = G::SHARES_PROVENANCE;
        // SAFETY: the grower hands out valid, unused memory that stays ours until released;
        // it joins the newest region only when the grower's pieces share one provenance.
        let Some(found) = (unsafe { self.adopt(grown, kind, may_join) }) else {
            if G::RELEASES {
                // SAFETY: `grown` came from the grower just now and nothing uses it.
                let _ = unsafe { self.grower.release(grown) };
            }
            return None;
        };
        self.stats.grows += 1;
        Some(found)
    }

    /// Lays out new memory as a region (or, when `may_join`, joins it to the newest one) and
    /// returns the free block it adds, tagged, merged with a free block before it, in no list.
    ///
    /// # Safety
    /// `memory` must be valid, unused memory that stays valid until its region leaves the list;
    /// when `may_join`, its pointer must be valid for the newest region's memory too.
    unsafe fn adopt(
        &mut self,
        memory: Region,
        kind: RegionKind,
        may_join: bool,
    ) -> Option<(Block, usize)> {
        // SAFETY: forwarded from the caller.
        let adopted = unsafe { self.regions.adopt(memory, kind, may_join) }?;
        self.stats.mapped_bytes += memory.len();
        self.stats.block_bytes += adopted.size;
        match adopted.joined_general {
            None => {
                self.stats.regions += 1;
                // Only the release policy reads the count: a grower that takes nothing back
                // keeps none.
                if G::RELEASES {
                    self.general_regions += usize::from(kind == RegionKind::General);
                }
            }
            // A joined region is kept for good, so it no longer counts as general.
            Some(was_general) if G::RELEASES => self.general_regions -= usize::from(was_general),
            Some(_) => {}
        }
        let (mut block, mut size) = (adopted.start, adopted.size);
        if adopted.prev_free {
            // SAFETY: the old sentinel followed a listed free block, whose footer is the word
            // before it; the new block merges with it.
            unsafe {
                let prev_size = block.prev_size();
                block = block.backward(prev_size);
                size += prev_size;
                self.bins.unlink(block);
            }
        }
        // SAFETY: the block spans free memory of the region up to its sentinel.
        unsafe {
            block.set_tag(Tag::free(size));
            block.set_footer(size);
        }
        Some((block, size))
    }

    /// Carves an allocated block of `need` bytes, `align`-aligned payload, out of the free block
    /// `block` of `size` bytes; the block leaves its list (when `listed`), and the front gap and
    /// the tail each join their own.
    ///
    /// # Safety
    /// `block` must be a free block of `size >= search_size(need, align)` bytes, listed as
    /// `listed` says (the fit that found it) or in no list, whose previous block is allocated
    /// and whose next tag has the P flag.
    #[inline]
    unsafe fn place(
        &mut self,
        block: Block,
        size: usize,
        listed: Option<Fit>,
        need: usize,
        align: usize,
    ) -> (Block, usize) {
        if let Some(fit) = listed {
            // SAFETY: the fit's block is listed, with no change to the bins since.
            unsafe { self.bins.take(fit) };
        }
        let (mut block, mut size) = (block, size);
        let mut prev_free = false;
        if align > GRANULE {
            let gap = front_gap(block, align);
            if gap > 0 {
                // SAFETY: `gap + need <= size` by `search_size`; the gap is a block of at least
                // MIN_BLOCK bytes at the front of the free block, which is in no list now.
                unsafe {
                    block.set_tag(Tag::free(gap));
                    block.set_footer(gap);
                    self.bins.push(block, gap);
                    block = block.forward(gap);
                }
                size -= gap;
                prev_free = true;
            }
        }
        let rest = size - need;
        // SAFETY: the tail `[need, size)` lies in the free block and forms a block; the tag
        // after it already has the P flag. Without a tail, the tag after the block is inside
        // the region (at most the sentinel).
        unsafe {
            if rest >= MIN_BLOCK {
                let tail = block.forward(need);
                tail.set_tag(Tag::free(rest));
                tail.set_footer(rest);
                self.bins.push(tail, rest);
                size = need;
            } else {
                let next = block.forward(size);
                next.set_tag(next.tag().with_prev_free(false));
            }
            block.set_tag(Tag::allocated(size, prev_free));
        }
        self.count_allocated(size);
        (block, size)
    }

    /// Frees an allocated block: merges it with free neighbours, then bins the result or gives
    /// its region back. O(1).
    ///
    /// # Safety
    /// `block` must be an allocated block of this heap, reached through its region's
    /// provenance.
    #[inline(always)]
    unsafe fn release_block(&mut self, block: Block) {
        // SAFETY: `block` is an allocated block: its tag, its next block's tag, and (with the P
        // flag) its predecessor's footer are valid; free neighbours are listed.
        unsafe {
            let tag = block.tag();
            let size = tag.size();
            self.count_freed(size);
            let next = block.forward(size);
            let next_tag = next.tag();
            if tag.frees_alone(next_tag) {
                // Both neighbours allocated: the block alone becomes free.
                next.set_tag(next_tag.with_prev_free(true));
                block.set_tag(Tag::free(size));
                block.set_footer(size);
                self.bins.push(block, size);
                return;
            }
            self.merge(block, size, tag, next, next_tag);
        }
    }

    /// The rest of [`release_block`](Self::release_block): the freed block merges with its free
    /// neighbours (they leave their lists: a merged block almost never stays in a neighbour's
    /// class), then joins the bins, or leaves with its region.
    ///
    /// # Safety
    /// As for [`release_block`](Self::release_block), with `tag` its tag, `next` the block
    /// after it and `next_tag` that block's tag.
    #[inline(never)]
    unsafe fn merge(&mut self, block: Block, size: usize, tag: Tag, next: Block, next_tag: Tag) {
        // SAFETY: as for `release_block`; the merged block covers only the freed block and its
        // free neighbours, each unlinked before its words are overwritten.
        unsafe {
            let (mut start, mut total) = (block, size);
            if tag.prev_free() {
                let prev_size = block.prev_size();
                start = block.backward(prev_size);
                total += prev_size;
                self.bins.unlink(start);
                // A stale free tag, so that freeing `block` again reads as a double free.
                block.set_tag(Tag::free(size));
            }
            let end_tag = if next_tag.is_allocated() {
                next.set_tag(next_tag.with_prev_free(true));
                next_tag
            } else {
                let next_size = next_tag.size();
                total += next_size;
                self.bins.unlink(next);
                next.forward(next_size).tag()
            };
            start.set_tag(Tag::free(total));
            start.set_footer(total);
            if G::RELEASES && end_tag.is_sentinel() {
                return self.bin_or_release(start, total);
            }
            self.bins.push(start, total);
            if G::DISCARDS && total >= DISCARD_MIN_BLOCK {
                self.count_undiscarded(size);
            }
        }
    }

    /// Counts `size` bytes freed into a large free block; past the policy's amount, discards
    /// the pages of every large free block.
    #[inline(always)]
    fn count_undiscarded(&mut self, size: usize) {
        self.undiscarded_bytes = self.undiscarded_bytes.saturating_add(size);
        if self.undiscarded_bytes >= self.policy().discard_after_bytes {
            self.discard_free_pages();
        }
    }

    /// Tells the grower that the bytes of every free block of at least [`DISCARD_MIN_BLOCK`]
    /// bytes in memory it handed out, but for its tag, links and footer, are dead. Memory the
    /// program handed over ([`claim`](Self::claim), [`extend`](Self::extend)) is not the
    /// grower's, and never reaches it. O(large free blocks × regions), once per
    /// [`Policy::discard_after_bytes`] freed.
    #[cold]
    #[inline(never)]
    fn discard_free_pages(&mut self) {
        self.undiscarded_bytes = 0;
        for class in class_of(DISCARD_MIN_BLOCK)..CLASS_COUNT {
            let mut cursor = self.bins.head(class);
            while let Some(block) = cursor {
                // SAFETY: a listed free block: its tag and links are valid, and it lies in a
                // region of this heap; the bytes between its links and its footer are dead
                // (nothing reads them before an allocation writes them). A region that is not
                // `Kept` came whole from the grower.
                unsafe {
                    let size = block.tag().size();
                    cursor = (*block.links()).next;
                    let kept = WORD + size_of::<Links>();
                    if size >= DISCARD_MIN_BLOCK && self.is_growers(block) {
                        let dead = Region::new(block.ptr().byte_add(kept), size - kept - WORD);
                        self.grower.discard(dead);
                    }
                }
            }
        }
    }

    /// Whether `block` lies in a region the grower handed out as it is (not one the program
    /// handed over, nor one joined from several pieces). O(regions).
    fn is_growers(&self, block: Block) -> bool {
        self.regions
            .find_payload(block.payload().addr().get())
            .is_some_and(|region| region.kind != RegionKind::Kept)
    }

    /// The free block `start` of `total` bytes, in no list, ends at its region's sentinel: when
    /// it also starts the region, the region is empty, and goes back to the grower if the
    /// policy allows and the grower takes it; otherwise the block joins the bins.
    ///
    /// # Safety
    /// `start` must be a tagged free block of this heap in no list, ending at its region's
    /// sentinel.
    #[cold]
    #[inline(never)]
    unsafe fn bin_or_release(&mut self, start: Block, total: usize) {
        if let Some(region) = self.regions.find_payload(start.payload().addr().get())
            && region.first == start
            && self.may_release(&region)
        {
            // SAFETY: the region is in the list, and entirely free: nothing uses it; it came
            // from this grower (`may_release` excludes memory the program handed over).
            let released = unsafe {
                self.regions.unlink(&region);
                self.grower.release(region.memory)
            };
            match released {
                Ok(()) => {
                    self.stats.block_bytes -= total;
                    self.stats.mapped_bytes -= region.memory.len();
                    self.stats.regions -= 1;
                    self.stats.releases += 1;
                    self.general_regions -= usize::from(region.kind == RegionKind::General);
                    return;
                }
                // The grower kept nothing: the region is still ours and intact.
                // SAFETY: it was unlinked just above.
                Err(_) => unsafe { self.regions.relink(&region) },
            }
        }
        // SAFETY: the caller's promise.
        unsafe { self.bins.push(start, total) };
    }

    /// Whether the policy lets an empty `region` go.
    fn may_release(&self, region: &RegionView) -> bool {
        self.policy().release_empty_regions
            && G::RELEASES
            && match region.kind {
                RegionKind::Dedicated => true,
                RegionKind::General => {
                    self.general_regions > 1 || region.memory.len() > self.policy().retained_bytes
                }
                RegionKind::Kept => false,
            }
    }

    /// Resizes an allocated block to `new`, in place if possible, else by moving it.
    ///
    /// # Safety
    /// `block` must be an allocated block of this heap that `old` fits, reached through its
    /// region's provenance.
    #[inline(always)]
    unsafe fn resize_block(
        &mut self,
        block: Block,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        // SAFETY: forwarded from the caller.
        if let Some(resized) = unsafe { self.resize_block_in_place(block, new) } {
            return Ok(resized);
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.resize_by_moving(block, old, new) }
    }

    /// Moves an allocated block to a new block for `new`: allocate, copy, free, written out
    /// here (as the pools do) because calling a helper shared by the allocators measured 0.8
    /// instructions per action more on the bench's random actions (callgrind, `--child
    /// count:4001 5`: 70.0 against 69.2), for the same code size.
    ///
    /// # Safety
    /// As for [`resize_block`](Self::resize_block).
    #[inline]
    unsafe fn resize_by_moving(
        &mut self,
        block: Block,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        let moved = self.allocate(new)?;
        // SAFETY: the old block holds at least `old.size()` bytes and the new one at least
        // `new.size()`; both are live, distinct blocks of this heap (no overlap), reached
        // through their regions' provenance. The old block is still allocated, with `old`.
        unsafe {
            block
                .payload()
                .copy_to_nonoverlapping(moved.cast::<u8>(), old.size().min(new.size()));
            self.deallocate_trusted(block.payload(), old);
        }
        Ok(moved)
    }

    /// Resizes an allocated block to `new` where it is, if its address suits `new`'s alignment
    /// and its neighbourhood has room; `None` (nothing changed) otherwise.
    ///
    /// # Safety
    /// `block` must be an allocated block of this heap, reached through its region's
    /// provenance.
    unsafe fn resize_block_in_place(&mut self, block: Block, new: Layout) -> Option<NonNull<[u8]>> {
        if block.payload().addr().get() & (new.align() - 1) != 0 {
            return None;
        }
        // SAFETY: forwarded from the caller.
        let size = unsafe { self.resize_in_place(block, block_size_for(new.size())) }?;
        Some(usable(block, size))
    }

    /// Shrinks the allocated `block` to `need` bytes (freeing the tail when it can form a
    /// block), or grows it into a free next block; its new size, `None` when neither works.
    ///
    /// # Safety
    /// `block` must be an allocated block of this heap.
    unsafe fn resize_in_place(&mut self, block: Block, need: usize) -> Option<usize> {
        // SAFETY: the tags of an allocated block and of its next block are valid; a free next
        // block is listed; every block written lies in the region.
        unsafe {
            let tag = block.tag();
            let size = tag.size();
            let next = block.forward(size);
            let next_tag = next.tag();
            let next_free = if next_tag.is_allocated() {
                0
            } else {
                next_tag.size()
            };
            if need > size + next_free {
                return None;
            }
            let total = size + next_free;
            let kept = if total - need >= MIN_BLOCK {
                need
            } else {
                total
            };
            if kept == size {
                return Some(size);
            }
            let tail = block.forward(kept);
            let tail_size = total - kept;
            if tail_size > 0 {
                // The next block leaves its list first: a tail that starts inside it may
                // cover its links. (Giving the tail the next block's place in its list when
                // both share a class measured slower: with 16-byte classes they seldom do.)
                if next_free > 0 {
                    self.bins.unlink(next);
                } else {
                    next.set_tag(next_tag.with_prev_free(true));
                }
                self.bins.push(tail, tail_size);
                tail.set_tag(Tag::free(tail_size));
                tail.set_footer(tail_size);
            } else {
                self.bins.unlink(next);
                tail.set_tag(tail.tag().with_prev_free(false));
            }
            block.set_tag(Tag::allocated(kept, tag.prev_free()));
            self.count_resized(size, kept);
            Some(kept)
        }
    }

    /// The block whose payload is at `ptr`'s address, reached through its region's provenance
    /// (see [`RegionList::rebase`]): O(1) in the common case, O(regions) at worst. `None` when no
    /// region holds the address (a caller that broke the trusted contract: nothing is touched).
    #[inline(always)]
    fn trusted_block(&mut self, ptr: NonNull<u8>) -> Option<Block> {
        let payload = self.regions.rebase(ptr.addr().get())?;
        debug_assert!(payload.addr().get() % GRANULE == 0);
        // SAFETY: a payload of this heap (the trusted caller's promise) is never its region's
        // first byte, so the word before it lies in the same region.
        Some(unsafe { Block::of_payload(payload) })
    }

    /// The raw API's checks, O(regions): returns the block of `ptr`, reached through the
    /// provenance of the region that holds it.
    fn checked_block(&self, ptr: *mut u8, layout: Layout) -> Result<Block, FreeError> {
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
        unsafe { Self::verify_allocated(block, layout, &region) }?;
        Ok(block)
    }

    /// Checks that `block` is an allocated block that `layout` fits, as far as tags show, with
    /// every read inside `region`.
    ///
    /// # Safety
    /// `block`'s tag word must be initialized memory of `region`'s block area.
    unsafe fn verify_allocated(
        block: Block,
        layout: Layout,
        region: &RegionView,
    ) -> Result<(), FreeError> {
        // SAFETY: the caller vouches for the tag word.
        let tag = unsafe { block.tag() };
        if !tag.has_block_shape() || tag.size() > region.sentinel.addr() - block.addr() {
            return Err(FreeError::UnalignedFree);
        }
        if !tag.is_allocated() {
            return Err(FreeError::DoubleFree);
        }
        // The block (a multiple of the granule, at least MIN_BLOCK: its shape is checked) holds
        // the request exactly when its payload does; one comparison, no rounding.
        if layout.size() > tag.size() - WORD {
            return Err(FreeError::LayoutMismatch);
        }
        // SAFETY: the block ends at or before the sentinel, so the next tag is in the region.
        let next_tag = unsafe { block.forward(tag.size()).tag() };
        if next_tag.prev_free() {
            return Err(FreeError::CorruptedBlock);
        }
        if !tag.prev_free() {
            return Ok(());
        }
        // SAFETY: with the P flag the block is not the first, so the word before it is in the
        // region; the previous block's start is checked before its tag is read.
        unsafe {
            let prev_size = block.prev_size();
            if prev_size > block.addr() - region.first.addr() || prev_size < MIN_BLOCK {
                return Err(FreeError::CorruptedBlock);
            }
            let prev_tag = block.backward(prev_size).tag();
            if prev_tag.is_allocated() || prev_tag.size() != prev_size {
                return Err(FreeError::CorruptedBlock);
            }
        }
        Ok(())
    }

    /// Counts a newly allocated block of `size` bytes (with the `counters` feature).
    #[inline(always)]
    fn count_allocated(&mut self, size: usize) {
        #[cfg(feature = "counters")]
        {
            self.stats.allocated_blocks += 1;
            self.count_in_use(size);
        }
        let _ = size;
    }

    /// Counts the free of an allocated block of `size` bytes (with the `counters` feature).
    #[inline(always)]
    fn count_freed(&mut self, size: usize) {
        #[cfg(feature = "counters")]
        {
            self.stats.allocated_blocks -= 1;
            self.stats.in_use_bytes -= size;
        }
        let _ = size;
    }

    /// Counts an allocated block resized in place from `old` to `new` bytes (with the
    /// `counters` feature).
    #[inline(always)]
    fn count_resized(&mut self, old: usize, new: usize) {
        #[cfg(feature = "counters")]
        {
            self.stats.in_use_bytes -= old;
            self.count_in_use(new);
        }
        let _ = (old, new);
    }

    /// Adds `size` bytes to the bytes in use and the peak.
    #[cfg(feature = "counters")]
    #[inline(always)]
    fn count_in_use(&mut self, size: usize) {
        self.stats.in_use_bytes += size;
        self.stats.peak_in_use_bytes = self.stats.peak_in_use_bytes.max(self.stats.in_use_bytes);
    }

    /// In the library's own tests: checks the whole heap before every operation but the
    /// checked ones (whose tests corrupt tags on purpose), so that a broken invariant is caught
    /// at the operation that broke it. Nothing in other builds, nor under Miri, where the walk
    /// before every call made the tests quadratic (Miri looks for undefined behaviour; the
    /// native runs check the invariants).
    #[inline(always)]
    fn check_invariants(&self) {
        #[cfg(all(test, not(miri)))]
        if let Err(corruption) = self.validate() {
            panic!("heap inconsistent before an operation: {corruption}");
        }
    }
}

// SAFETY: blocks are carved from regions the grower (or the program, through `claim`) handed
// over, valid until given back, which happens only once a region holds no live block; they
// never overlap (boundary tags partition each region), are aligned by `place`, and are reached
// through the region's provenance. Refused calls return before any write. No method panics:
// block sizes are bounded by the regions that hold them, a request's rounded size by
// `isize::MAX + 24`, and every sum the slow paths make with either is checked.
unsafe impl<G: HeapGrower> RawAllocator for FreeListAllocator<G> {
    /// The whole payload of a block of at least `layout.size() + 8` bytes, rounded to 16.
    /// O(1) when a binned block fits (one to three bit scans over the bins); otherwise one call
    /// to the grower.
    #[inline]
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        let (block, size) = self.allocate_block(layout).ok_or(OutOfMemory)?;
        Ok(usable(block, size))
    }

    /// Checks, in order: null ([`FreeError::NullPtrFree`]); inside a region
    /// ([`FreeError::FreeOutOfBounds`], O(regions)); aligned, and the tag before it shaped like
    /// a block that fits the region ([`FreeError::UnalignedFree`]); allocated
    /// ([`FreeError::DoubleFree`]); `layout` fits the block ([`FreeError::LayoutMismatch`]);
    /// the neighbours' tags agree ([`FreeError::CorruptedBlock`]). O(regions) + O(1).
    ///
    /// Beyond the trait's contract: if `ptr` lies inside one of the heap's regions, the word
    /// before it must be initialized memory (it always is for a pointer this heap returned).
    /// Interior pointers, and frees of blocks whose memory has been handed out again, are
    /// caught only as far as the tags show: user data that imitates a consistent tag cannot be
    /// told from one.
    unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        let block = self.checked_block(ptr, layout)?;
        // SAFETY: `block` passed every check: an allocated block of this heap.
        unsafe { self.release_block(block) };
        Ok(())
    }

    /// In place when shrinking (the tail is freed when it can form a block) or when the next
    /// block is free and large enough, and the payload meets `new.align()` (O(1)); otherwise
    /// allocate, copy and free.
    unsafe fn resize(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError> {
        let block = self.checked_block(ptr, old)?;
        // SAFETY: `block` passed every check: a live block of this heap that `old` fits.
        Ok(unsafe { self.resize_block(block, old, new) }?)
    }

    /// O(1): the block is found through the region that holds it (the remembered one in the
    /// common case), then merged with its free neighbours. One check stays, because it costs a
    /// test of a bit the free reads anyway: a block whose tag says free (freed already, and
    /// not handed out again since) is left alone instead of being freed twice.
    #[inline]
    unsafe fn deallocate_trusted(&mut self, ptr: NonNull<u8>, _layout: Layout) {
        self.check_invariants();
        if let Some(block) = self.trusted_block(ptr)
            // SAFETY: the caller's contract: a block of this heap, whose tag is valid.
            && unsafe { block.tag() }.is_allocated()
        {
            // SAFETY: as above, and allocated.
            unsafe { self.release_block(block) };
        }
    }

    unsafe fn resize_trusted(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        self.check_invariants();
        let block = self.trusted_block(ptr).ok_or(OutOfMemory)?;
        // SAFETY: the caller's contract: a live block of this heap that `old` fits.
        unsafe { self.resize_block(block, old, new) }
    }

    unsafe fn resize_in_place_trusted(
        &mut self,
        ptr: NonNull<u8>,
        _old: Layout,
        new: Layout,
    ) -> Option<NonNull<[u8]>> {
        self.check_invariants();
        let block = self.trusted_block(ptr)?;
        // SAFETY: the caller's contract: a live block of this heap.
        unsafe { self.resize_block_in_place(block, new) }
    }

    /// O(regions).
    fn contains(&self, ptr: *const u8) -> bool {
        self.regions.contains(ptr.addr())
    }
    /// The region's pointer to `address`: O(1) when the address is in the region the last
    /// trusted call reached, O(regions) otherwise.
    fn pointer_to(&mut self, address: usize) -> Option<NonNull<u8>> {
        self.regions.rebase(address)
    }

    /// O(1): inside the region the last lookup found, else `None`.
    #[inline(always)]
    fn quick_pointer_to(&self, address: usize) -> Option<NonNull<u8>> {
        self.regions.rebase_recent(address)
    }

    /// The region that holds `address`, as it was handed over (and joined). O(regions).
    fn span_of(&mut self, address: usize) -> Option<Region> {
        self.regions
            .iter()
            .map(|region| region.memory)
            .find(|memory| memory.contains_addr(address))
    }

    /// The regions given back to the grower so far. O(1).
    fn memory_given_back(&self) -> usize {
        self.stats.releases
    }
}

#[cfg(target_os = "linux")]
impl FreeListAllocator<crate::MmapGrower> {
    /// Tells the grower the kernel's page size (see
    /// [`MmapGrower::set_page_size`](crate::MmapGrower::set_page_size)). O(1).
    ///
    /// # Errors
    /// [`BadPageSize`](crate::grower::BadPageSize) when `page_size` is not a valid page size.
    pub const fn set_page_size(
        &mut self,
        page_size: usize,
    ) -> Result<(), crate::grower::BadPageSize> {
        self.grower.set_page_size(page_size)
    }
}

impl<G: HeapGrower> Drop for FreeListAllocator<G> {
    fn drop(&mut self) {
        if !G::RELEASES {
            return;
        }
        while let Some(region) = self.regions.iter().find(|r| r.kind != RegionKind::Kept) {
            // SAFETY: the region is in the list; the heap is going away, so nothing may use
            // its memory any more (the contract stated on the type).
            unsafe {
                self.regions.unlink(&region);
                let _ = self.grower.release(region.memory);
            }
        }
    }
}
