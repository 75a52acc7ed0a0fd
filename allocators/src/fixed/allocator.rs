//! The single-threaded fixed-size pool: [`FixedSizeAllocator`], N blocks of S bytes stored
//! inline, handed out and taken back in O(1).
//!
//! It joins the two mechanisms of this module: the block array (addresses, alignment, bounds)
//! and the index free list (which block is free, exactly). Methods that hand out or take back
//! pointers take `self: Pin<&mut Self>` (the API of `fixed-size-allocator`, seed 000): the pin
//! promises that the blocks stay where they are while the pool lives, and the pointers are
//! derived from the storage's `UnsafeCell`, so a later call on the pool does not invalidate
//! blocks handed out earlier.
//!
//! **An aliasing note.** A `Pin<&mut Self>` is a `&mut` over the whole pool, blocks included,
//! while the caller holds pointers into those blocks. That is sound today because the pool is
//! `!Unpin` (`PhantomPinned`), and Rust exempts `&mut` to `!Unpin` types from the uniqueness
//! assumption; that exemption is slated for replacement by `UnsafePinned` (RFC 3467). The pool
//! of the rest of the crate, [`FixedPool`](super::FixedPool), keeps its blocks outside itself
//! and needs no exemption: prefer it in new code.

use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

use super::pool::FixedPool;
use super::storage::{FixedBlocks, block_align};
use crate::FreeError;

/// A pool of `N` blocks of `S` bytes each, stored inside the value itself.
///
/// Every block is aligned to [`BLOCK_ALIGN`](Self::BLOCK_ALIGN), the largest power of two
/// that divides `S`. Allocation and free are O(1) whatever `N` is; double frees, foreign and
/// interior pointers are detected exactly. Memory beyond the `S * N` bytes of blocks: `S` bytes
/// of alignment slack plus 4 bytes of bookkeeping per block, plus a few words.
///
/// Build it pinned on the stack (`pin!(unsafe { FixedSizeAllocator::new_unpinned(false) })`)
/// or in a box ([`new`](Self::new)); for a `static`, or to share it between threads, use a
/// [`FixedPool`] behind a lock ([`LockedFixedSizeAllocator`](super::LockedFixedSizeAllocator)).
///
/// ```
/// use bareheap::FixedSizeAllocator;
///
/// let mut pool = FixedSizeAllocator::<8, 16>::new(false);
/// let block = pool.as_mut().alloc::<u64>().expect("a free block");
/// // SAFETY: the block is ours, 8 bytes long and aligned for u64.
/// unsafe { block.write(42) };
/// assert_eq!(pool.allocated_blocks(), 1);
/// pool.as_mut().free_nonnull(block).expect("a block we were given");
/// ```
#[repr(transparent)]
pub struct FixedSizeAllocator<const S: usize, const N: usize> {
    /// The blocks and their index list; only ever reached through raw pointers from
    /// `UnsafeCell::get`, by a [`FixedPool`] made for each call.
    storage: UnsafeCell<FixedBlocks<S, N>>,
    /// Handed-out pointers point into `self`, so the pool must not move once pinned.
    _pinned: PhantomPinned,
}

impl<const S: usize, const N: usize> FixedSizeAllocator<S, N> {
    /// The alignment of every block: the largest power of two that divides `S`.
    pub const BLOCK_ALIGN: usize = block_align(S);

    /// A pool that is not yet pinned; pin it with `core::pin::pin!` before use. O(N) when
    /// `zero_initialized` (every block starts as zero bytes), else O(1) work.
    ///
    /// The allocator never writes into blocks, so in a zero-initialised pool a block reads as
    /// zero until the program writes to it; a freed block keeps its contents. Being `const`,
    /// this can also build a pool at compile time.
    ///
    /// # Safety
    /// Handed-out blocks live inside the returned value: it must be pinned (`pin!`,
    /// `Box::pin`) before blocks are taken, and blocks must not be used after it is dropped.
    /// The allocating methods take `Pin<&mut Self>`, so the compiler checks the first half;
    /// the function stays `unsafe` so that code written for the original crate compiles as is.
    pub const unsafe fn new_unpinned(zero_initialized: bool) -> Self {
        const { assert!(S > 0, "a fixed-size pool needs blocks of at least one byte") };
        Self {
            storage: UnsafeCell::new(FixedBlocks::new(zero_initialized)),
            _pinned: PhantomPinned,
        }
    }

    /// A pool built directly inside a pinned box, never passing through the stack, so `N` may
    /// be far larger than the stack. O(1) work besides the allocation, O(N) when
    /// `zero_initialized`.
    #[cfg(feature = "alloc")]
    pub fn new(zero_initialized: bool) -> Pin<Box<Self>> {
        const { assert!(S > 0, "a fixed-size pool needs blocks of at least one byte") };
        let blocks = Box::into_raw(FixedBlocks::<S, N>::boxed(zero_initialized));
        // SAFETY: `Self` is `repr(transparent)` over an `UnsafeCell` (itself transparent) of the
        // blocks, beside a zero-sized marker: a box of the blocks is a box of the pool, with
        // the same layout; the blocks were fully initialised by `boxed`.
        Box::into_pin(unsafe { Box::from_raw(blocks.cast::<Self>()) })
    }

    /// Hands out one block for a `T`, or `None` when every block is in use. O(1).
    ///
    /// Checked at compile time: `size_of::<T>() <= S` (the original crate demanded `== S`;
    /// every such `T` is still accepted) and `align_of::<T>() <= BLOCK_ALIGN`.
    pub fn alloc<T>(self: Pin<&mut Self>) -> Option<NonNull<T>> {
        self.pool().alloc()
    }

    /// Hands out one block of `S` bytes aligned to [`BLOCK_ALIGN`](Self::BLOCK_ALIGN), or
    /// `None` when every block is in use. O(1).
    ///
    /// Safe (unlike the original crate's): it only returns a pointer, and every use of that
    /// pointer is itself `unsafe`.
    pub fn alloc_untyped(self: Pin<&mut Self>) -> Option<NonNull<u8>> {
        self.pool().alloc::<[u8; S]>().map(NonNull::cast)
    }

    /// Takes back a block handed out by this pool. O(1).
    ///
    /// # Errors
    /// See [`free`](Self::free).
    pub fn free_nonnull<T>(self: Pin<&mut Self>, ptr: NonNull<T>) -> Result<(), FreeError> {
        self.free(ptr.as_ptr())
    }

    /// Takes back a block handed out by this pool. O(1). A refused free changes nothing.
    ///
    /// # Errors
    /// Checked in this order: [`FreeError::NullPtrFree`]; [`FreeError::FreeOutOfBounds`] for
    /// a pointer outside the blocks; [`FreeError::UnalignedFree`] for a pointer inside a block
    /// but not at its start; [`FreeError::DoubleFree`] for a block that is not in use.
    pub fn free<T>(self: Pin<&mut Self>, ptr: *const T) -> Result<(), FreeError> {
        self.pool().free(ptr)
    }

    /// Marks every block free. O(1).
    ///
    /// # Safety
    /// No block handed out before this call may be used afterwards: the pool will hand it out
    /// again.
    pub unsafe fn free_all(self: Pin<&mut Self>) {
        // SAFETY: forwarded from the caller.
        unsafe { self.pool().free_all() }
    }

    /// The bytes of all blocks, `S * N`. O(1).
    pub const fn heap_size(&self) -> usize {
        S * N
    }

    /// The number of blocks, `N`. O(1).
    pub const fn block_count(&self) -> usize {
        N
    }

    /// The size of one block, `S`. O(1).
    pub const fn block_size(&self) -> usize {
        S
    }

    /// The bytes in free blocks. O(1).
    pub fn total_free(&self) -> usize {
        self.free_blocks() * S
    }

    /// The bytes in blocks in use. O(1).
    pub fn total_allocated(&self) -> usize {
        self.allocated_blocks() * S
    }

    /// The number of free blocks. O(1).
    pub fn free_blocks(&self) -> usize {
        N - self.allocated_blocks()
    }

    /// The number of blocks in use. O(1).
    pub fn allocated_blocks(&self) -> usize {
        self.view().allocated_blocks()
    }

    /// A pool over this value's blocks, for one call: it reaches the index list and derives
    /// block pointers through the storage cell, so blocks handed out earlier keep their
    /// permission to their bytes.
    fn view(&self) -> FixedPool<'_, S, N> {
        // SAFETY: the cell's contents are valid for the borrow; a `FixedPool` made from a
        // shared borrow is only read (`allocated_blocks`), and one made in `pool` is the only
        // one alive during its call.
        unsafe { FixedPool::from_raw(self.storage.get()) }
    }

    /// A pool over this value's blocks, to change it in place.
    fn pool(self: Pin<&mut Self>) -> FixedPool<'_, S, N> {
        self.into_ref().get_ref().view()
    }
}
