//! Where the blocks of a fixed-size pool live (with the index list that says which are free),
//! and the arithmetic between block indices and addresses.
//!
//! Stable Rust cannot write `#[repr(align(f(S)))]`, so the storage is one block longer than
//! needed and the block array starts at the first address inside it that is a multiple of
//! [`block_align`]`(S)`, the largest power of two dividing `S`:
//!
//! ```text
//!   blocks start (after the index list)                  storage end
//!   │                                                            │
//!   ▼                                                            ▼
//!   ┌───────┬──────────┬──────────┬─────┬──────────┬────────────┐
//!   │ skip  │ block 0  │ block 1  │ ... │ block N-1│  unused    │
//!   └───────┴──────────┴──────────┴─────┴──────────┴────────────┘
//!           ▲ base = align_up(start, block_align(S))
//!   skip < block_align(S) <= S, so the N blocks always fit in S * (N + 1) bytes.
//! ```
//!
//! Block `i` is at `base + i * S`; because `S` is a multiple of the alignment, every block is
//! aligned like the first. The base is recomputed from the storage's current address on each
//! call (an add and a mask), so the bookkeeping, which stores only indices, stays consistent
//! even if the pool is moved while no block is in use. Cost: `S` bytes per pool.

use core::mem::MaybeUninit;
use core::ptr::NonNull;

#[cfg(feature = "alloc")]
use alloc::boxed::Box;

use super::index_list::IndexFreeList;
use crate::FreeError;

/// The largest power of two that divides `size` (`size` itself for a power of two); the
/// guaranteed alignment of blocks of `size` bytes.
pub const fn block_align(size: usize) -> usize {
    size & size.wrapping_neg()
}

/// The memory of a fixed-size pool: `N` blocks of `S` bytes, plus one block of slack for
/// aligning the first, and the index list that says which are free (4 bytes per block). Give
/// it to a [`FixedPool`](super::FixedPool), usually as a `static mut`: it is all zero or
/// uninitialised bytes, so it lives in `.bss` and costs nothing at start-up or in the file.
#[repr(C)]
pub struct FixedBlocks<const S: usize, const N: usize> {
    /// Which blocks are free; touched only by the pool that owns these blocks.
    pub(super) list: IndexFreeList<N>,
    /// The room for the blocks.
    blocks: [MaybeUninit<[u8; S]>; N],
    /// Room for the shift that aligns the first block.
    slack: MaybeUninit<[u8; S]>,
}

impl<const S: usize, const N: usize> FixedBlocks<S, N> {
    /// All blocks free, with uninitialised bytes or all zero bytes. `const`: in a `static` it
    /// costs nothing at run time. The pool never writes into blocks, so a zero-initialised
    /// block reads as zero until the program writes to it.
    #[must_use]
    pub const fn new(zero_initialized: bool) -> Self {
        let list = IndexFreeList::new();
        if zero_initialized {
            Self {
                list,
                blocks: [MaybeUninit::zeroed(); N],
                slack: MaybeUninit::zeroed(),
            }
        } else {
            Self {
                list,
                blocks: [MaybeUninit::uninit(); N],
                slack: MaybeUninit::uninit(),
            }
        }
    }

    /// All blocks free, built directly inside a box, never passing through the stack, so `N`
    /// may be far larger than the stack. O(1) work besides the allocation, O(N) when
    /// `zero_initialized`.
    #[cfg(feature = "alloc")]
    #[must_use]
    pub fn boxed(zero_initialized: bool) -> Box<Self> {
        let mut boxed = Box::<Self>::new_uninit();
        let place = boxed.as_mut_ptr();
        if zero_initialized {
            // SAFETY: `place` is the box's own allocation, valid and aligned for `Self`;
            // all-zero bytes are valid for the blocks' `MaybeUninit` contents. The slack is
            // zeroed too: when the storage is less aligned than the blocks (a 32-bit target's
            // 4-byte alignment for 8-byte blocks) the aligned blocks reach into it.
            unsafe {
                (&raw mut (*place).blocks).write_bytes(0, 1);
                (&raw mut (*place).slack).write_bytes(0, 1);
            }
        }
        // SAFETY: same allocation; the field is valid and aligned for writes.
        unsafe { IndexFreeList::init_in_place(&raw mut (*place).list) };
        // SAFETY: the blocks and the slack hold only `MaybeUninit` bytes and the list was just
        // initialised, so every field is initialised.
        unsafe { boxed.assume_init() }
    }
}

/// The aligned block array inside a [`FixedBlocks`], seen through a raw pointer that carries
/// the storage's provenance; with the index list it hands blocks out and takes them back.
pub(super) struct BlockArray<const S: usize, const N: usize> {
    /// The first block.
    base: *mut u8,
}

impl<const S: usize, const N: usize> BlockArray<S, N> {
    /// The alignment of every block.
    const ALIGN: usize = block_align(S);

    /// Locates the aligned blocks inside the storage at `storage`. O(1).
    pub(super) fn new(storage: *mut FixedBlocks<S, N>) -> Self {
        let mask = Self::ALIGN - 1;
        let blocks = storage
            .cast::<u8>()
            .wrapping_add(core::mem::offset_of!(FixedBlocks<S, N>, blocks));
        let base = blocks.map_addr(|address| address.wrapping_add(mask) & !mask);
        Self { base }
    }

    /// The address of block `index` (`index < N`). O(1).
    pub(super) fn block(&self, index: usize) -> *mut u8 {
        self.base.wrapping_add(index * S)
    }

    /// The index of the block that starts at `ptr`. O(1).
    ///
    /// # Errors
    /// In this order: [`FreeError::NullPtrFree`], [`FreeError::FreeOutOfBounds`] when `ptr` is
    /// not inside the blocks, [`FreeError::UnalignedFree`] when it is inside a block but not at
    /// its start.
    pub(super) fn index_of(&self, ptr: *const u8) -> Result<usize, FreeError> {
        if ptr.is_null() {
            return Err(FreeError::NullPtrFree);
        }
        let offset = ptr.addr().wrapping_sub(self.base.addr());
        if ptr.addr() < self.base.addr() || offset >= S * N {
            return Err(FreeError::FreeOutOfBounds);
        }
        if !offset.is_multiple_of(S) {
            return Err(FreeError::UnalignedFree);
        }
        Ok(offset / S)
    }

    /// Whether `ptr` lies inside the blocks. O(1).
    pub(super) fn contains(&self, ptr: *const u8) -> bool {
        ptr.addr().wrapping_sub(self.base.addr()) < S * N
    }

    /// The blocks' pointer to `address`, when it lies inside them. O(1).
    pub(super) fn pointer_to(&self, address: usize) -> Option<NonNull<u8>> {
        let offset = address.wrapping_sub(self.base.addr());
        (offset < S * N).then(|| NonNull::new(self.base.wrapping_add(offset)))?
    }

    /// All the blocks, as one span with the blocks' provenance. O(1).
    pub(super) fn span(&self) -> Option<crate::Region> {
        Some(crate::Region::new(NonNull::new(self.base)?, S * N))
    }

    /// Takes a free block off `list`. O(1).
    pub(super) fn take(&self, list: &mut IndexFreeList<N>) -> Option<NonNull<u8>> {
        NonNull::new(self.block(list.take()?))
    }

    /// Validates `ptr` as a block in use and returns it to `list`. O(1); nothing changes on
    /// error.
    ///
    /// # Errors
    /// As [`index_of`](Self::index_of), then [`FreeError::DoubleFree`] for a block not in use.
    pub(super) fn give_back(
        &self,
        list: &mut IndexFreeList<N>,
        ptr: *const u8,
    ) -> Result<(), FreeError> {
        list.give_back(self.index_of(ptr)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_align_is_the_largest_power_of_two_divisor() {
        assert_eq!(block_align(1), 1);
        assert_eq!(block_align(12), 4);
        assert_eq!(block_align(24), 8);
        assert_eq!(block_align(64), 64);
        assert_eq!(block_align(4096 * 3), 4096);
    }

    #[test]
    fn blocks_are_aligned_and_fit_in_the_storage() {
        let mut storage = FixedBlocks::<24, 5>::new(false);
        let start = (&raw mut storage).cast::<u8>();
        let array = BlockArray::<24, 5>::new(&raw mut storage);
        for index in 0..5 {
            let block = array.block(index);
            assert_eq!(block.addr() % 8, 0);
            assert!(block.addr() >= start.addr());
            assert!(block.addr() + 24 <= start.addr() + size_of::<FixedBlocks<24, 5>>());
            assert_eq!(array.index_of(block), Ok(index));
        }
    }

    #[test]
    fn index_of_rejects_null_foreign_and_interior_pointers_in_order() {
        let mut storage = FixedBlocks::<16, 4>::new(true);
        let array = BlockArray::<16, 4>::new(&raw mut storage);
        let outside = 7u8;
        assert_eq!(
            array.index_of(core::ptr::null()),
            Err(FreeError::NullPtrFree)
        );
        assert_eq!(
            array.index_of(&raw const outside),
            Err(FreeError::FreeOutOfBounds)
        );
        assert_eq!(
            array.index_of(array.block(4)),
            Err(FreeError::FreeOutOfBounds)
        );
        assert_eq!(
            array.index_of(array.block(1).wrapping_add(3)),
            Err(FreeError::UnalignedFree)
        );
    }
}
