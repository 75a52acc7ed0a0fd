//! Region bookkeeping: how a region of memory is laid out, and the list of all regions.
//!
//! Each region starts with a small header that links it into a doubly linked list (so a region
//! can leave the list in O(1) when it is given back) and remembers the memory exactly as it was
//! handed over. Blocks follow; a sentinel tag ends the region.
//!
//! ```text
//!   region memory (from the grower, or claimed)
//!   ┌─────┬──────────────────────────┬───────────────────────────────┬──────────┬─────┐
//!   │ pad │ RegionHeader             │ blocks ...                    │ sentinel │ pad │
//!   │     │ next, prev, memory, kind │                               │ size 0|A │     │
//!   └─────┴──────────────────────────┴───────────────────────────────┴──────────┴─────┘
//!          ▲ 16-aligned               ▲ first block (payload 16-aligned)
//! ```
//!
//! **Joining adjacent memory.** When new memory starts exactly where the newest region ends
//! (pieces cut one after another from one buffer, a RAM bank right after another), the region
//! grows instead: its sentinel becomes the start of a free block over the new memory, and a new
//! sentinel ends it. So memory handed over in small pieces still serves large blocks. A region
//! made of several pieces is never given back (no grower takes back a range it did not hand
//! out as one piece).
//!
//! Regions grow geometrically (see the growers), so a heap of `H` bytes has O(log H) regions,
//! plus one per live dedicated block; finding the region of a pointer walks the list,
//! O(regions). Overhead per region: [`REGION_OVERHEAD`] bytes at most.
//!
//! **Provenance.** A pointer a caller hands back (to free or resize it) is used for its address
//! only: [`RegionList::rebase`] finds the region that holds the address and returns a pointer
//! to the same address carrying the *region's* provenance (the grower's memory), and every tag,
//! footer and link is reached through that. The caller's pointer may carry a permission for its
//! own bytes alone (a `Box`'s), or a read-only one (from a `&[u8]`): neither could be used to
//! write the allocator's metadata. The list remembers the region of the last look-up, so a run
//! of frees into the same region (the common case: most blocks live in the large general
//! region) costs two comparisons; a miss walks the list, O(regions).

use core::ptr::{self, NonNull};

use super::block::{Block, GRANULE, MIN_BLOCK, Tag, WORD};
use crate::grower::Region;

/// Where a region's memory came from, and whether it may be given back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionKind {
    /// Grown from the grower for blocks of any size; given back when empty (see the policy).
    General,
    /// Grown from the grower for one large block; given back when that block is freed.
    Dedicated,
    /// Handed over by the program ([`claim`](super::FreeListAllocator::claim)), or joined from
    /// several adjacent pieces: kept for good.
    Kept,
}

/// The header at the start of every region.
#[repr(C)]
struct RegionHeader {
    next: Option<NonNull<RegionHeader>>,
    prev: Option<NonNull<RegionHeader>>,
    memory: Region,
    kind: RegionKind,
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
    /// The region's memory as handed over (and joined).
    pub(super) memory: Region,
    /// Where it came from.
    pub(super) kind: RegionKind,
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
        let (memory, kind) = unsafe { ((*header.as_ptr()).memory, (*header.as_ptr()).kind) };
        // SAFETY: the first block lies FIRST_BLOCK_OFFSET after the header, inside the region.
        let first = Block::at(unsafe { header.cast::<u8>().byte_add(FIRST_BLOCK_OFFSET) });
        Self {
            header,
            memory,
            kind,
            first,
            sentinel: sentinel_of(header, memory),
        }
    }

    /// Whether `addr` could be the payload of one of this region's blocks.
    pub(super) fn holds_payload(&self, addr: usize) -> bool {
        addr > self.first.addr() && addr < self.sentinel.addr()
    }
}

/// Where the sentinel of the region `memory`, with its header at `header`, sits: the last
/// word before the last granule boundary of the memory.
fn sentinel_of(header: NonNull<RegionHeader>, memory: Region) -> Block {
    let end = memory.ptr().addr().get() + memory.len();
    let sentinel = (end & !(GRANULE - 1)) - WORD;
    let offset = sentinel - header.addr().get();
    // SAFETY: `adopt` checked that the sentinel lies inside the region, after the header.
    Block::at(unsafe { header.cast::<u8>().byte_add(offset) })
}

/// What [`RegionList::adopt`] made of new memory: one free block up to a sentinel, not
/// tagged yet, in a region of its own or at the end of the newest region. One shape for both,
/// so that the caller keeps one path (smaller at opt-level "z" than an enum whose first form
/// carried the whole region).
pub(super) struct Adopted {
    /// The new free block: a new region's first block, or the newest region's old sentinel.
    pub(super) start: Block,
    /// Its size, up to the (new) sentinel.
    pub(super) size: usize,
    /// `None` for a region of its own; for memory joined to the newest region, whether that
    /// region was a general one (it is kept for good now).
    pub(super) joined_general: Option<bool>,
    /// Whether the block before `start` is free (only ever when joined: a region's first block
    /// has no block before it).
    pub(super) prev_free: bool,
}

/// All regions of an allocator, newest first.
pub(super) struct RegionList {
    head: Option<NonNull<RegionHeader>>,
    /// The start of the region that the last [`rebase`](Self::rebase) miss found (always a
    /// region in the list), null when none: a null pointer and a zero length keep a `static`
    /// heap's initial value all zero.
    recent_start: *mut u8,
    /// The length of that region, zero when none.
    recent_len: usize,
}

impl RegionList {
    /// No regions.
    pub(super) const fn new() -> Self {
        Self {
            head: None,
            recent_start: ptr::null_mut(),
            recent_len: 0,
        }
    }

    /// Remembers `memory` as the region of the last look-up.
    fn remember(&mut self, memory: Region) {
        self.recent_start = memory.ptr().as_ptr();
        self.recent_len = memory.len();
    }

    /// Forgets the region of the last look-up.
    fn forget(&mut self) {
        self.recent_start = ptr::null_mut();
        self.recent_len = 0;
    }

    /// Lays out new memory: a region of its own, linked in, or, when `may_join`, an extension
    /// of the newest region when the memory starts where that one ends and neither is
    /// dedicated. Nothing is tagged yet but the sentinel. `None` (and nothing written) when the
    /// memory is too small to hold one block.
    ///
    /// # Safety
    /// `memory` must be valid, unused memory that stays valid until it leaves the list; when
    /// `may_join`, its pointer must be valid for the newest region's memory too.
    pub(super) unsafe fn adopt(
        &mut self,
        memory: Region,
        kind: RegionKind,
        may_join: bool,
    ) -> Option<Adopted> {
        if may_join
            && kind != RegionKind::Dedicated
            && let Some(head) = self.head
            // SAFETY: the head is a live region's header.
            && let Some(joined) = unsafe { self.join(head, memory) }
        {
            return Some(joined);
        }
        let start = memory.ptr().addr().get();
        let end = start.checked_add(memory.len())?;
        let header_addr = start.checked_next_multiple_of(GRANULE)?;
        let first = header_addr.checked_add(FIRST_BLOCK_OFFSET)?;
        let sentinel = (end & !(GRANULE - 1)).checked_sub(WORD)?;
        if sentinel < first || sentinel - first < MIN_BLOCK {
            return None;
        }
        // SAFETY: `header_addr - start < GRANULE <= sentinel - start`, inside the region.
        let header = unsafe { memory.ptr().byte_add(header_addr - start) }.cast::<RegionHeader>();
        // SAFETY: the header and the sentinel lie inside the fresh region (checked above), at
        // GRANULE-aligned and word-aligned addresses; the first block follows the header.
        unsafe {
            header.write(RegionHeader {
                next: None,
                prev: None,
                memory,
                kind,
            });
            sentinel_of(header, memory).set_tag(Tag::SENTINEL.with_prev_free(true));
            self.link_front(header);
            Some(Adopted {
                start: Block::at(header.cast::<u8>().byte_add(FIRST_BLOCK_OFFSET)),
                size: sentinel - first,
                joined_general: None,
                prev_free: false,
            })
        }
    }

    /// Extends the region at `head` over `memory` if it starts exactly where the region ends.
    /// The joined region is reached through `memory`'s pointer, valid for both (the caller's
    /// promise), where the old one's may cover the old memory only.
    ///
    /// # Safety
    /// `head` must be a live region of this list; `memory` as for [`adopt`](Self::adopt) with
    /// `may_join`.
    unsafe fn join(&mut self, head: NonNull<RegionHeader>, memory: Region) -> Option<Adopted> {
        // SAFETY: forwarded to the caller.
        let old = unsafe { RegionView::read(head) };
        let old_end = old.memory.ptr().addr().get() + old.memory.len();
        if old.kind == RegionKind::Dedicated || memory.ptr().addr().get() != old_end {
            return None;
        }
        let len = old.memory.len().checked_add(memory.len())?;
        let joined = Region::new(memory.ptr().with_addr(old.memory.ptr().addr()), len);
        let sentinel = sentinel_of(head, joined);
        let size = sentinel.addr() - old.sentinel.addr();
        if size < MIN_BLOCK {
            return None;
        }
        // SAFETY: the old sentinel's tag is valid; the header is ours; the new sentinel lies in
        // the new memory, word-aligned.
        let prev_free = unsafe {
            let prev_free = old.sentinel.tag().prev_free();
            (*head.as_ptr()).memory = joined;
            (*head.as_ptr()).kind = RegionKind::Kept;
            sentinel.set_tag(Tag::SENTINEL.with_prev_free(true));
            prev_free
        };
        if self.recent_start == old.memory.ptr().as_ptr() {
            self.remember(joined);
        }
        Some(Adopted {
            start: old.sentinel,
            size,
            joined_general: Some(old.kind == RegionKind::General),
            prev_free,
        })
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
        if self.recent_start == region.memory.ptr().as_ptr() {
            self.forget();
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
    #[inline(always)]
    pub(super) fn rebase(&mut self, addr: usize) -> Option<NonNull<u8>> {
        match self.rebase_recent(addr) {
            Some(ptr) => Some(ptr),
            None => self.rebase_by_walk(addr),
        }
    }

    /// [`rebase`](Self::rebase) in the region the previous miss found, `None` outside it. O(1).
    #[inline(always)]
    pub(super) fn rebase_recent(&self, addr: usize) -> Option<NonNull<u8>> {
        let offset = addr.wrapping_sub(self.recent_start.addr());
        // SAFETY: `offset` is inside the remembered region's memory, whose start is not null
        // (a region's never is), so neither is an address inside it.
        (offset < self.recent_len)
            .then(|| unsafe { NonNull::new_unchecked(self.recent_start.byte_add(offset)) })
    }

    /// [`rebase`](Self::rebase) when the remembered region does not hold `addr`: walks the list
    /// and remembers the region found. O(regions).
    #[cold]
    #[inline(never)]
    fn rebase_by_walk(&mut self, addr: usize) -> Option<NonNull<u8>> {
        let memory = self
            .iter()
            .map(|region| region.memory)
            .find(|memory| memory.contains_addr(addr))?;
        self.remember(memory);
        let offset = addr - memory.ptr().addr().get();
        // SAFETY: `offset` is inside the region's memory.
        Some(unsafe { memory.ptr().byte_add(offset) })
    }

    /// Whether `addr` lies anywhere inside a region's memory; O(regions).
    pub(super) fn contains(&self, addr: usize) -> bool {
        self.iter().any(|region| region.memory.contains_addr(addr))
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
