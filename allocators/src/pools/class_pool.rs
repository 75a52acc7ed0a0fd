//! One size class: its slabs with a free block, and how many slabs it holds.
//!
//! ```text
//!   with_room ──► [slab 1] ⇄ [slab 0] ⇄ [slab 3] ──► null    (doubly linked, in the headers)
//!                  full slabs are on no list; the pools' slab table knows every slab
//!
//!   slab 1's header: words_with_room 0b0101 ─► in_use[0] = 1111…1011 ─► block 2 is free
//!                    (bit 0 on the right; the header's own numbers, here 0 and 1, stay set)
//! ```
//!
//! All bookkeeping lives in the slab headers: the pools never read or write a block's own
//! bytes, free or not. A free block's memory may still be covered by its last owner's
//! permission (a `Box` freed while a function holding it runs), and storing a free-list link
//! in it would be an access under a permission that is not ours; the bitmap avoids that.
//!
//! Taking a block takes the lowest free bit of the first slab with room (two trailing-zero
//! counts) and unlinks that slab when it fills: O(1). Returning a block clears its bit, links
//! its slab back if it was full, and reports whether the slab became empty: O(1), through a
//! slab pointer with the pools' provenance (the fallback's own pointer, or the pools' slab
//! table). The caller's pointer only ever gives the address, and blocks are handed out as our
//! slab pointer re-based. The class's magazine (see `magazine`) sits in front of this: a block
//! freed into it stays taken here until the magazine gives it back.

use core::ptr::{self, NonNull};

use super::class::block_size;
use super::slab::{self, Geometry, SlabHeader, size_shift};
use crate::FreeError;

/// The slabs of one size class (its index is the caller's to give: the pools keep one per
/// class in an array).
pub(super) struct ClassPool {
    /// The first slab with a free block, or null; each links the next through its header.
    with_room: *mut SlabHeader,
    /// How many slabs the class holds.
    slab_count: usize,
    /// How many of them have no block in use.
    empty_slabs: usize,
    /// How many slabs the class gave back to the fallback so far.
    released: usize,
    /// Blocks taken from the slabs: handed out, or held in the class's magazine (the free
    /// ones are derived: every slab's blocks minus these).
    taken: usize,
}

/// Counters of one size class; all exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassStats {
    /// The size of every block of the class.
    pub block_size: usize,
    /// Blocks handed out.
    pub blocks_in_use: usize,
    /// Blocks ready to be handed out without a new slab (those in the magazine included).
    pub blocks_free: usize,
    /// Freed blocks the class holds in its magazine, handed out again first; their slabs
    /// count them in use until the magazine gives them back.
    pub blocks_in_magazine: usize,
    /// Slabs the class holds now.
    pub slabs: usize,
    /// Slabs the class holds that have no block taken: none handed out and none in the
    /// class's magazine.
    pub empty_slabs: usize,
    /// Slabs the class gave back to the fallback so far.
    pub slabs_released: usize,
}

/// What becomes of a slab that lost its last block in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Returned {
    /// The class keeps it, empty, for later requests.
    Kept,
    /// The slab is empty and beyond the class's reserve: it is unlinked from the class and
    /// the caller must give it back to the fallback.
    Release,
}

impl ClassPool {
    /// An empty class: all zero bits. O(1).
    pub(super) const fn new() -> Self {
        Self {
            with_room: ptr::null_mut(),
            slab_count: 0,
            empty_slabs: 0,
            released: 0,
            taken: 0,
        }
    }

    /// Hands out a block of class `class` (this pool's), or `None` when the class needs a new
    /// slab. O(1).
    #[inline]
    pub(super) fn take(&mut self, class: usize) -> Option<NonNull<u8>> {
        let header = NonNull::new(self.with_room)?.as_ptr();
        // SAFETY: slabs on the room list are live slabs of ours, reached through our pointer.
        unsafe {
            if (*header).blocks_in_use == 0 {
                self.empty_slabs -= 1;
            }
            let index = slab::take_free(header)?;
            if !slab::has_room(header) {
                self.unlink(header);
            }
            self.taken += 1;
            NonNull::new(header.cast::<u8>().wrapping_add(index << size_shift(class)))
        }
    }

    /// Adds a fresh slab to this pool, of class `class`, and makes its blocks available;
    /// returns its header. O(1).
    ///
    /// # Safety
    /// `slab` must be a new allocation of `geometry.layout()` that now belongs to this class.
    pub(super) unsafe fn add_slab(
        &mut self,
        geometry: Geometry,
        class: usize,
        slab: NonNull<u8>,
    ) -> *mut SlabHeader {
        // SAFETY: forwarded from the caller: a fresh slab of `geometry` that we own.
        let header = unsafe { slab::init_header(slab, geometry, class) };
        // SAFETY: the header was just written and is ours; it is on no list yet.
        unsafe { self.link(header) };
        self.slab_count += 1;
        self.empty_slabs += 1;
        header
    }

    /// Checks that the block at `address` of the slab at `header` could be returned: a block
    /// start, in use; returns its index. O(1), changes nothing.
    ///
    /// # Errors
    /// [`FreeError::UnalignedFree`] for an address not at a block start,
    /// [`FreeError::DoubleFree`] for a block not in use.
    ///
    /// # Safety
    /// `header` must be our pointer to one of the slabs of this pool, of class `class` and
    /// `geometry`, and `address` inside that slab's span.
    pub(super) unsafe fn check(
        &self,
        geometry: Geometry,
        class: usize,
        header: *mut SlabHeader,
        address: usize,
    ) -> Result<usize, FreeError> {
        let index = slab::block_index(header.cast::<u8>().with_addr(address), geometry, class)?;
        // SAFETY: `header` is one of our live slab headers; `index` is one of its blocks.
        if unsafe { slab::is_in_use(header, index) } {
            Ok(index)
        } else {
            Err(FreeError::DoubleFree)
        }
    }

    /// The number of the block at `address` in the slab at `header`, for an address known to
    /// be a block start of class `class` there (a trusted free): a subtraction and a shift, no
    /// checks.
    #[inline(always)]
    pub(super) fn block_index_trusted(
        header: *mut SlabHeader,
        class: usize,
        address: usize,
    ) -> usize {
        address.wrapping_sub(header.addr()) >> size_shift(class)
    }

    /// Marks block `index` of the slab at `header` free and puts the slab back on the room list
    /// if it was full; returns whether the slab is now empty (then the caller must call
    /// [`emptied`](Self::emptied)). Only the header is written, through our pointer. O(1); a
    /// block not in use (impossible under the callers' contracts) changes nothing.
    ///
    /// # Safety
    /// `header` must be our pointer to one of this class's slabs and `index` one of its blocks.
    #[inline(always)]
    pub(super) unsafe fn give_back(&mut self, header: *mut SlabHeader, index: usize) -> bool {
        // SAFETY: `header` is one of our live slab headers (the caller's contract) and `index`
        // one of its blocks.
        unsafe {
            let was_full = !slab::has_room(header);
            if slab::mark_free(header, index).is_err() {
                return false;
            }
            self.taken -= 1;
            if was_full {
                self.link(header);
            }
            (*header).blocks_in_use == 0
        }
    }

    /// A slab of this class just lost its last block in use: kept as one of the `kept_empty`
    /// empty slabs, or unlinked for the caller to give back.
    ///
    /// # Safety
    /// `header` must be our pointer to one of this class's slabs, on the room list, with no
    /// block in use.
    pub(super) unsafe fn emptied(
        &mut self,
        header: *mut SlabHeader,
        kept_empty: usize,
    ) -> Returned {
        if self.empty_slabs < kept_empty {
            self.empty_slabs += 1;
            return Returned::Kept;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.unlink(header) };
        self.slab_count -= 1;
        self.released += 1;
        Returned::Release
    }

    /// Takes one slab with no block taken off this class, for the caller to give back to the
    /// fallback; `None` when the class has none. O(slabs with room).
    pub(super) fn take_empty_slab(&mut self) -> Option<*mut SlabHeader> {
        if self.empty_slabs == 0 {
            return None;
        }
        // SAFETY: every header on the room list is a live header of ours.
        let empty = self
            .slabs_with_room()
            .find(|&header| unsafe { (*header).blocks_in_use == 0 })?;
        // SAFETY: `empty` is on this class's room list.
        unsafe { self.unlink(empty) };
        self.slab_count -= 1;
        self.empty_slabs -= 1;
        self.released += 1;
        Some(empty)
    }

    /// The slabs on the room list, first to last. O(slabs with room) to walk; for checks.
    pub(super) fn slabs_with_room(&self) -> impl Iterator<Item = *mut SlabHeader> + '_ {
        // SAFETY: every header on the room list is a live header of ours.
        core::iter::successors(NonNull::new(self.with_room), |header| unsafe {
            NonNull::new((*header.as_ptr()).next_with_room)
        })
        .map(NonNull::as_ptr)
    }

    /// How many slabs the class holds, and how many of them have no block in use. O(1).
    pub(super) const fn slab_counts(&self) -> (usize, usize) {
        (self.slab_count, self.empty_slabs)
    }

    /// How many slabs the class gave back to the fallback so far. O(1).
    pub(super) const fn released(&self) -> usize {
        self.released
    }

    /// Blocks taken from the slabs: handed out, or in the class's magazine. O(1).
    pub(super) const fn taken(&self) -> usize {
        self.taken
    }

    /// The counters of this pool, of class `class` and slabs of `geometry`, whose magazine
    /// holds `in_magazine` of its taken blocks. O(1).
    pub(super) const fn stats(
        &self,
        geometry: Geometry,
        class: usize,
        in_magazine: usize,
    ) -> ClassStats {
        let in_use = self.taken - in_magazine;
        ClassStats {
            block_size: block_size(class),
            blocks_in_use: in_use,
            blocks_free: self.slab_count * geometry.blocks(class) - in_use,
            blocks_in_magazine: in_magazine,
            slabs: self.slab_count,
            empty_slabs: self.empty_slabs,
            slabs_released: self.released,
        }
    }

    /// Puts a slab with room at the front of the room list.
    ///
    /// # Safety
    /// `header` must be one of our live slab headers, on no list.
    unsafe fn link(&mut self, header: *mut SlabHeader) {
        // SAFETY: `header` and the old head are live headers of ours.
        unsafe {
            (*header).next_with_room = self.with_room;
            (*header).prev_with_room = ptr::null_mut();
            if let Some(old) = self.with_room.as_mut() {
                old.prev_with_room = header;
            }
        }
        self.with_room = header;
    }

    /// Takes a slab off the room list.
    ///
    /// # Safety
    /// `header` must be one of our live slab headers, on this class's room list.
    unsafe fn unlink(&mut self, header: *mut SlabHeader) {
        // SAFETY: `header` and its neighbours on the list are live headers of ours.
        unsafe {
            let (next, prev) = ((*header).next_with_room, (*header).prev_with_room);
            if let Some(next) = next.as_mut() {
                next.prev_with_room = prev;
            }
            match prev.as_mut() {
                Some(prev) => prev.next_with_room = next,
                None => self.with_room = next,
            }
        }
    }
}
