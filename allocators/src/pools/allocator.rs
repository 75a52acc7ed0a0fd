//! [`SizeClassPools`]: the routing policy. Small requests go to the pool of their size class,
//! the rest to the fallback allocator; frees and reallocations are routed by the layout.
//!
//! ```text
//!   allocate(layout) ─► class_of(layout) ─┬─ Some(c) ─► classes[c].take()
//!                                         │              └─ empty? one slab from fallback
//!                                         └─ None ────► fallback.alloc(layout)
//!
//!   deallocate_trusted(ptr) ─► slab_table.find(ptr.addr()) ─► our slab pointer
//!                                 └─► classes[c].give_back(slab, ptr.addr())
//! ```
//!
//! A caller's pointer is only ever an address here: the slab table gives back the pointer the
//! pools got from the fallback, and headers and handed-out blocks all use that one.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use super::class::{CLASS_COUNT, block_size, class_of};
use super::class_pool::{ClassPool, ClassStats};
use super::slab::slab_layout;
use super::slab_table::SlabTable;
use crate::FreeError;

/// Eight power-of-two pools (16 B to 2 KiB) in front of a fallback allocator `F`.
///
/// A request whose size and alignment fit a class (`max(next_pow2(size), align) <= 2048`) is
/// served from that class's slabs in O(1); the class takes slabs (32 KiB-aligned, 16
/// bytes short of 32 KiB, see [`SLAB_TAIL`](super::SLAB_TAIL)) from `F` when it
/// runs dry and keeps them (slabs go back to `F` only when the pools are dropped). Larger or
/// more aligned requests go straight to `F`.
///
/// ```
/// use core::alloc::Layout;
/// use bareheap::SizeClassPools;
/// use std::alloc::System;
///
/// let mut pools = SizeClassPools::new(System);
/// let layout = Layout::new::<[u64; 3]>();
/// let block = pools.allocate(layout).expect("memory");
/// assert_eq!(pools.stats().classes[1].blocks_in_use, 1); // the 32-byte class
/// // SAFETY: allocated above with this layout.
/// unsafe { pools.deallocate(block.as_ptr(), layout) }.expect("a live block");
/// ```
pub struct SizeClassPools<F: GlobalAlloc> {
    /// One pool per size class, smallest first.
    classes: [ClassPool; CLASS_COUNT],
    /// Every slab of every class, by address: our pointer to it for a trusted free.
    slab_table: SlabTable,
    /// Where slabs, large requests and the slab table's memory come from.
    fallback: F,
    /// Live blocks served by the fallback directly.
    fallback_blocks: usize,
    /// Bytes of those blocks, as requested.
    fallback_bytes: usize,
}

/// A snapshot of the counters of a [`SizeClassPools`]; all exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Per size class, smallest first.
    pub classes: [ClassStats; CLASS_COUNT],
    /// Slabs taken from the fallback, all classes.
    pub slabs: usize,
    /// Bytes of those slabs.
    pub slab_bytes: usize,
    /// Live blocks the fallback serves directly.
    pub fallback_blocks: usize,
    /// Bytes of those blocks, as requested.
    pub fallback_bytes: usize,
    /// Bytes of the slab table (address to slab, for the expected-O(1) trusted free): one more
    /// allocation from the fallback once it is non-zero.
    pub slab_table_bytes: usize,
}

// SAFETY: the raw pointers point into slabs and a slab table that this value owns
// exclusively (taken from the fallback and never shared), so moving the value to another
// thread moves sole ownership of them; the fallback itself must be `Send`.
unsafe impl<F: GlobalAlloc + Send> Send for SizeClassPools<F> {}

impl<F: GlobalAlloc> SizeClassPools<F> {
    /// Empty pools in front of `fallback`. O(1); `const`, so it can initialise a `static`
    /// (through [`LockedSizeClassPools`](super::LockedSizeClassPools)).
    pub const fn new(fallback: F) -> Self {
        let mut classes = [const { ClassPool::new(0) }; CLASS_COUNT];
        let mut index = 0;
        while index < CLASS_COUNT {
            classes[index] = ClassPool::new(block_size(index));
            index += 1;
        }
        Self {
            classes,
            slab_table: SlabTable::new(),
            fallback,
            fallback_blocks: 0,
            fallback_bytes: 0,
        }
    }

    /// The fallback allocator. O(1).
    pub const fn fallback(&self) -> &F {
        &self.fallback
    }

    /// Memory for `layout`, or `None` when the fallback is exhausted. Any size and alignment,
    /// including zero size. O(1) for class-sized layouts (plus one fallback call when a class
    /// needs a new slab, and one more and O(slabs) when the slab table doubles); the
    /// fallback's cost otherwise.
    pub fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        match class_of(layout) {
            Some(class) => self.allocate_in_class(class),
            None => self.allocate_from_fallback(layout),
        }
    }

    /// Takes back memory from [`allocate`](Self::allocate). For class-sized layouts it checks
    /// the pointer against the class's slabs: O(slabs of that class), and a refused free
    /// changes nothing. For larger layouts it forwards to the fallback, detecting only null.
    ///
    /// # Errors
    /// [`FreeError::NullPtrFree`]; for class-sized layouts also
    /// [`FreeError::FreeOutOfBounds`] (not in a slab of the layout's class),
    /// [`FreeError::UnalignedFree`] (not at a block start), [`FreeError::DoubleFree`].
    ///
    /// # Safety
    /// If `layout` is larger than every class, `ptr` must have come from `allocate` with this
    /// layout and not been freed since; for class-sized layouts any pointer is accepted.
    pub unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        let block = NonNull::new(ptr).ok_or(FreeError::NullPtrFree)?;
        match class_of(layout) {
            Some(class) => self.classes[class].give_back_checked(block),
            None => {
                // SAFETY: forwarded from the caller.
                unsafe { self.deallocate_to_fallback(block, layout) };
                Ok(())
            }
        }
    }

    /// Takes back memory from [`allocate`](Self::allocate) without searching the slab list:
    /// expected O(1) for class-sized layouts (a slab-table lookup, then the bitmap). Still
    /// refuses, without change, a pointer in no slab, not at a block start or a block not in
    /// use. `ptr` gives only the address; its provenance is not used.
    ///
    /// This is the `GlobalAlloc` form's free, for callers that only ever free what they
    /// allocated; anything else should use the checked [`deallocate`](Self::deallocate).
    ///
    /// # Errors
    /// [`FreeError::FreeOutOfBounds`], [`FreeError::UnalignedFree`],
    /// [`FreeError::DoubleFree`].
    ///
    /// # Safety
    /// `ptr` must have come from `allocate` (or a reallocation) with this layout.
    pub unsafe fn deallocate_trusted(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
    ) -> Result<(), FreeError> {
        match class_of(layout) {
            Some(class) => {
                let address = ptr.addr().get();
                let header = self
                    .slab_table
                    .find(address)
                    .ok_or(FreeError::FreeOutOfBounds)?;
                // SAFETY: the table holds our own pointers to our slabs, and found the one
                // whose span holds `address`; the caller guarantees it is this class's slab.
                unsafe { self.classes[class].give_back(header, address) }
            }
            None => {
                // SAFETY: forwarded from the caller.
                unsafe { self.deallocate_to_fallback(ptr, layout) };
                Ok(())
            }
        }
    }

    /// Resizes the memory at `ptr` from `old` to `new`, keeping the first
    /// `min(old.size(), new.size())` bytes; `None` (old memory untouched) on exhaustion.
    /// Within one class: the same address, expected O(1) (the slab table gives the pointer
    /// back with the slab's provenance, so the whole block is usable through it). Between the
    /// fallback's layouts with equal alignment: the fallback's `realloc`. Otherwise: allocate,
    /// copy, free, O(size).
    ///
    /// # Safety
    /// `ptr` must have come from `allocate` (or a reallocation) with layout `old`.
    pub unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Option<NonNull<u8>> {
        match (class_of(old), class_of(new)) {
            (Some(from), Some(to)) if from == to => {
                let header = self.slab_table.find(ptr.addr().get())?;
                NonNull::new(header.cast::<u8>().with_addr(ptr.addr().get()))
            }
            (None, None) if old.align() == new.align() => {
                // SAFETY: forwarded from the caller; the alignments are equal.
                unsafe { self.reallocate_in_fallback(ptr, old, new) }
            }
            _ => {
                let moved = self.allocate(new)?;
                let kept = old.size().min(new.size());
                // SAFETY: both blocks are live, distinct and at least `kept` bytes long.
                unsafe { ptr::copy_nonoverlapping(ptr.as_ptr(), moved.as_ptr(), kept) };
                // SAFETY: forwarded from the caller. It cannot fail for a live block.
                let _ = unsafe { self.deallocate_trusted(ptr, old) };
                Some(moved)
            }
        }
    }

    /// A snapshot of all counters. O(1) (a fixed eight classes).
    pub fn stats(&self) -> PoolStats {
        let classes = self.classes.each_ref().map(ClassPool::stats);
        let slabs = classes.iter().map(|class| class.slabs).sum();
        PoolStats {
            classes,
            slabs,
            slab_bytes: slabs * slab_layout().size(),
            fallback_blocks: self.fallback_blocks,
            fallback_bytes: self.fallback_bytes,
            slab_table_bytes: self.slab_table.bytes(),
        }
    }

    /// A block of class `class`, taking a new slab from the fallback if the class is empty.
    fn allocate_in_class(&mut self, class: usize) -> Option<NonNull<u8>> {
        match self.classes[class].take() {
            Some(block) => Some(block),
            None => self.allocate_in_new_slab(class),
        }
    }

    /// A block of class `class` from a new slab: the rare path, kept out of line so that the
    /// common one stays small.
    #[cold]
    #[inline(never)]
    fn allocate_in_new_slab(&mut self, class: usize) -> Option<NonNull<u8>> {
        // Room in the table first: a slab the table cannot record could not be freed into.
        if !self.slab_table.reserve_one(&self.fallback) {
            return None;
        }
        // SAFETY: the slab layout has a non-zero size.
        let slab = NonNull::new(unsafe { self.fallback.alloc(slab_layout()) })?;
        // SAFETY: a fresh slab of `slab_layout`, handed to exactly one class.
        let header = unsafe { self.classes[class].add_slab(slab) };
        self.slab_table.insert(header);
        self.classes[class].take()
    }

    /// A block straight from the fallback.
    fn allocate_from_fallback(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: `nonzero` never has size zero.
        let block = NonNull::new(unsafe { self.fallback.alloc(nonzero(layout)?) })?;
        self.fallback_blocks += 1;
        self.fallback_bytes += layout.size();
        Some(block)
    }

    /// Returns a fallback block.
    ///
    /// # Safety
    /// `block` must have come from `allocate_from_fallback` (or a fallback reallocation) with
    /// `layout`.
    unsafe fn deallocate_to_fallback(&mut self, block: NonNull<u8>, layout: Layout) {
        // A block exists, so `nonzero` succeeded when it was allocated.
        if let Some(request) = nonzero(layout) {
            // SAFETY: the caller guarantees the fallback gave `block` for this request.
            unsafe { self.fallback.dealloc(block.as_ptr(), request) };
            // Saturating: a caller breaking the contract must not make the counters panic.
            self.fallback_blocks = self.fallback_blocks.saturating_sub(1);
            self.fallback_bytes = self.fallback_bytes.saturating_sub(layout.size());
        }
    }

    /// Resizes a fallback block through the fallback's own `realloc`.
    ///
    /// # Safety
    /// `block` must be a live fallback block of layout `old`, and `new.align() == old.align()`.
    unsafe fn reallocate_in_fallback(
        &mut self,
        block: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Option<NonNull<u8>> {
        let (request, resized) = (nonzero(old)?, nonzero(new)?);
        // SAFETY: the caller guarantees `block` is live with `request` (what `allocate` asked
        // the fallback for); the new size is non-zero and valid with the same alignment.
        let moved = unsafe {
            self.fallback
                .realloc(block.as_ptr(), request, resized.size())
        };
        let moved = NonNull::new(moved)?;
        self.fallback_bytes = self.fallback_bytes.saturating_sub(old.size()) + new.size();
        Some(moved)
    }
}

impl<F: GlobalAlloc> Drop for SizeClassPools<F> {
    /// Returns every slab and the slab table to the fallback: O(slabs). Blocks still handed out from the pools
    /// dangle afterwards; fallback blocks are the caller's to free.
    fn drop(&mut self) {
        let fallback = &self.fallback;
        for class in &mut self.classes {
            class.drain_slabs(|slab| {
                // SAFETY: every slab was allocated from this fallback with `slab_layout` and is
                // detached from its class, so nothing uses it any more.
                unsafe { fallback.dealloc(slab.as_ptr(), slab_layout()) }
            });
        }
        // SAFETY: every growth of the table took its memory from this fallback.
        unsafe { self.slab_table.release(fallback) };
    }
}

/// The request made to the fallback for `layout`: at least one byte, since `GlobalAlloc`
/// forbids zero-size requests (a zero-size layout reaches the fallback when its alignment is
/// above every class).
fn nonzero(layout: Layout) -> Option<Layout> {
    Layout::from_size_align(layout.size().max(1), layout.align()).ok()
}
