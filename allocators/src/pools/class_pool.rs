//! One size class: its slabs, and the list of those with a free block.
//!
//! ```text
//!   slabs     ──► [slab 2] ──► [slab 1] ──► [slab 0] ──► null   (every slab, via `next`)
//!   with_room ──► [slab 1] ──► [slab 0] ──► null                (via `next_with_room`)
//!
//!   slab 1's header: words_with_room 0b0101 ─► in_use[0] = 1101…1111 ─► block 1 is free
//! ```
//!
//! All bookkeeping lives in the slab headers: the pools never read or write a block's own
//! bytes, free or not. A free block's memory may still be covered by its last owner's
//! permission (a `Box` freed while a function holding it runs), and storing a free-list link
//! in it would be an access under a permission that is not ours; the bitmap avoids that.
//!
//! Taking a block takes the lowest free bit of the first slab with room (two trailing-zero
//! counts) and unlinks that slab when it fills: O(1). Returning a block clears its bit and
//! links its slab back if it was full: O(1), through the slab pointer the pools own (the
//! trusted form gets it from the pools' slab table, the checked form confirms the slab belongs
//! to this class by walking the slab list, O(slabs of the class)). The caller's pointer only
//! ever gives the address, and blocks are handed out as our slab pointer re-based.

use core::ptr::{self, NonNull};

use super::slab::{self, SlabHeader};
use crate::FreeError;

/// The blocks of one size, and where they came from.
pub(super) struct ClassPool {
    /// The size of every block of this class.
    block_size: usize,
    /// The first slab with a free block, or null; each links the next through its header.
    with_room: *mut SlabHeader,
    /// The newest slab, or null; each header links the next older one.
    slabs: *mut SlabHeader,
    /// How many slabs the class owns.
    slab_count: usize,
    /// Blocks handed out (the free ones are derived: every slab's blocks minus these).
    in_use: usize,
}

/// Counters of one size class; all exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ClassStats {
    /// The size of every block of the class.
    pub block_size: usize,
    /// Blocks handed out.
    pub blocks_in_use: usize,
    /// Blocks ready to be handed out without a new slab.
    pub blocks_free: usize,
    /// Slabs the class has taken from the fallback.
    pub slabs: usize,
}

impl ClassPool {
    /// An empty class of blocks of `block_size` bytes (a power of two, at least 16). O(1).
    pub(super) const fn new(block_size: usize) -> Self {
        Self {
            block_size,
            with_room: ptr::null_mut(),
            slabs: ptr::null_mut(),
            slab_count: 0,
            in_use: 0,
        }
    }

    /// Hands out a block, or `None` when the class needs a new slab. O(1).
    pub(super) fn take(&mut self) -> Option<NonNull<u8>> {
        let header = NonNull::new(self.with_room)?.as_ptr();
        // SAFETY: slabs on the room list are live slabs of ours, reached through our pointer.
        let index = unsafe { slab::take_free(header) }?;
        // SAFETY: as above.
        if !unsafe { slab::has_room(header) } {
            // SAFETY: as above.
            self.with_room = unsafe { (*header).next_with_room };
        }
        self.in_use += 1;
        let offset =
            slab::first_block_offset(self.block_size) + (index << self.block_size.trailing_zeros());
        NonNull::new(header.cast::<u8>().wrapping_add(offset))
    }

    /// Adds a fresh slab and makes its blocks available; returns its header. O(1).
    ///
    /// # Safety
    /// `slab` must be a new allocation of [`slab::slab_layout`] that now belongs to this class.
    pub(super) unsafe fn add_slab(&mut self, slab: NonNull<u8>) -> *mut SlabHeader {
        // SAFETY: forwarded from the caller: a fresh slab that we own.
        let header = unsafe { slab::init_header(slab, self.block_size) };
        // SAFETY: the header was just written and is ours.
        unsafe {
            (*header).next = self.slabs;
            (*header).next_with_room = self.with_room;
        }
        self.slabs = header;
        self.with_room = header;
        self.slab_count += 1;
        header
    }

    /// Takes back a block after confirming it lies in one of this class's slabs.
    /// O(slabs of the class). A refused free changes nothing.
    ///
    /// # Errors
    /// [`FreeError::FreeOutOfBounds`] for a pointer in none of the class's slabs;
    /// [`FreeError::UnalignedFree`] for a pointer not at a block start;
    /// [`FreeError::DoubleFree`] for a block not in use.
    pub(super) fn give_back_checked(&mut self, block: NonNull<u8>) -> Result<(), FreeError> {
        let address = block.addr().get();
        let header = self
            .find_slab(address & !(slab::SLAB_SIZE - 1))
            .ok_or(FreeError::FreeOutOfBounds)?;
        // SAFETY: `find_slab` returned one of our headers, at the slab's start, and `address`
        // has the same 32 KiB-aligned slab address, so it lies inside that slab's span.
        unsafe { self.release(header, address) }
    }

    /// Takes back the block at `address` in the slab at `header`. O(1). A refused free
    /// changes nothing.
    ///
    /// # Errors
    /// [`FreeError::UnalignedFree`] or [`FreeError::DoubleFree`], as
    /// [`give_back_checked`](Self::give_back_checked).
    ///
    /// # Safety
    /// `header` must be our own pointer to one of this class's slabs (as the pools' slab table
    /// records it) and `address` inside that slab's 32 KiB span.
    pub(super) unsafe fn give_back(
        &mut self,
        header: *mut SlabHeader,
        address: usize,
    ) -> Result<(), FreeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.release(header, address) }
    }

    /// Detaches every slab, leaving the class empty, and passes each to `return_slab`.
    /// O(slabs of the class).
    pub(super) fn drain_slabs(&mut self, mut return_slab: impl FnMut(NonNull<u8>)) {
        let mut slab = self.slabs;
        while let Some(header) = NonNull::new(slab) {
            // SAFETY: every header on the list is a live header of a slab we own.
            slab = unsafe { (*header.as_ptr()).next };
            return_slab(header.cast());
        }
        *self = Self::new(self.block_size);
    }

    /// The counters of this class. O(1).
    pub(super) const fn stats(&self) -> ClassStats {
        ClassStats {
            block_size: self.block_size,
            blocks_in_use: self.in_use,
            blocks_free: self.slab_count * slab::blocks_per_slab(self.block_size) - self.in_use,
            slabs: self.slab_count,
        }
    }

    /// This class's slab header at `address`, if there is one. O(slabs of the class).
    fn find_slab(&self, address: usize) -> Option<*mut SlabHeader> {
        let mut slab = self.slabs;
        while !slab.is_null() {
            if slab.addr() == address {
                return Some(slab);
            }
            // SAFETY: every header on the list is a live header of a slab we own.
            slab = unsafe { (*slab).next };
        }
        None
    }

    /// Marks the block at `address` of the slab at `header` free, provided it is a block start
    /// and in use, and puts the slab back on the room list if it was full. The caller's
    /// pointer gave only the address: only the header is written, through our pointer.
    ///
    /// # Safety
    /// `header` must be our pointer to one of this class's slabs and `address` inside that
    /// slab's 32 KiB span.
    unsafe fn release(&mut self, header: *mut SlabHeader, address: usize) -> Result<(), FreeError> {
        let index = slab::block_index(header.cast::<u8>().with_addr(address), self.block_size)?;
        // SAFETY: `header` is one of our live slab headers (the caller's contract).
        let was_full = !unsafe { slab::has_room(header) };
        // SAFETY: as above, and `block_index` returned a block of that slab.
        unsafe { slab::mark_free(header, index) }?;
        if was_full {
            // SAFETY: as above; a full slab is on no room list, so linking it cannot loop.
            unsafe { (*header).next_with_room = self.with_room };
            self.with_room = header;
        }
        self.in_use -= 1;
        Ok(())
    }
}
