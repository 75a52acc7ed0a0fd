//! One size class: its slabs, the free list threaded through its free blocks, and the
//! uncarved rest of its newest slab.
//!
//! ```text
//!   slabs ──► [slab 2] ──► [slab 1] ──► [slab 0] ──► null     (linked through headers)
//!
//!   free  ──► ┌──────┐   ┌──────┐   ┌──────┐
//!             │ next ├──►│ next ├──►│ null │                  (links inside free blocks)
//!             └──────┘   └──────┘   └──────┘
//!
//!   carve ──► first never-used block of the newest slab; carve_left blocks remain
//! ```
//!
//! Taking a block pops the free list, else carves the next never-used block: O(1). A new slab
//! only sets the carve cursor (O(1)), so no operation walks a slab's blocks. Returning a block
//! checks its slab's bitmap (O(1)) through the slab pointer the pools own: the trusted form gets
//! it from the pools' slab table, the checked form confirms the block's slab belongs to this
//! class by walking the slab list, O(slabs of the class). The caller's pointer only ever gives
//! the address; every block on the free list, and so every block handed out, is re-based on
//! the slab's own pointer.

use core::ptr::{self, NonNull};

use super::slab::{self, SlabHeader};
use crate::FreeError;

/// The blocks of one size, and where they came from.
pub(super) struct ClassPool {
    /// The size of every block of this class.
    block_size: usize,
    /// The most recently freed block, or null; each free block stores the next one.
    free: *mut u8,
    /// The next never-used block of the newest slab.
    carve: *mut u8,
    /// How many never-used blocks follow from `carve`.
    carve_left: usize,
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
            free: ptr::null_mut(),
            carve: ptr::null_mut(),
            carve_left: 0,
            slabs: ptr::null_mut(),
            slab_count: 0,
            in_use: 0,
        }
    }

    /// Hands out a block, or `None` when the class needs a new slab. O(1).
    pub(super) fn take(&mut self) -> Option<NonNull<u8>> {
        let block = if let Some(block) = NonNull::new(self.free) {
            // SAFETY: blocks on the free list are free blocks of our slabs, aligned to at least
            // 16 bytes, whose first word `give_back` set to the next free block.
            self.free = unsafe { block.as_ptr().cast::<*mut u8>().read() };
            block
        } else if self.carve_left > 0 {
            let block = NonNull::new(self.carve)?;
            self.carve = self.carve.wrapping_add(self.block_size);
            self.carve_left -= 1;
            block
        } else {
            return None;
        };
        self.mark(block.as_ptr());
        self.in_use += 1;
        Some(block)
    }

    /// Adds a fresh slab and makes its blocks available; returns its header. O(1).
    ///
    /// # Safety
    /// `slab` must be a new allocation of [`slab::slab_layout`] that now belongs to this class.
    pub(super) unsafe fn add_slab(&mut self, slab: NonNull<u8>) -> *mut SlabHeader {
        // SAFETY: forwarded from the caller: a fresh slab that we own.
        let header = unsafe { slab::init_header(slab) };
        // SAFETY: the header was just written and is ours.
        unsafe { (*header).next = self.slabs };
        self.slabs = header;
        self.slab_count += 1;
        self.carve = slab
            .as_ptr()
            .wrapping_add(slab::first_block_offset(self.block_size));
        self.carve_left = slab::blocks_per_slab(self.block_size);
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

    /// Marks the block at `address` of the slab at `header` free and pushes it on the free
    /// list, provided it is a block start and in use. The caller's pointer gave only the
    /// address: the bitmap and the link are written through `header`'s provenance, and the
    /// free list holds our pointers, so a block handed out again carries ours too.
    ///
    /// # Safety
    /// `header` must be our pointer to one of this class's slabs and `address` inside that
    /// slab's 32 KiB span.
    unsafe fn release(&mut self, header: *mut SlabHeader, address: usize) -> Result<(), FreeError> {
        let block = header.cast::<u8>().with_addr(address);
        let index = slab::block_index(block, self.block_size)?;
        // SAFETY: `header` is one of our live slab headers (the caller's contract) and
        // `block_index` returned a block of that slab.
        unsafe { slab::mark_free(header, index) }?;
        // SAFETY: `block_index` placed the block wholly inside the slab, and `block` carries
        // the slab's provenance; the block is now free, at least 16 bytes and 16-aligned, so
        // it can hold the link, and nobody else uses it.
        unsafe { block.cast::<*mut u8>().write(self.free) };
        self.free = block;
        self.in_use -= 1;
        Ok(())
    }

    /// Records a block about to be handed out in its slab's bitmap.
    fn mark(&mut self, block: *mut u8) {
        // Blocks come only from our slabs' free list or carve region, so both hold.
        if let Ok(index) = slab::block_index(block, self.block_size) {
            // SAFETY: the block lies in one of our slabs, whose header is live.
            unsafe { slab::mark_in_use(slab::slab_of(block), index) };
        }
    }
}
