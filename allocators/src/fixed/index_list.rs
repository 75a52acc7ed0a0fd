//! The bookkeeping of a fixed-size pool: a free list of block *indices*, kept beside the blocks.
//!
//! The list never writes into the blocks, so it works for every block size, even one byte, and
//! it doubles as the exact allocated/free state table that double-free detection needs:
//!
//! ```text
//!   index:    0      1      2      3      4      5      6      7
//!   links:  [ 3+1] [ A  ] [END ] [ 2+1] [ A  ] [ ?? ] [ ?? ] [ ?? ]
//!             ▲                                  ▲
//!   head ─────┘ (0+1)    fresh ─────────────────┘   (5..8 never handed out)
//!
//!   free list: head → 0 → 3 → 2 → END       A = ALLOCATED sentinel
//! ```
//!
//! Below `fresh`, every entry is initialised and is either [`ALLOCATED`] or one more than the
//! index of the next free block ([`END`], zero, at the tail; the head is kept the same way). From
//! `fresh` upwards, blocks have never been handed out: they are free without being on the list,
//! and their entries are still uninitialised. This "fresh" watermark is what lets a pool start,
//! and restart after `free_all`, in O(1) instead of writing N links. An empty list is all zero
//! bytes and uninitialised links, so a `static` pool lands in `.bss` and costs no file space.
//!
//! Cost: 4 bytes per block; [`take`](IndexFreeList::take), [`give_back`](IndexFreeList::give_back)
//! and [`reset`](IndexFreeList::reset) are O(1).

use core::mem::MaybeUninit;

use crate::FreeError;
use crate::usage::{HeapCorruption, corrupt_if};

/// The link (and head) meaning "no further free block".
const END: u32 = 0;
/// The link stored for a block that is handed out.
const ALLOCATED: u32 = u32::MAX;
/// The largest block count the list can index: every index plus one must differ from both
/// sentinels.
pub(super) const MAX_BLOCKS: usize = ALLOCATED as usize - 1;

/// A free list over block indices `0..N`, with the exact state of every block.
pub(super) struct IndexFreeList<const N: usize> {
    /// For each block below `fresh`: one more than the next free index, [`END`], or
    /// [`ALLOCATED`].
    links: [MaybeUninit<u32>; N],
    /// One more than the first free block on the list, or [`END`].
    head: u32,
    /// Blocks `fresh..N` have never been handed out (free, off the list).
    fresh: u32,
    /// Blocks currently handed out.
    in_use: usize,
}

impl<const N: usize> IndexFreeList<N> {
    /// A list with every block free. O(1): the links stay uninitialised.
    pub(super) const fn new() -> Self {
        const {
            assert!(
                N <= MAX_BLOCKS,
                "a fixed-size pool holds at most u32::MAX - 1 blocks"
            )
        };
        Self {
            links: [MaybeUninit::uninit(); N],
            head: END,
            fresh: 0,
            in_use: 0,
        }
    }

    /// Initialises the list at `place` without moving the (possibly huge) link table through
    /// the stack. O(1).
    ///
    /// # Safety
    /// `place` must be valid for writes and aligned for `Self`.
    #[cfg(feature = "alloc")]
    pub(super) unsafe fn init_in_place(place: *mut Self) {
        const {
            assert!(
                N <= MAX_BLOCKS,
                "a fixed-size pool holds at most u32::MAX - 1 blocks"
            )
        };
        // SAFETY: the caller guarantees `place` is writable and aligned, so are its fields; the
        // link table may stay uninitialised because it is made of `MaybeUninit`.
        unsafe {
            (&raw mut (*place).head).write(END);
            (&raw mut (*place).fresh).write(0);
            (&raw mut (*place).in_use).write(0);
        }
    }

    /// Marks a free block as handed out and returns its index, or `None` when all `N` are out.
    /// O(1): pops the list, else takes the lowest never-used block.
    pub(super) fn take(&mut self) -> Option<usize> {
        let index = if self.head != END {
            let index = self.head as usize - 1;
            self.head = self.link(index);
            index
        } else if (self.fresh as usize) < N {
            let index = self.fresh as usize;
            self.fresh += 1;
            index
        } else {
            return None;
        };
        self.links[index] = MaybeUninit::new(ALLOCATED);
        self.in_use += 1;
        Some(index)
    }

    /// Returns a handed-out block to the list. O(1).
    ///
    /// # Errors
    /// [`FreeError::DoubleFree`] when the block is not handed out (freed already, or never
    /// used); the list is then unchanged. `index` must be below `N`.
    pub(super) fn give_back(&mut self, index: usize) -> Result<(), FreeError> {
        if !self.is_in_use(index) {
            return Err(FreeError::DoubleFree);
        }
        self.links[index] = MaybeUninit::new(self.head);
        // `index < fresh <= N <= MAX_BLOCKS`, so one more fits in a `u32` below `ALLOCATED`.
        self.head = index as u32 + 1;
        self.in_use -= 1;
        Ok(())
    }

    /// Whether block `index` is handed out. O(1).
    pub(super) fn is_in_use(&self, index: usize) -> bool {
        index < self.fresh as usize && self.link(index) == ALLOCATED
    }

    /// Marks every block free. O(1): the watermark goes back to zero.
    pub(super) fn reset(&mut self) {
        self.head = END;
        self.fresh = 0;
        self.in_use = 0;
    }

    /// The number of blocks handed out. O(1).
    pub(super) const fn in_use(&self) -> usize {
        self.in_use
    }

    /// Checks that the blocks marked handed out match the count, and that the free list runs
    /// through every other block below the watermark once, ending where it should. O(N).
    pub(super) fn check(&self) -> Result<(), HeapCorruption> {
        let fresh = self.fresh as usize;
        corrupt_if(fresh > N, "watermark past the last block", 0)?;
        let marked = (0..fresh).filter(|&index| self.is_in_use(index)).count();
        corrupt_if(marked != self.in_use, "blocks in use miscounted", 0)?;
        let (mut link, mut listed) = (self.head, 0);
        while link != END {
            let index = link as usize - 1;
            corrupt_if(
                index >= fresh || listed == fresh - marked,
                "free list leaves the used blocks or loops",
                index,
            )?;
            corrupt_if(
                self.is_in_use(index),
                "handed-out block on the free list",
                index,
            )?;
            link = self.link(index);
            listed += 1;
        }
        corrupt_if(
            listed != fresh - marked,
            "free block missing from the list",
            0,
        )
    }

    /// The link of a block below the watermark.
    fn link(&self, index: usize) -> u32 {
        debug_assert!(index < self.fresh as usize);
        // SAFETY: every index below `fresh` was written by `take` (which alone raises `fresh`)
        // before the watermark passed it, and entries are only ever overwritten with values.
        unsafe { self.links[index].assume_init() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_out_every_index_once_then_none() {
        let mut list = IndexFreeList::<4>::new();
        let mut taken: std::vec::Vec<usize> = (0..4).map(|_| list.take().unwrap()).collect();
        taken.sort_unstable();
        assert_eq!(taken, [0, 1, 2, 3]);
        assert_eq!(list.take(), None);
        assert_eq!(list.in_use(), 4);
    }

    #[test]
    fn reuses_the_most_recently_freed_block_first() {
        let mut list = IndexFreeList::<8>::new();
        let a = list.take().unwrap();
        let b = list.take().unwrap();
        list.give_back(a).unwrap();
        list.give_back(b).unwrap();
        assert_eq!(list.take(), Some(b));
        assert_eq!(list.take(), Some(a));
    }

    #[test]
    fn refuses_double_and_never_used_frees_without_change() {
        let mut list = IndexFreeList::<8>::new();
        let a = list.take().unwrap();
        assert_eq!(list.give_back(5), Err(FreeError::DoubleFree));
        list.give_back(a).unwrap();
        assert_eq!(list.give_back(a), Err(FreeError::DoubleFree));
        assert_eq!(list.in_use(), 0);
        assert_eq!(list.take(), Some(a));
        assert_eq!(list.take(), Some(1));
    }

    #[test]
    fn reset_frees_everything() {
        let mut list = IndexFreeList::<3>::new();
        while list.take().is_some() {}
        list.reset();
        assert_eq!(list.in_use(), 0);
        assert_eq!((0..3).filter_map(|_| list.take()).count(), 3);
    }

    #[test]
    fn empty_list_hands_out_nothing() {
        let mut list = IndexFreeList::<0>::new();
        assert_eq!(list.take(), None);
        assert_eq!(list.give_back(0), Err(FreeError::DoubleFree));
    }
}
