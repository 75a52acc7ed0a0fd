//! Region bookkeeping: how a region from the grower is laid out, and the list of all regions.
//!
//! Each region starts with a small header that links it into a doubly linked list (so a region
//! can leave the list in O(1) when it is given back) and remembers the region exactly as the
//! grower handed it out. Blocks follow; a sentinel tag ends the region.
//!
//! ```text
//!   grown region (from the grower)
//!   ┌─────┬──────────────────────────┬───────────────────────────────┬──────────┬─────┐
//!   │ pad │ RegionHeader             │ blocks ...                    │ sentinel │ pad │
//!   │     │ next, prev, grown, kind  │ first block has the F flag    │ size 0|A │     │
//!   └─────┴──────────────────────────┴───────────────────────────────┴──────────┴─────┘
//!          ▲ 16-aligned               ▲ first block (payload 16-aligned)
//! ```
//!
//! Regions grow geometrically (see the growers), so a heap of `H` bytes has O(log H) general
//! regions, plus one per live dedicated block; finding the region of a pointer walks the list,
//! O(regions). Overhead per region: [`REGION_OVERHEAD`] bytes at most (header, sentinel, padding).
//!
//! **Provenance.** A pointer a caller hands back (to free or resize it) reaches nothing outside
//! its own bytes: [`RegionList::rebase`] finds the region that holds the address and returns a
//! pointer to the same address carrying the *region's* provenance (the grower's memory), and
//! every tag, footer and link outside the caller's bytes is reached through that. The caller's
//! pointer may carry a tag that covers only its own block (a `Box`'s, under Stacked Borrows),
//! and the allocator's metadata lies just outside it. (Inside the caller's bytes it is the other
//! way round: see [`CallerSpan`](super::tag::CallerSpan).) The list remembers the region of the last look-up, so a run of frees into the
//! same region (the common case: most blocks live in the large general region) costs two
//! comparisons; a miss walks the list, O(regions).

use core::num::NonZero;
use core::ptr::NonNull;

use super::tag::{Block, GRANULE, MIN_BLOCK, Tag, WORD};
use crate::grower::Region;

/// The header at the start of every region.
#[repr(C)]
struct RegionHeader {
    next: Option<NonNull<RegionHeader>>,
    prev: Option<NonNull<RegionHeader>>,
    grown: Region,
    dedicated: bool,
}

/// Offset from the (aligned) header to the first block.
const FIRST_BLOCK_OFFSET: usize =
    (size_of::<RegionHeader>() + WORD).next_multiple_of(GRANULE) - WORD;

/// The most bytes of a region that are not part of its blocks: alignment padding at both ends,
/// the header and the sentinel.
pub(super) const REGION_OVERHEAD: usize = FIRST_BLOCK_OFFSET + WORD + 2 * (GRANULE - 1);

/// What the allocator needs to know about one region.
#[derive(Debug, Clone, Copy)]
pub(super) struct RegionView {
    header: NonNull<RegionHeader>,
    /// The region exactly as the grower handed it out.
    pub(super) grown: Region,
    /// Whether the region was grown for one large block.
    pub(super) dedicated: bool,
    /// The first block.
    pub(super) first: Block,
    /// The sentinel tag that ends the region.
    pub(super) sentinel: Block,
}

impl RegionView {
    /// Reads the header.
    ///
    /// # Safety
    /// `header` must be the header of a region in a [`RegionList`].
    unsafe fn read(header: NonNull<RegionHeader>) -> Self {
        // SAFETY: the caller guarantees an initialized header.
        let (grown, dedicated) =
            unsafe { ((*header.as_ptr()).grown, (*header.as_ptr()).dedicated) };
        // SAFETY: the first block lies FIRST_BLOCK_OFFSET after the header, inside the region.
        let first = Block::at(unsafe { header.cast::<u8>().byte_add(FIRST_BLOCK_OFFSET) });
        Self {
            header,
            grown,
            dedicated,
            first,
            sentinel: sentinel_of(header, grown),
        }
    }

    /// Whether `addr` could be the payload of one of this region's blocks.
    pub(super) fn holds_payload(&self, addr: usize) -> bool {
        addr > self.first.addr() && addr < self.sentinel.addr()
    }
}

/// Where the sentinel of the region `grown`, with its header at `header`, sits.
fn sentinel_of(header: NonNull<RegionHeader>, grown: Region) -> Block {
    let end = grown.ptr().addr().get() + grown.len();
    let sentinel = (end & !(GRANULE - 1)) - WORD;
    let offset = sentinel - header.addr().get();
    // SAFETY: `adopt` checked that the sentinel lies inside the region, after the header.
    Block::at(unsafe { header.cast::<u8>().byte_add(offset) })
}

/// All regions of an allocator, newest first.
pub(super) struct RegionList {
    head: Option<NonNull<RegionHeader>>,
    /// The region (as grown) that the last [`rebase`](Self::rebase) miss found; always a region
    /// in the list (cleared when that region leaves it).
    recent: Option<Region>,
}

impl RegionList {
    /// No regions.
    pub(super) const fn new() -> Self {
        Self {
            head: None,
            recent: None,
        }
    }

    /// Lays out a region just grown, links it in, and returns its view; its first block spans
    /// everything between the header and the sentinel and is not tagged yet. `None` (and nothing
    /// written) when the region is too small to hold one block.
    ///
    /// # Safety
    /// `grown` must be valid, unused memory that stays valid until it leaves the list.
    pub(super) unsafe fn adopt(&mut self, grown: Region, dedicated: bool) -> Option<RegionView> {
        let start = grown.ptr().addr().get();
        let end = start.checked_add(grown.len())?;
        let header_addr = start.checked_next_multiple_of(GRANULE)?;
        let first = header_addr.checked_add(FIRST_BLOCK_OFFSET)?;
        let sentinel = (end & !(GRANULE - 1)).checked_sub(WORD)?;
        if sentinel < first || sentinel - first < MIN_BLOCK {
            return None;
        }
        // SAFETY: `header_addr - start < GRANULE <= sentinel - start`, inside the region.
        let header = unsafe { grown.ptr().byte_add(header_addr - start) }.cast::<RegionHeader>();
        // SAFETY: the header and the sentinel lie inside the fresh region (checked above), at
        // GRANULE-aligned and word-aligned addresses.
        unsafe {
            header.write(RegionHeader {
                next: self.head,
                prev: None,
                grown,
                dedicated,
            });
            sentinel_of(header, grown).set_tag(Tag::sentinel(true), None);
            self.link_front(header);
        }
        // SAFETY: just written.
        Some(unsafe { RegionView::read(header) })
    }

    /// Links an initialized header at the front of the list.
    ///
    /// # Safety
    /// `header` must be an initialized header not in the list.
    unsafe fn link_front(&mut self, header: NonNull<RegionHeader>) {
        // SAFETY: `header` and the old head are initialized headers of live regions.
        unsafe {
            (*header.as_ptr()).next = self.head;
            (*header.as_ptr()).prev = None;
            if let Some(old) = self.head {
                (*old.as_ptr()).prev = Some(header);
            }
        }
        self.head = Some(header);
    }

    /// Takes a region out of the list. O(1).
    ///
    /// # Safety
    /// `region` must be in this list.
    pub(super) unsafe fn unlink(&mut self, region: &RegionView) {
        if self.recent == Some(region.grown) {
            self.recent = None;
        }
        let header = region.header.as_ptr();
        // SAFETY: the region and its neighbours in the list are live regions with headers.
        unsafe {
            let (next, prev) = ((*header).next, (*header).prev);
            if let Some(next) = next {
                (*next.as_ptr()).prev = prev;
            }
            match prev {
                Some(prev) => (*prev.as_ptr()).next = next,
                None => self.head = next,
            }
        }
    }

    /// Puts a region taken out with [`unlink`](Self::unlink) back (its release failed). O(1).
    ///
    /// # Safety
    /// `region` must have been unlinked from this list and still be valid memory.
    pub(super) unsafe fn relink(&mut self, region: &RegionView) {
        // SAFETY: forwarded to the caller.
        unsafe { self.link_front(region.header) }
    }

    /// The region whose first block starts at `first`.
    ///
    /// # Safety
    /// `first` must be the first block of a region in this list.
    pub(super) unsafe fn of_first_block(&self, first: Block) -> RegionView {
        // SAFETY: the header sits FIRST_BLOCK_OFFSET before the first block.
        unsafe { RegionView::read(first.ptr().byte_sub(FIRST_BLOCK_OFFSET).cast()) }
    }

    /// The regions, newest first. Each step is O(1).
    pub(super) fn iter(&self) -> Regions<'_> {
        Regions {
            next: self.head,
            _list: core::marker::PhantomData,
        }
    }

    /// The region whose block area holds `addr`, if any; O(regions).
    pub(super) fn find_payload(&self, addr: usize) -> Option<RegionView> {
        self.iter().find(|region| region.holds_payload(addr))
    }

    /// A pointer to `addr` with the provenance of the region that holds it, `None` when no
    /// region does. O(1) when the region is the one the previous miss found, else O(regions).
    pub(super) fn rebase(&mut self, addr: NonZero<usize>) -> Option<NonNull<u8>> {
        match self.recent {
            Some(recent) if recent.contains_addr(addr.get()) => Some(recent.ptr().with_addr(addr)),
            _ => self.rebase_by_walk(addr),
        }
    }

    /// [`rebase`](Self::rebase) when the remembered region does not hold `addr`: walks the list
    /// and remembers the region found. O(regions).
    fn rebase_by_walk(&mut self, addr: NonZero<usize>) -> Option<NonNull<u8>> {
        let grown = self
            .iter()
            .map(|region| region.grown)
            .find(|grown| grown.contains_addr(addr.get()))?;
        self.recent = Some(grown);
        Some(grown.ptr().with_addr(addr))
    }

    /// Whether `addr` lies anywhere inside a region as grown; O(regions).
    pub(super) fn contains(&self, addr: usize) -> bool {
        self.iter().any(|region| region.grown.contains_addr(addr))
    }
}

/// Iterator over the regions of a [`RegionList`].
pub(super) struct Regions<'a> {
    next: Option<NonNull<RegionHeader>>,
    _list: core::marker::PhantomData<&'a RegionList>,
}

impl Iterator for Regions<'_> {
    type Item = RegionView;

    fn next(&mut self) -> Option<RegionView> {
        let header = self.next?;
        // SAFETY: every header reachable from the list head is an initialized, live header.
        let view = unsafe { RegionView::read(header) };
        // SAFETY: as above.
        self.next = unsafe { (*header.as_ptr()).next };
        Some(view)
    }
}
