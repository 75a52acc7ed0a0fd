//! [`LockedFixedSizeAllocator`]: a fixed-size pool behind a spin lock, for `static`s and for
//! sharing between threads, with `GlobalAlloc` and `allocator_api2::alloc::Allocator`.
//!
//! ```text
//!   &LockedFixedSizeAllocator ──lock──► FixedSizeAllocator (inline blocks + index list)
//! ```
//!
//! Every operation takes the lock once around the O(1) pool operation. The blocks live inside
//! the value; in a `static` they never move. A block handed out through the `&self` methods
//! stays valid while the value is neither moved nor dropped; through the `Allocator` impl the
//! borrow checker enforces that.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use allocator_api2::alloc::{AllocError, Allocator};
use spin::Mutex;

use super::FixedSizeAllocator;
use crate::FreeError;

/// A [`FixedSizeAllocator`] of `N` blocks of `S` bytes behind a `spin::Mutex`.
///
/// The blocks are inline, so a large pool belongs in a `static` (built at compile time), not
/// in a local built by value on the stack.
///
/// Constructible in a `static`:
///
/// ```
/// use bareheap::LockedFixedSizeAllocator;
///
/// static POOL: LockedFixedSizeAllocator<16, 32> = LockedFixedSizeAllocator::new(false);
///
/// let block = POOL.alloc::<[u32; 4]>().expect("a free block");
/// assert_eq!(POOL.allocated_blocks(), 1);
/// POOL.free_nonnull(block).expect("a block we were given");
/// ```
pub struct LockedFixedSizeAllocator<const S: usize, const N: usize> {
    /// The pool; the lock serialises every access.
    pool: Mutex<FixedSizeAllocator<S, N>>,
}

impl<const S: usize, const N: usize> LockedFixedSizeAllocator<S, N> {
    /// A locked pool, all blocks free; `zero_initialized` makes every block start as zero
    /// bytes. `const`, so it can initialise a `static` (no work at run time).
    pub const fn new(zero_initialized: bool) -> Self {
        Self {
            pool: Mutex::new(FixedSizeAllocator::new_inline(zero_initialized)),
        }
    }

    /// Hands out a block for a `T` (checked at compile time to fit, as
    /// [`FixedSizeAllocator::alloc`]), or `None` when all are in use. O(1) plus the lock.
    pub fn alloc<T>(&self) -> Option<NonNull<T>> {
        const {
            assert!(size_of::<T>() <= S, "the type does not fit in a block");
            assert!(
                align_of::<T>() <= FixedSizeAllocator::<S, N>::BLOCK_ALIGN,
                "the type needs a larger alignment"
            );
        };
        self.alloc_untyped().map(NonNull::cast)
    }

    /// Hands out a block of `S` bytes, or `None` when all are in use. O(1) plus the lock.
    pub fn alloc_untyped(&self) -> Option<NonNull<u8>> {
        self.pool.lock().take_block()
    }

    /// Takes back a block. O(1) plus the lock.
    ///
    /// # Errors
    /// As [`FixedSizeAllocator::free`].
    pub fn free_nonnull<T>(&self, ptr: NonNull<T>) -> Result<(), FreeError> {
        self.free(ptr.as_ptr())
    }

    /// Takes back a block. O(1) plus the lock. A refused free changes nothing.
    ///
    /// # Errors
    /// As [`FixedSizeAllocator::free`].
    pub fn free<T>(&self, ptr: *const T) -> Result<(), FreeError> {
        self.pool.lock().give_back_block(ptr.cast())
    }

    /// Marks every block free. O(1) plus the lock.
    ///
    /// # Safety
    /// No block handed out before this call may be used afterwards.
    pub unsafe fn free_all(&self) {
        self.pool.lock().reset();
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

    /// The bytes in free blocks. O(1) plus the lock.
    pub fn total_free(&self) -> usize {
        self.pool.lock().total_free()
    }

    /// The bytes in blocks in use. O(1) plus the lock.
    pub fn total_allocated(&self) -> usize {
        self.pool.lock().total_allocated()
    }

    /// The number of free blocks. O(1) plus the lock.
    pub fn free_blocks(&self) -> usize {
        self.pool.lock().free_blocks()
    }

    /// The number of blocks in use. O(1) plus the lock.
    pub fn allocated_blocks(&self) -> usize {
        self.pool.lock().allocated_blocks()
    }

    /// A block for `layout` if one fits, else `None`.
    fn alloc_layout(&self, layout: Layout) -> Option<NonNull<u8>> {
        if FixedSizeAllocator::<S, N>::fits(layout) {
            self.alloc_untyped()
        } else {
            None
        }
    }
}

// SAFETY: blocks come from the pool, which hands each out at most once until it is freed, and
// are `S` bytes aligned to `BLOCK_ALIGN`, so they satisfy every layout `fits` accepts; others
// get null. Nothing here panics: the pool reports invalid frees as values, which the
// `GlobalAlloc` contract rules out anyway, so `dealloc` can ignore them.
unsafe impl<const S: usize, const N: usize> GlobalAlloc for LockedFixedSizeAllocator<S, N> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.alloc_layout(layout)
            .map_or(ptr::null_mut(), NonNull::as_ptr)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // An invalid free is refused without change; the contract says it cannot happen.
        let _ = self.free(ptr);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Every block is `S` bytes, so a block either already holds `new_size` or no block can.
        let fits = Layout::from_size_align(new_size, layout.align())
            .is_ok_and(FixedSizeAllocator::<S, N>::fits);
        if fits { ptr } else { ptr::null_mut() }
    }
}

// SAFETY: blocks are valid until freed or until the borrowed pool is dropped, which the
// borrow `&'a Self` prevents while the allocator is in use; the pool never hands a block out
// twice, and each block of `S` bytes fits every layout `fits` accepts. Growing and shrinking
// keep the block (it is all `S` bytes) and fail when the new layout does not fit.
unsafe impl<const S: usize, const N: usize> Allocator for &LockedFixedSizeAllocator<S, N> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.alloc_layout(layout)
            .map(|block| NonNull::slice_from_raw_parts(block, S))
            .ok_or(AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, _layout: Layout) {
        // An invalid free is refused without change; the contract says it cannot happen.
        let _ = self.free_nonnull(ptr);
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        _old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.resize_in_place(ptr, new_layout)
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        _old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.resize_in_place(ptr, new_layout)
    }
}

impl<const S: usize, const N: usize> LockedFixedSizeAllocator<S, N> {
    /// The same block again if it can hold `new_layout`: blocks never move.
    fn resize_in_place(
        &self,
        block: NonNull<u8>,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        if FixedSizeAllocator::<S, N>::fits(new_layout) {
            Ok(NonNull::slice_from_raw_parts(block, S))
        } else {
            Err(AllocError)
        }
    }
}
