//! The single-threaded fixed-size pool: [`FixedSizeAllocator`], N blocks of S bytes stored
//! inline, handed out and taken back in O(1).
//!
//! It joins the two mechanisms of this module: the block array (addresses, alignment, bounds)
//! and the index free list (which block is free, exactly). Methods that hand out or take back
//! pointers take `self: Pin<&mut Self>`: the pin promises that the blocks stay where they are
//! while the pool lives, and the pointers are derived from the storage's `UnsafeCell`, so a
//! later call on the pool does not invalidate blocks handed out earlier.

use core::cell::UnsafeCell;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

use super::index_list::IndexFreeList;
use super::storage::{BlockArray, BlockStorage, block_align};
use crate::FreeError;

/// A pool of `N` blocks of `S` bytes each, stored inside the value itself.
///
/// Every block is aligned to [`BLOCK_ALIGN`](Self::BLOCK_ALIGN), the largest power of two
/// that divides `S`. Allocation and free are O(1) whatever `N` is; double frees, foreign and
/// interior pointers are detected exactly. Memory beyond the `S * N` bytes of blocks: `S` bytes
/// of alignment slack plus 4 bytes of bookkeeping per block, plus a few words.
///
/// Build it pinned on the stack (`pin!(unsafe { FixedSizeAllocator::new_unpinned(false) })`)
/// or in a box ([`new`](Self::new)); for a `static`, or to share it between threads, use
/// [`LockedFixedSizeAllocator`](super::LockedFixedSizeAllocator).
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
pub struct FixedSizeAllocator<const S: usize, const N: usize> {
    /// The blocks; only ever reached through raw pointers from `UnsafeCell::get`.
    storage: UnsafeCell<BlockStorage<S, N>>,
    /// Which blocks are free.
    free_list: IndexFreeList<N>,
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
        Self::new_inline(zero_initialized)
    }

    /// The pool by value, for wrappers that own it.
    pub(super) const fn new_inline(zero_initialized: bool) -> Self {
        const { assert!(S > 0, "a fixed-size pool needs blocks of at least one byte") };
        Self {
            storage: UnsafeCell::new(BlockStorage::new(zero_initialized)),
            free_list: IndexFreeList::new(),
            _pinned: PhantomPinned,
        }
    }

    /// A pool built directly inside a pinned box, never passing through the stack, so `N` may
    /// be far larger than the stack. O(1) work besides the allocation, O(N) when
    /// `zero_initialized`.
    #[cfg(feature = "alloc")]
    pub fn new(zero_initialized: bool) -> Pin<Box<Self>> {
        const { assert!(S > 0, "a fixed-size pool needs blocks of at least one byte") };
        let mut boxed = Box::<Self>::new_uninit();
        let place = boxed.as_mut_ptr();
        if zero_initialized {
            // SAFETY: `place` is the box's own allocation, valid and aligned for `Self`, so its
            // storage field is too; all-zero bytes are valid for `MaybeUninit` contents.
            unsafe { (&raw mut (*place).storage).write_bytes(0, 1) };
        }
        // SAFETY: same allocation as above; the field is valid and aligned for writes.
        unsafe { IndexFreeList::init_in_place(&raw mut (*place).free_list) };
        // SAFETY: the storage holds only `MaybeUninit` bytes, the free list was just
        // initialised, and `PhantomPinned` is zero-sized, so every field is initialised.
        Box::into_pin(unsafe { boxed.assume_init() })
    }

    /// Hands out one block for a `T`, or `None` when every block is in use. O(1).
    ///
    /// Checked at compile time: `size_of::<T>() <= S` (the original crate demanded `== S`;
    /// every such `T` is still accepted) and `align_of::<T>() <= BLOCK_ALIGN`.
    pub fn alloc<T>(self: Pin<&mut Self>) -> Option<NonNull<T>> {
        const {
            assert!(size_of::<T>() <= S, "the type does not fit in a block");
            assert!(
                align_of::<T>() <= Self::BLOCK_ALIGN,
                "the type needs a larger alignment"
            );
        };
        self.alloc_untyped().map(NonNull::cast)
    }

    /// Hands out one block of `S` bytes aligned to [`BLOCK_ALIGN`](Self::BLOCK_ALIGN), or
    /// `None` when every block is in use. O(1).
    ///
    /// Safe (unlike the original crate's): it only returns a pointer, and every use of that
    /// pointer is itself `unsafe`.
    pub fn alloc_untyped(self: Pin<&mut Self>) -> Option<NonNull<u8>> {
        self.pool().take_block()
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
        self.pool().give_back_block(ptr.cast())
    }

    /// Marks every block free. O(1).
    ///
    /// # Safety
    /// No block handed out before this call may be used afterwards: the pool will hand it out
    /// again.
    pub unsafe fn free_all(self: Pin<&mut Self>) {
        self.pool().reset();
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
    pub const fn total_free(&self) -> usize {
        self.free_blocks() * S
    }

    /// The bytes in blocks in use. O(1).
    pub const fn total_allocated(&self) -> usize {
        self.allocated_blocks() * S
    }

    /// The number of free blocks. O(1).
    pub const fn free_blocks(&self) -> usize {
        N - self.allocated_blocks()
    }

    /// The number of blocks in use. O(1).
    pub const fn allocated_blocks(&self) -> usize {
        self.free_list.in_use()
    }

    /// Whether a block of this pool can hold a value of `layout`. O(1).
    pub(super) const fn fits(layout: core::alloc::Layout) -> bool {
        layout.size() <= S && layout.align() <= Self::BLOCK_ALIGN
    }

    /// Pops a free block and derives its pointer from the storage cell.
    pub(super) fn take_block(&mut self) -> Option<NonNull<u8>> {
        let index = self.free_list.take()?;
        NonNull::new(self.blocks().block(index))
    }

    /// Validates `ptr` as a block in use and pushes it on the free list.
    pub(super) fn give_back_block(&mut self, ptr: *const u8) -> Result<(), FreeError> {
        let index = self.blocks().index_of(ptr)?;
        self.free_list.give_back(index)
    }

    /// Marks every block free.
    pub(super) fn reset(&mut self) {
        self.free_list.reset();
    }

    /// The block array, reached through the cell so that pointers handed out earlier keep
    /// their permission to the bytes.
    fn blocks(&mut self) -> BlockArray<S, N> {
        BlockArray::new(self.storage.get())
    }

    /// The pool behind the pin, for in-place mutation.
    fn pool(self: Pin<&mut Self>) -> &mut Self {
        // SAFETY: callers only update fields in place; nothing moves the pool out of the pin.
        unsafe { self.get_unchecked_mut() }
    }
}
