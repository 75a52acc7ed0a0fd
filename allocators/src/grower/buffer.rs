//! [`StaticGrower`]: regions cut from a caller-supplied buffer.
//!
//! For tests (Miri cannot run `mmap`) and targets without virtual memory. The buffer is trimmed
//! to [`StaticGrower::ALIGN`] at both ends, so any `[MaybeUninit<u8>]` works, whatever its own
//! alignment: every region starts aligned for the allocator's headers. The trimming is done
//! when a piece is cut, not when the grower is built (an address is not known at compile time),
//! so [`StaticGrower::from_raw`] is a `const fn`: a `static` allocator over a `static mut`
//! buffer needs no run-time initialisation.
//!
//! Regions are cut from the front of the untouched rest of the buffer (a bump pointer), and
//! never taken back: the buffer has no owner to give memory back to, and a piece handed back
//! could only be reused whole, where a heap that keeps it merges its free blocks with their
//! neighbours. So the allocator over it never gives regions back and never takes a region for
//! one large block; with the `HeapGrower` constants saying so, that code is not even compiled.
//! Pieces are cut one after another from one pointer, so each starts where the last ended and
//! the allocator joins them into one region.
//!
//! ```text
//!   buffer: [ region 1 | region 2 | region 3 |  untouched ...........  ]
//!                                              ▲ bump
//! ```

use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::ptr::NonNull;

use super::{HeapGrower, Region};

/// The grower has no piece large enough for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exhausted;

/// A [`HeapGrower`] that hands out pieces of one buffer borrowed for `'a`.
///
/// With [`new`](Self::new) (or [`from_raw`](Self::from_raw)) the first growth takes everything
/// that is left; with [`with_piece_size`](Self::with_piece_size) each growth takes
/// `max(min_size, piece_size)` bytes, so the heap grows in steps over the buffer. Counts the
/// regions and bytes handed out (O(1)).
#[derive(Debug)]
pub struct StaticGrower<'a> {
    /// The buffer's first byte, as given (not yet aligned).
    base: NonNull<u8>,
    /// The buffer's length, as given.
    raw_len: usize,
    /// Offset from `base` of the untouched rest (before the first cut: 0).
    bump: usize,
    piece_size: usize,
    handed_out: usize,
    bytes_out: usize,
    _memory: PhantomData<&'a mut [MaybeUninit<u8>]>,
}

impl<'a> StaticGrower<'a> {
    /// Alignment of every region start and length.
    pub const ALIGN: usize = 16;

    /// A grower whose first growth hands out the whole (aligned) buffer. O(1).
    #[must_use]
    pub fn new(memory: &'a mut [MaybeUninit<u8>]) -> Self {
        Self::with_piece_size(memory, usize::MAX)
    }

    /// A grower that hands out pieces of `max(min_size, piece_size)` bytes (rounded up to
    /// [`ALIGN`](Self::ALIGN)); when less than a piece is left but the request fits, the rest
    /// is handed out. O(1).
    #[must_use]
    pub fn with_piece_size(memory: &'a mut [MaybeUninit<u8>], piece_size: usize) -> Self {
        let len = memory.len();
        let base = NonNull::from(memory).cast::<u8>();
        Self::over(base, len, piece_size)
    }

    /// A grower over the buffer `memory` points to, for a `static` allocator over a `static mut`
    /// buffer (pass `&raw mut BUFFER`: no reference to the `static mut` is ever made). Its first
    /// growth hands out the whole (aligned) buffer. O(1), usable in a `static`'s initialiser.
    /// A null `memory` gives a grower with nothing to hand out.
    ///
    /// ```
    /// use core::mem::MaybeUninit;
    /// use bareheap::{FreeListAllocator, LockedFreeListAllocator, RawAllocator, StaticGrower};
    ///
    /// static mut BUFFER: [MaybeUninit<u8>; 4096] = [MaybeUninit::uninit(); 4096];
    ///
    /// // SAFETY: BUFFER is named nowhere else, so the heap is its only user, for good.
    /// static HEAP: LockedFreeListAllocator<StaticGrower<'static>> =
    ///     LockedFreeListAllocator::new(FreeListAllocator::new(unsafe {
    ///         StaticGrower::from_raw(&raw mut BUFFER)
    ///     }));
    ///
    /// let block = HEAP.lock().allocate(core::alloc::Layout::new::<u64>()).unwrap();
    /// assert!(HEAP.contains(block.cast::<u8>().as_ptr()));
    /// ```
    ///
    /// # Safety
    /// `memory` (all of its `len()` bytes) must be valid for reads and writes for `'a`, and
    /// nothing but this grower and the allocator it feeds may touch it during `'a`. The
    /// allocator over it goes in a `static`, never a `const`: every use of a `const` is a new
    /// allocator over the same memory.
    #[must_use]
    pub const unsafe fn from_raw(memory: *mut [MaybeUninit<u8>]) -> Self {
        let len = memory.len();
        match NonNull::new(memory.cast::<u8>()) {
            Some(base) => Self::over(base, len, usize::MAX),
            None => Self::over(NonNull::dangling(), 0, usize::MAX),
        }
    }

    /// The grower over the `raw_len` bytes at `base`, nothing handed out yet.
    const fn over(base: NonNull<u8>, raw_len: usize, piece_size: usize) -> Self {
        Self {
            base,
            raw_len,
            bump: 0,
            piece_size: if piece_size > Self::ALIGN {
                piece_size
            } else {
                Self::ALIGN
            },
            handed_out: 0,
            bytes_out: 0,
            _memory: PhantomData,
        }
    }

    /// The usable part of the buffer, as offsets from `base`: from the first
    /// [`ALIGN`](Self::ALIGN)-aligned byte to the last aligned end. O(1).
    fn usable(&self) -> (usize, usize) {
        let skip = self.base.align_offset(Self::ALIGN).min(self.raw_len);
        (skip, skip + ((self.raw_len - skip) & !(Self::ALIGN - 1)))
    }

    /// The usable bytes of the buffer after alignment. O(1).
    #[must_use]
    pub fn capacity(&self) -> usize {
        let (start, end) = self.usable();
        end - start
    }

    /// How many regions were handed out so far. O(1).
    #[must_use]
    pub const fn handed_out_regions(&self) -> usize {
        self.handed_out
    }

    /// Bytes handed out so far. O(1).
    #[must_use]
    pub const fn bytes_out(&self) -> usize {
        self.bytes_out
    }

    /// The bytes a growth can still hand out (the untouched, aligned rest of the buffer). O(1).
    #[must_use]
    pub fn remaining(&self) -> usize {
        let (start, end) = self.usable();
        end - self.bump.max(start)
    }

    /// Cuts a new piece for a request of `size` bytes from the untouched rest of the buffer.
    fn cut(&mut self, size: usize) -> Option<Region> {
        let (start, end) = self.usable();
        let from = self.bump.max(start);
        let left = end - from;
        if size > left {
            return None;
        }
        let len = size.max(self.piece_size).min(left);
        // SAFETY: `from + len <= end <= raw_len`, so the piece lies inside the buffer.
        let ptr = unsafe { self.base.add(from) };
        self.bump = from + len;
        Some(Region::new(ptr, len))
    }
}

// SAFETY: the grower holds the only access to the buffer it borrowed mutably for 'a (its
// pointers are that borrow turned raw), so moving it to another thread moves that access.
unsafe impl Send for StaticGrower<'_> {}

// SAFETY: regions are disjoint pieces of a buffer borrowed mutably for 'a, cut from the
// untouched rest (the bump only moves forward). The borrow outlives every user of the grower,
// so regions stay valid after it is dropped.
unsafe impl HeapGrower for StaticGrower<'_> {
    type Err = Exhausted;

    /// Every piece is cut from the one pointer to the buffer, so each is valid for all.
    const SHARES_PROVENANCE: bool = true;

    /// Cuts a new piece of at least `min_size` bytes. O(1).
    fn grow(&mut self, min_size: usize) -> Result<Region, Exhausted> {
        let size = min_size
            .max(1)
            .checked_next_multiple_of(Self::ALIGN)
            .ok_or(Exhausted)?;
        let region = self.cut(size).ok_or(Exhausted)?;
        self.handed_out += 1;
        self.bytes_out += region.len();
        Ok(region)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    #[test]
    fn first_growth_takes_the_whole_aligned_buffer() {
        let mut memory = vec![MaybeUninit::new(0u8); 1000];
        let mut grower = StaticGrower::new(&mut memory[3..]);
        let region = grower.grow(10).unwrap();
        assert_eq!(region.ptr().addr().get() % StaticGrower::ALIGN, 0);
        assert_eq!(region.len() % StaticGrower::ALIGN, 0);
        assert!(region.len() >= 997 - 2 * StaticGrower::ALIGN);
        assert_eq!(grower.grow(1), Err(Exhausted));
        assert_eq!(grower.handed_out_regions(), 1);
    }

    #[test]
    fn pieces_are_disjoint_and_follow_each_other() {
        let mut memory = vec![MaybeUninit::new(0u8); 4096];
        let mut grower = StaticGrower::with_piece_size(&mut memory, 1024);
        let before = grower.remaining();
        let a = grower.grow(100).unwrap();
        let b = grower.grow(2000).unwrap();
        assert_eq!(a.len(), 1024);
        assert_eq!(b.len(), 2000usize.next_multiple_of(16));
        assert_eq!(a.ptr().addr().get() + a.len(), b.ptr().addr().get());
        assert_eq!(grower.bytes_out(), a.len() + b.len());
        assert_eq!(grower.remaining(), before - a.len() - b.len());
        assert_eq!(grower.grow(grower.remaining() + 1), Err(Exhausted));
    }

    #[test]
    fn the_rest_is_handed_out_when_less_than_a_piece_is_left() {
        let mut memory = vec![MaybeUninit::new(0u8); 1500];
        let mut grower = StaticGrower::with_piece_size(&mut memory, 1024);
        grower.grow(1).unwrap();
        let rest = grower.grow(16).unwrap();
        assert!(rest.len() < 1024);
        assert!(rest.len() >= 1500 - 1024 - 2 * StaticGrower::ALIGN);
    }

    #[test]
    fn a_raw_buffer_is_trimmed_when_the_first_piece_is_cut() {
        let mut memory = vec![MaybeUninit::new(0u8); 1000];
        let raw = core::ptr::slice_from_raw_parts_mut(memory.as_mut_ptr().wrapping_add(5), 990);
        // SAFETY: the 990 bytes lie in `memory`, which only this grower uses while it lives.
        let mut grower = unsafe { StaticGrower::from_raw(raw) };
        let region = grower.grow(10).unwrap();
        assert_eq!(region.ptr().addr().get() % StaticGrower::ALIGN, 0);
        assert_eq!(region.len(), grower.capacity());
        assert!(region.len() >= 990 - 2 * StaticGrower::ALIGN);
        assert_eq!(grower.grow(1), Err(Exhausted));
    }

    #[test]
    fn a_null_raw_buffer_hands_out_nothing() {
        let null = core::ptr::slice_from_raw_parts_mut(core::ptr::null_mut(), 4096);
        // SAFETY: a null buffer is never touched: the grower treats it as empty.
        let mut grower = unsafe { StaticGrower::from_raw(null) };
        assert_eq!(grower.capacity(), 0);
        assert_eq!(grower.grow(1), Err(Exhausted));
    }
}
