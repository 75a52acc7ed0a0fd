//! [`FixedPool`]: the fixed-size pool as a [`RawAllocator`], over blocks that live outside it.
//!
//! The pool value is one pointer to its [`FixedBlocks`], which hold the blocks and the index
//! list, where the caller put them (a `static mut`, usually). So a `&mut` to the pool (taken by
//! every call, and by the lock of [`LockedFixedSizeAllocator`]) covers no block, and the pool
//! reaches the index list alone through its pointer, never the blocks other code is using:
//!
//! ```text
//!   Locked<FixedPool> ──lock──► FixedPool { blocks: ─┐ }
//!                                                    ▼
//!   static mut BLOCKS: FixedBlocks<S, N>  [ index list | block 0 | block 1 | ... ]
//!                                           ▲ only the pool  ▲ only their holders
//! ```

use core::alloc::Layout;
use core::marker::PhantomData;
use core::ptr::NonNull;

use lock_api::RawMutex;

use super::index_list::IndexFreeList;
use super::storage::{BlockArray, FixedBlocks, block_align};
use crate::locked::{DefaultLock, Locked};
use crate::{FreeError, HeapCorruption, Inspect, OutOfMemory, RawAllocator, ResizeError, Usage};

/// A pool of `N` blocks of `S` bytes over [`FixedBlocks`] borrowed for `'a`: O(1) allocation
/// and free of one block size, exact detection of every invalid free.
///
/// Every block is aligned to [`BLOCK_ALIGN`](Self::BLOCK_ALIGN), the largest power of two that
/// divides `S`; a layout fits when its size is at most `S` and its alignment at most that.
/// Memory beyond the blocks: 4 bytes per block of bookkeeping, in the [`FixedBlocks`].
///
/// ```
/// use core::alloc::Layout;
/// use bareheap::fixed::{FixedBlocks, FixedPool};
/// use bareheap::RawAllocator;
///
/// let mut blocks = FixedBlocks::<32, 8>::new(false);
/// let mut pool = FixedPool::new(&mut blocks);
/// let block = pool.allocate(Layout::new::<[u64; 4]>()).expect("a free block");
/// assert_eq!((block.len(), pool.allocated_blocks()), (32, 1));
/// // SAFETY: the block came from this pool, and is not used afterwards.
/// unsafe { pool.deallocate(block.cast().as_ptr(), Layout::new::<[u64; 4]>()) }.expect("live");
/// ```
pub struct FixedPool<'a, const S: usize, const N: usize> {
    /// The blocks and their index list, borrowed exclusively for `'a`; reached only through
    /// this pointer.
    blocks: NonNull<FixedBlocks<S, N>>,
    _blocks: PhantomData<&'a mut FixedBlocks<S, N>>,
}

/// A [`FixedPool`] behind a lock (spin's by default): a `static`-friendly pool shared between
/// threads, with `GlobalAlloc` and `Allocator`. The lock covers the index list only.
///
/// The one-line form is [`fixed_pool!`](crate::fixed_pool), which declares the `static` and
/// its blocks together, with no `unsafe` in your code:
///
/// ```
/// bareheap::fixed_pool!(static POOL: [16; 32]);
///
/// let block = POOL.alloc::<[u32; 4]>().expect("a free block");
/// assert_eq!(POOL.usage().live_blocks, 1);
/// // SAFETY: the block was taken just above, and is not used afterwards.
/// unsafe { POOL.free_nonnull(block) }.expect("a block we were given");
/// ```
///
/// By hand, over blocks of your own (a `static mut` the pool alone names):
///
/// ```
/// use bareheap::fixed::{FixedBlocks, FixedPool, LockedFixedSizeAllocator};
/// use bareheap::Locked;
///
/// static mut BLOCKS: FixedBlocks<16, 32> = FixedBlocks::new(false);
/// // SAFETY: BLOCKS is named nowhere else: this pool is its only user.
/// static POOL: LockedFixedSizeAllocator<'static, 16, 32> =
///     Locked::new(unsafe { FixedPool::from_raw(&raw mut BLOCKS) });
/// # assert_eq!(POOL.usage().free_bytes, 16 * 32);
/// ```
pub type LockedFixedSizeAllocator<'a, const S: usize, const N: usize, R = DefaultLock> =
    Locked<FixedPool<'a, S, N>, R>;

// SAFETY: the pool holds the only access to its blocks and index list (borrowed exclusively for
// 'a), so moving it to another thread moves that access.
unsafe impl<const S: usize, const N: usize> Send for FixedPool<'_, S, N> {}

impl<'a, const S: usize, const N: usize> FixedPool<'a, S, N> {
    /// The alignment of every block: the largest power of two that divides `S`.
    pub const BLOCK_ALIGN: usize = block_align(S);

    /// A pool over `blocks`, in the state their index list records (all free for new
    /// blocks). O(1), `const`.
    #[must_use]
    pub const fn new(blocks: &'a mut FixedBlocks<S, N>) -> Self {
        // SAFETY: a reference gives exclusive, valid access for 'a.
        unsafe { Self::from_raw(core::ptr::from_mut(blocks)) }
    }

    /// A pool over the blocks `blocks` points to, for a `static` pool over a `static mut`
    /// (pass `&raw mut BLOCKS`: no reference to the `static mut` is made). O(1), `const`.
    /// The pool takes the blocks in whatever state their index list records; all-zero bytes
    /// are a valid, empty `FixedBlocks`.
    ///
    /// # Safety
    /// `blocks` must be non-null and valid for reads and writes for `'a`, and nothing but this
    /// pool (and the holders of the blocks it hands out) may touch that memory during `'a`.
    /// A pool built so goes in a `static` (or a local), never a `const`: every use of a
    /// `const` is a new pool over the same blocks, which hands them out again.
    #[must_use]
    pub const unsafe fn from_raw(blocks: *mut FixedBlocks<S, N>) -> Self {
        const { assert!(S > 0, "a fixed-size pool needs blocks of at least one byte") };
        Self {
            // SAFETY: non-null by the caller's contract. No reference is made: pointers the
            // pool handed out earlier (through another pool over the same cell, as the pinned
            // `FixedSizeAllocator` makes one per call) keep their permission.
            blocks: unsafe { NonNull::new_unchecked(blocks) },
            _blocks: PhantomData,
        }
    }

    /// Hands out one block for a `T` (seed 000's `alloc::<T>`), or `None` when every block is
    /// in use. Checked at compile time: `size_of::<T>() <= S`, `align_of::<T>() <= BLOCK_ALIGN`.
    /// O(1).
    pub fn alloc<T>(&mut self) -> Option<NonNull<T>> {
        const {
            assert!(size_of::<T>() <= S, "the type does not fit in a block");
            assert!(
                align_of::<T>() <= block_align(S),
                "the type needs a larger alignment"
            );
        };
        self.take().map(NonNull::cast)
    }

    /// Takes back a block (seed 000's `free_nonnull`). O(1).
    ///
    /// # Errors
    /// As [`free`](Self::free).
    pub fn free_nonnull<T>(&mut self, ptr: NonNull<T>) -> Result<(), FreeError> {
        self.free(ptr.as_ptr())
    }

    /// Takes back a block handed out by this pool (seed 000's `free`). O(1). A refused free
    /// changes nothing.
    ///
    /// A safe function, unlike [`RawAllocator::deallocate`]: it is for blocks taken with the
    /// typed [`alloc`](Self::alloc), which the caller manages by hand. A block that was
    /// handed to a collection through `Allocator` must be left to the collection.
    ///
    /// # Errors
    /// Checked in this order: [`FreeError::NullPtrFree`]; [`FreeError::FreeOutOfBounds`] for a
    /// pointer outside the blocks; [`FreeError::UnalignedFree`] for a pointer inside a block but
    /// not at its start; [`FreeError::DoubleFree`] for a block that is not in use.
    pub fn free<T>(&mut self, ptr: *const T) -> Result<(), FreeError> {
        let array = self.array();
        array.give_back(self.list_mut(), ptr.cast())
    }

    /// Marks every block free. O(1).
    ///
    /// # Safety
    /// No block handed out before this call may be used afterwards: the pool will hand it out
    /// again.
    pub unsafe fn free_all(&mut self) {
        self.list_mut().reset();
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
        self.list().in_use()
    }

    /// Whether a block can hold a value of `layout`. O(1).
    const fn fits(layout: Layout) -> bool {
        layout.size() <= S && layout.align() <= Self::BLOCK_ALIGN
    }

    /// The aligned blocks, through the pool's own pointer.
    fn array(&self) -> BlockArray<S, N> {
        BlockArray::new(self.blocks.as_ptr())
    }

    /// The index list, read through the pool's pointer (the blocks are not touched).
    const fn list(&self) -> &IndexFreeList<N> {
        // SAFETY: the pool holds the only access to the list for 'a, and `&self` rules out a
        // concurrent `list_mut`.
        unsafe { &(*self.blocks.as_ptr()).list }
    }

    /// The index list, for changes through the pool's pointer (the blocks are not touched).
    const fn list_mut(&mut self) -> &mut IndexFreeList<N> {
        // SAFETY: the pool holds the only access to the list for 'a, and `&mut self` is
        // exclusive.
        unsafe { &mut (*self.blocks.as_ptr()).list }
    }

    /// Takes a free block. O(1).
    fn take(&mut self) -> Option<NonNull<u8>> {
        let array = self.array();
        array.take(self.list_mut())
    }

    /// The checks of a free of `ptr` with `layout`, changing nothing; the block, through the
    /// pool's own pointer.
    fn check(&self, ptr: *mut u8, layout: Layout) -> Result<NonNull<u8>, FreeError> {
        let index = self.array().index_of(ptr)?;
        if !self.list().is_in_use(index) {
            return Err(FreeError::DoubleFree);
        }
        if !Self::fits(layout) {
            return Err(FreeError::LayoutMismatch);
        }
        NonNull::new(self.array().block(index)).ok_or(FreeError::NullPtrFree)
    }

    /// The block at `ptr`'s address again, through the pool's own pointer (the caller's may
    /// cover less than the block), if it can hold `new`: blocks never move, since every block
    /// has the same size.
    fn keep_if_fits(&self, ptr: NonNull<u8>, new: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        let block = self
            .array()
            .pointer_to(ptr.addr().get())
            .ok_or(OutOfMemory)?;
        if Self::fits(new) {
            Ok(NonNull::slice_from_raw_parts(block, S))
        } else {
            Err(OutOfMemory)
        }
    }
}

/// O(1) from the index list's count; the check walks the list: O(N).
impl<const S: usize, const N: usize> Inspect for FixedPool<'_, S, N> {
    fn usage(&self) -> Usage {
        Usage {
            live_blocks: self.allocated_blocks(),
            in_use_bytes: self.total_allocated(),
            free_bytes: self.total_free(),
            largest_free_block: if self.free_blocks() > 0 { S } else { 0 },
        }
    }

    fn validate(&self) -> Result<(), HeapCorruption> {
        self.list().check()
    }
}

// SAFETY: blocks are disjoint `S`-byte pieces of the borrowed `FixedBlocks`, aligned to
// `BLOCK_ALIGN` (so every accepted layout fits), handed out at most once until freed (the
// index list is exact), reached through the pool's pointer to the blocks. Every free is checked
// exactly; nothing panics.
unsafe impl<const S: usize, const N: usize> RawAllocator for FixedPool<'_, S, N> {
    /// A block of `S` bytes when `layout` fits one, else [`OutOfMemory`]. O(1).
    fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, OutOfMemory> {
        if !Self::fits(layout) {
            return Err(OutOfMemory);
        }
        let block = self.take().ok_or(OutOfMemory)?;
        Ok(NonNull::slice_from_raw_parts(block, S))
    }

    /// Exact for any pointer. Errors, in order: [`FreeError::NullPtrFree`];
    /// [`FreeError::FreeOutOfBounds`] outside the blocks; [`FreeError::UnalignedFree`] inside a
    /// block but not at its start; [`FreeError::DoubleFree`] for a block not in use;
    /// [`FreeError::LayoutMismatch`] for a layout no block fits. O(1).
    unsafe fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        self.check(ptr, layout)?;
        self.free(ptr)
    }

    /// The same block when `new` fits a block, else [`ResizeError::OutOfMemory`] (no other
    /// block is larger). Checked as [`deallocate`](Self::deallocate). O(1).
    unsafe fn resize(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ResizeError> {
        let block = self.check(ptr, old)?;
        Ok(self.keep_if_fits(block, new)?)
    }

    /// The checked free, its refusal ignored (the checks are O(1) too).
    unsafe fn deallocate_trusted(&mut self, ptr: NonNull<u8>, _layout: Layout) {
        let _refused = self.free(ptr.as_ptr());
    }

    unsafe fn resize_trusted(
        &mut self,
        ptr: NonNull<u8>,
        _old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, OutOfMemory> {
        self.keep_if_fits(ptr, new)
    }

    unsafe fn resize_in_place_trusted(
        &mut self,
        ptr: NonNull<u8>,
        _old: Layout,
        new: Layout,
    ) -> Option<NonNull<[u8]>> {
        self.keep_if_fits(ptr, new).ok()
    }

    /// O(1): one range comparison.
    fn contains(&self, ptr: *const u8) -> bool {
        self.array().contains(ptr)
    }

    /// The pool's pointer to `address`, inside its blocks. O(1).
    fn pointer_to(&mut self, address: usize) -> Option<NonNull<u8>> {
        self.array().pointer_to(address)
    }

    /// All the pool's blocks, one span. O(1).
    fn span_of(&mut self, address: usize) -> Option<crate::Region> {
        self.array()
            .span()
            .filter(|span| span.contains_addr(address))
    }
}

impl<const S: usize, const N: usize, R: RawMutex> Locked<FixedPool<'_, S, N>, R> {
    /// Hands out a block for a `T`, as [`FixedPool::alloc`]. O(1) plus the lock.
    pub fn alloc<T>(&self) -> Option<NonNull<T>> {
        let mut pool = self.lock();
        // SAFETY: `alloc` only updates the index list; the pool stays in place.
        unsafe { pool.get_mut() }.alloc()
    }

    /// Takes back a block, as [`FixedPool::free_nonnull`]. O(1) plus the lock.
    ///
    /// # Errors
    /// As [`FixedPool::free`].
    ///
    /// # Safety
    /// As [`free`](Self::free).
    pub unsafe fn free_nonnull<T>(&self, ptr: NonNull<T>) -> Result<(), FreeError> {
        // SAFETY: forwarded from the caller.
        unsafe { self.free(ptr.as_ptr()) }
    }

    /// Takes back a block, as [`FixedPool::free`]. O(1) plus the lock.
    ///
    /// # Errors
    /// As [`FixedPool::free`].
    ///
    /// # Safety
    /// When `ptr` is a live block of this pool, nothing may use it afterwards. (`unsafe` here,
    /// unlike [`FixedPool::free`]: through `&self`, safe code could otherwise free a block that
    /// a `Box` or `Vec` allocated from this pool still owns.)
    pub unsafe fn free<T>(&self, ptr: *const T) -> Result<(), FreeError> {
        let mut pool = self.lock();
        // SAFETY: `free` only updates the index list; the pool stays in place.
        unsafe { pool.get_mut() }.free(ptr)
    }
}

/// Declares a `static` [`LockedFixedSizeAllocator`] of `N` blocks of `S` bytes, with its blocks
/// (a [`FixedBlocks`] in `.bss`), in one safe line:
/// `fixed_pool!(static NODES: [S; N]);`, with a visibility and doc comments before it if you
/// like (`/// The tree's nodes.` then `pub static NODES: [32; 64]`).
///
/// The blocks are a `static mut` declared inside the pool's initialiser, where no other code
/// can name it (`S` and `N` are evaluated outside that block), and a `static`'s initialiser is
/// evaluated once, at compile time: the pool is the only one over them, which is what
/// [`FixedPool::from_raw`] asks. So the macro accepts no attribute but doc comments: one such
/// as `#[thread_local]` would make a pool per thread over the same blocks. O(1), no run-time
/// set-up.
#[macro_export]
macro_rules! fixed_pool {
    ($(#[doc = $doc:expr])* $vis:vis static $name:ident: [$size:expr; $count:expr] $(;)?) => {
        $(#[doc = $doc])*
        $vis static $name: $crate::fixed::LockedFixedSizeAllocator<'static, { $size }, { $count }> = {
            const SIZE: usize = $size;
            const COUNT: usize = $count;
            {
                static mut BLOCKS: $crate::fixed::FixedBlocks<SIZE, COUNT> =
                    $crate::fixed::FixedBlocks::new(false);
                // SAFETY: `BLOCKS` is declared in this block, where nothing but this
                // initialiser names it, and a `static`'s initialiser is evaluated once: this
                // pool is the only user of the blocks, for the whole program.
                $crate::Locked::new(unsafe { $crate::fixed::FixedPool::from_raw(&raw mut BLOCKS) })
            }
        };
    };
}
