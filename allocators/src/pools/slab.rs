//! Slabs: the chunks a size class takes from the fallback allocator, and their headers.
//!
//! Every slab of one pools value has the same size, a power of two from [`MIN_SLAB_SIZE`] to
//! [`SLAB_SIZE`] (the default, 32 KiB; a microcontroller's heap of a few dozen KiB wants a
//! smaller one), and is aligned to it, so the slab of any block is found by clearing the low
//! bits of its address (its address only: which pointer may then touch the header is the
//! slab table's business, see `slab_table`). It is [`SLAB_TAIL`] bytes shorter than that
//! alignment: a boundary-tag fallback (bareheap's free list) puts a one-word tag before each
//! block and rounds blocks to 16 bytes, so a slab of exactly the slab size would need 16 bytes
//! more and leave almost a whole slab's gap before the next aligned one; 16 bytes less fill one
//! aligned step exactly, and consecutive slabs pack end to end. It starts with a header (the
//! links of its class's list of slabs with room, its class, how many of its blocks are in use,
//! a summary word of the bitmap words with a clear bit, then the bitmap of the blocks in use,
//! one word per 1 KiB of slab), followed by blocks of one class, the first at the first
//! multiple of the block size after the header:
//!
//! ```text
//!   slab (32 KiB - 16 bytes, 32 KiB-aligned, by default)
//!   ┌─────────────────────────────────────┬───────┬─────────┬─────┬─────────┬──────┐
//!   │ header: next/prev with room, class, │ (pad) │ block f │ ... │ block k │(rest)│
//!   │  blocks in use, words_with_room,    │       │         │     │         │      │
//!   │  in_use[32]                         │       │         │     │         │      │
//!   └─────────────────────────────────────┴───────┴─────────┴─────┴─────────┴──────┘
//!   ▲ block & !(slab size - 1)          ▲ Geometry::first_block(class)
//! ```
//!
//! With 32 KiB slabs the header costs 296 bytes, so a slab holds 2028 blocks of 16 bytes, 14 of
//! 2048 bytes (the short end costs the 2 KiB class one block in 15, and no other class
//! anything but its last 16 bytes); with 2 KiB slabs, 56 bytes, and the classes up to 256 bytes
//! (those with at least 4 blocks a slab: [`Geometry::top_class`]).
//!
//! A block's number is its offset in the slab divided by its size: block `i` starts at byte
//! `i << log2(block size)`, so the hot paths turn a number into an address and back with one
//! shift, and no load. The numbers the header covers (below `f`, the first block's) and those
//! past the slab's last block have their bits set for good, so they are never handed out.
//! Finding the lowest free block (two trailing-zero counts), marking and checking a block are
//! O(1).

use core::alloc::Layout;
use core::ptr::NonNull;

use super::class::{CLASS_COUNT, MIN_BLOCK_SIZE, block_size};
use crate::FreeError;

/// The default slab size, and the largest: 32 KiB.
pub const SLAB_SIZE: usize = 32 * 1024;
/// The smallest slab size: 1 KiB (the 16-byte class gets 60 blocks, 61 on 32-bit targets; the
/// 128-byte class 6; larger classes go to the fallback).
pub const MIN_SLAB_SIZE: usize = 1024;
/// How much shorter than its size a slab is, so that slabs from a boundary-tag fallback pack
/// end to end.
pub const SLAB_TAIL: usize = 16;
/// Bits in one bitmap word.
const WORD_BITS: usize = u64::BITS as usize;
/// The fewest blocks a slab of a class must hold for the class to use slabs.
const MIN_BLOCKS: usize = 4;

/// The fixed start of every slab; the bitmap follows it, `Geometry::words` long.
#[repr(C)]
pub(super) struct SlabHeader {
    /// The next slab of the same class with a free block, or null (meaningful only while this
    /// slab has one itself).
    pub(super) next_with_room: *mut SlabHeader,
    /// The previous slab on that list, or null when this one heads it.
    pub(super) prev_with_room: *mut SlabHeader,
    /// The size class of every block of the slab.
    pub(super) class: usize,
    /// How many blocks of the slab are taken: handed out, or waiting in the class's magazine.
    pub(super) blocks_in_use: usize,
    /// Bit `w` set: bitmap word `w` has a clear bit, so the slab has a free block.
    words_with_room: u64,
}

/// The shape of the slabs of one pools value: their size, and where their blocks lie. All
/// O(1) arithmetic on the size's power of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Geometry {
    /// log2 of the slab size.
    shift: u32,
}

impl Geometry {
    /// The default geometry: 32 KiB slabs.
    pub(super) const DEFAULT: Self = Self::new(SLAB_SIZE);

    /// The geometry of slabs of `size` bytes, rounded down to a power of two and kept between
    /// [`MIN_SLAB_SIZE`] and [`SLAB_SIZE`].
    pub(super) const fn new(size: usize) -> Self {
        let size = if size < MIN_SLAB_SIZE {
            MIN_SLAB_SIZE
        } else if size > SLAB_SIZE {
            SLAB_SIZE
        } else {
            size
        };
        Self {
            shift: size.ilog2(),
        }
    }

    /// The geometry of slabs of `1 << shift` bytes, for a shift [`shift`](Self::shift) gave.
    pub(super) const fn from_shift(shift: u32) -> Self {
        Self { shift }
    }

    /// log2 of the slab size.
    pub(super) const fn shift(self) -> u32 {
        self.shift
    }

    /// The slab size: every slab's alignment and the span its blocks are found in.
    pub(super) const fn size(self) -> usize {
        1 << self.shift
    }

    /// The length of every slab.
    pub(super) const fn len(self) -> usize {
        self.size() - SLAB_TAIL
    }

    /// The bitmap words of a slab (enough for its smallest blocks).
    const fn words(self) -> usize {
        self.size() / MIN_BLOCK_SIZE / WORD_BITS
    }

    /// The header's bytes, bitmap included.
    const fn header_bytes(self) -> usize {
        size_of::<SlabHeader>() + self.words() * size_of::<u64>()
    }

    /// Where the first block of class `class` starts inside a slab: the first multiple of its
    /// block size (a power of two: a mask, not a division) after the header.
    pub(super) const fn first_block(self, class: usize) -> usize {
        let block = block_size(class);
        (self.header_bytes() + block - 1) & !(block - 1)
    }

    /// How many blocks of class `class` a slab holds.
    pub(super) const fn blocks(self, class: usize) -> usize {
        self.len().saturating_sub(self.first_block(class)) >> block_size(class).trailing_zeros()
    }

    /// The largest class whose slabs hold at least [`MIN_BLOCKS`] blocks: the larger ones go
    /// to the fallback.
    pub(super) const fn top_class(self) -> usize {
        let mut class = CLASS_COUNT - 1;
        while class > 0 && self.blocks(class) < MIN_BLOCKS {
            class -= 1;
        }
        class
    }

    /// The layout of every slab request to the fallback.
    pub(super) const fn layout(self) -> Layout {
        match Layout::from_size_align(self.len(), self.size()) {
            Ok(layout) => layout,
            Err(_) => panic!("the slab size is a power of two"),
        }
    }
}

/// The bitmap of the slab at `header`.
///
/// # Safety
/// `header` must be a slab header of `geometry` written by [`init_header`], reached through
/// our pointer (its provenance covers the whole slab).
unsafe fn bitmap(header: *mut SlabHeader) -> *mut u64 {
    // SAFETY: the bitmap follows the fixed header, inside the slab (the caller's promise); the
    // fixed header's size is a multiple of 8, so the words are aligned.
    unsafe { header.add(1).cast::<u64>() }
}

/// Writes the header of a slab of class `class`, all blocks free, at the start of `slab`.
/// O(bitmap words).
///
/// # Safety
/// `slab` must be a fresh slab of `geometry.layout()`, owned by the caller.
pub(super) unsafe fn init_header(
    slab: NonNull<u8>,
    geometry: Geometry,
    class: usize,
) -> *mut SlabHeader {
    let first = geometry.first_block(class) >> size_shift(class);
    let end = first + geometry.blocks(class);
    let header = slab.as_ptr().cast::<SlabHeader>();
    let mut words_with_room = 0;
    for word in 0..geometry.words() {
        // The numbers below `end` are free, but for the header's (below).
        let free = bits_below(end.saturating_sub(word * WORD_BITS));
        words_with_room |= u64::from(free != 0) << word;
        // SAFETY: word `word` of the bitmap lies in the header, inside the fresh slab.
        unsafe { bitmap(header).add(word).write(!free) };
    }
    // The header's numbers are all in word 0 (a header of at most 296 bytes covers at most
    // 19 blocks of 16), whose room stays: the slab holds at least 4 blocks from `first` on.
    // SAFETY: as above.
    unsafe { *bitmap(header) |= bits_below(first) };
    // SAFETY: the slab is at least a header long and aligned to its size, far more than the
    // header needs; the caller owns it.
    unsafe {
        header.write(SlabHeader {
            next_with_room: core::ptr::null_mut(),
            prev_with_room: core::ptr::null_mut(),
            class,
            blocks_in_use: 0,
            words_with_room,
        });
    }
    header
}

/// log2 of the block size of class `class`: a block's number is its offset in the slab
/// shifted right by this.
pub(super) const fn size_shift(class: usize) -> u32 {
    class as u32 + MIN_BLOCK_SIZE.trailing_zeros()
}

/// The bits of a bitmap word below bit `count`: all of them from 64 on.
const fn bits_below(count: usize) -> u64 {
    match u64::MAX.checked_shl(count as u32) {
        Some(high) => !high,
        None => u64::MAX,
    }
}

/// The number of the block of class `class` at `block` in its slab. O(1).
///
/// # Errors
/// [`FreeError::UnalignedFree`] when `block` is in the header, not at a block start, or past
/// the slab's last block.
pub(super) fn block_index(
    block: *mut u8,
    geometry: Geometry,
    class: usize,
) -> Result<usize, FreeError> {
    let block_size = block_size(class);
    let offset = block.addr() & (geometry.size() - 1);
    // The first block starts at a multiple of the block size, so block starts are the
    // multiples of it.
    if offset < geometry.first_block(class)
        || offset & (block_size - 1) != 0
        || offset + block_size > geometry.len()
    {
        return Err(FreeError::UnalignedFree);
    }
    Ok(offset >> size_shift(class))
}

/// Marks the lowest free block of the slab in use and returns its number, or `None` when the
/// slab is full. O(1): two trailing-zero counts.
///
/// # Safety
/// `header` must be a slab header written by [`init_header`], reached through our pointer.
pub(super) unsafe fn take_free(header: *mut SlabHeader) -> Option<usize> {
    // SAFETY: the caller guarantees a live header and our provenance; a word with room lies
    // in the bitmap.
    unsafe {
        let room = (*header).words_with_room;
        if room == 0 {
            return None;
        }
        let word = room.trailing_zeros() as usize;
        let bits = bitmap(header).add(word);
        let bit = (!*bits).trailing_zeros() as usize;
        *bits |= 1 << bit;
        if *bits == u64::MAX {
            (*header).words_with_room = room & !(1 << word);
        }
        (*header).blocks_in_use += 1;
        Some(word * WORD_BITS + bit)
    }
}

/// Whether the slab has a free block. O(1).
///
/// # Safety
/// As [`take_free`].
pub(super) unsafe fn has_room(header: *mut SlabHeader) -> bool {
    // SAFETY: the caller guarantees a live header.
    unsafe { (*header).words_with_room != 0 }
}

/// Records block `index` of the slab as free. O(1).
///
/// # Errors
/// [`FreeError::DoubleFree`] when the block is not in use; nothing changes then.
///
/// # Safety
/// As [`take_free`], and `index` must be one of the slab's blocks.
pub(super) unsafe fn mark_free(header: *mut SlabHeader, index: usize) -> Result<(), FreeError> {
    let (word, bit) = bit_position(index);
    // SAFETY: the caller guarantees a live header and a block of the slab, whose bit lies in
    // the bitmap.
    unsafe {
        let bits = bitmap(header).add(word);
        if *bits & bit == 0 {
            return Err(FreeError::DoubleFree);
        }
        *bits &= !bit;
        (*header).words_with_room |= 1 << word;
        (*header).blocks_in_use -= 1;
    }
    Ok(())
}

/// Whether block `index` of the slab is handed out. O(1).
///
/// # Safety
/// As [`mark_free`].
pub(super) unsafe fn is_in_use(header: *mut SlabHeader, index: usize) -> bool {
    let (word, bit) = bit_position(index);
    // SAFETY: as for `mark_free`.
    unsafe { *bitmap(header).add(word) & bit != 0 }
}

/// Whether the bitmap of the slab at `header`, of `geometry`, agrees with the rest of its
/// header: a class that uses slabs, the bits of the numbers that are no block set, as many
/// other bits set as blocks in use, and `words_with_room` marking exactly the words with a
/// clear bit. O(bitmap words); for checks, off every hot path.
///
/// # Safety
/// As [`take_free`].
pub(super) unsafe fn bitmap_agrees(header: *mut SlabHeader, geometry: Geometry) -> bool {
    // SAFETY: the caller guarantees a live header and our provenance.
    let (class, in_use, room) = unsafe {
        (
            (*header).class,
            (*header).blocks_in_use,
            (*header).words_with_room,
        )
    };
    if class > geometry.top_class() {
        return false;
    }
    let first = geometry.first_block(class) >> size_shift(class);
    let end = first + geometry.blocks(class);
    let (mut set, mut with_room, mut no_block_clear) = (0, 0, false);
    for word in 0..geometry.words() {
        // SAFETY: word `word` of the bitmap lies in the header.
        let bits = unsafe { *bitmap(header).add(word) };
        let base = word * WORD_BITS;
        let blocks = bits_below(end.saturating_sub(base)) & !bits_below(first.saturating_sub(base));
        no_block_clear |= !bits & !blocks != 0;
        set += (bits & blocks).count_ones() as usize;
        with_room |= u64::from(bits != u64::MAX) << word;
    }
    !no_block_clear && set == in_use && with_room == room
}

/// The bitmap word and bit mask of block `index`.
const fn bit_position(index: usize) -> (usize, u64) {
    (index / WORD_BITS, 1 << (index % WORD_BITS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slab_geometry_is_as_documented() {
        // Four words and the summary word, then the bitmap: 296 bytes on 64-bit targets for
        // 32 KiB slabs (the figures the docs give), 280 on 32-bit ones.
        let geometry = Geometry::DEFAULT;
        let words = 4 * size_of::<usize>();
        assert_eq!(geometry.header_bytes(), words + 8 + 8 * 32);
        #[cfg(target_pointer_width = "64")]
        assert_eq!((geometry.header_bytes(), geometry.blocks(0)), (296, 2028));
        assert_eq!(geometry.blocks(7), 14);
        assert_eq!(geometry.top_class(), CLASS_COUNT - 1);
        #[cfg(target_pointer_width = "64")]
        assert_eq!(Geometry::new(2048).header_bytes(), 56);
        assert_eq!(block_size(Geometry::new(2048).top_class()), 256);
        assert_eq!(block_size(Geometry::new(1024).top_class()), 128);
        assert_eq!(Geometry::new(100), Geometry::new(MIN_SLAB_SIZE));
        assert_eq!(Geometry::new(usize::MAX), Geometry::DEFAULT);
        assert_eq!(Geometry::new(5000), Geometry::new(4096));
        for shift in MIN_SLAB_SIZE.trailing_zeros()..=SLAB_SIZE.trailing_zeros() {
            let geometry = Geometry::from_shift(shift);
            assert!(geometry.words() <= u64::BITS as usize);
            for class in 0..=geometry.top_class() {
                let size = block_size(class);
                let end = geometry.first_block(class) + geometry.blocks(class) * size;
                assert!(
                    end <= geometry.len() && geometry.len() - end < size,
                    "{size}"
                );
                assert!(geometry.blocks(class) >= MIN_BLOCKS);
                assert!(geometry.first_block(class) >> size_shift(class) < WORD_BITS - MIN_BLOCKS);
                let first = geometry.first_block(class) >> size_shift(class);
                assert!(first + geometry.blocks(class) <= geometry.words() * WORD_BITS);
            }
        }
    }

    #[test]
    fn the_bitmap_hands_out_every_block_once_lowest_first_and_refuses_double_frees() {
        let geometry = Geometry::DEFAULT;
        let slab = std::boxed::Box::new(Aligned([0; SLAB_SIZE]));
        let slab = NonNull::from(std::boxed::Box::leak(slab)).cast::<u8>();
        // SAFETY: a leaked, suitably aligned and sized buffer owned by this test.
        let header = unsafe { init_header(slab, geometry, 2) };
        let first = geometry.first_block(2) / 64;
        let block = slab.as_ptr().wrapping_add((first + 3) * 64);
        assert_eq!(block_index(block, geometry, 2), Ok(first + 3));
        assert_eq!(
            block_index(block.wrapping_add(8), geometry, 2),
            Err(FreeError::UnalignedFree)
        );
        assert_eq!(
            block_index(slab.as_ptr(), geometry, 2),
            Err(FreeError::UnalignedFree)
        );
        let past_end = slab.as_ptr().wrapping_add(geometry.len());
        assert_eq!(
            block_index(past_end, geometry, 0),
            Err(FreeError::UnalignedFree)
        );
        // SAFETY: the header was just written through our pointer; `first + 3` is a block of
        // the slab.
        unsafe {
            assert_eq!(mark_free(header, first + 3), Err(FreeError::DoubleFree));
            for number in first..first + geometry.blocks(2) {
                assert_eq!(take_free(header), Some(number));
            }
            assert_eq!(take_free(header), None);
            assert!(!has_room(header));
            assert_eq!((*header).blocks_in_use, geometry.blocks(2));
            assert_eq!(mark_free(header, first + 3), Ok(()));
            assert!(has_room(header) && !is_in_use(header, first + 3));
            assert!(is_in_use(header, first + 4));
            assert_eq!(mark_free(header, first + 3), Err(FreeError::DoubleFree));
            assert_eq!(take_free(header), Some(first + 3));
        }
        // SAFETY: the buffer came from `Box::leak` above and nothing uses it any more.
        drop(unsafe { std::boxed::Box::from_raw(slab.as_ptr().cast::<Aligned>()) });
    }

    /// Block numbers for every slab size and class: the header's and the short end's
    /// addresses are refused, every block start from the first to the last is its offset over
    /// the block size, and the bitmap of a fresh slab agrees with its header.
    #[test]
    fn block_numbers_are_offsets_over_the_block_size_for_every_geometry() {
        let slab = std::boxed::Box::new(Aligned([0; SLAB_SIZE]));
        let slab = NonNull::from(std::boxed::Box::leak(slab)).cast::<u8>();
        let at = |offset: usize| slab.as_ptr().wrapping_add(offset);
        for shift in MIN_SLAB_SIZE.trailing_zeros()..=SLAB_SIZE.trailing_zeros() {
            let geometry = Geometry::from_shift(shift);
            for class in 0..=geometry.top_class() {
                let size = block_size(class);
                let first = geometry.first_block(class);
                let end = first + geometry.blocks(class) * size;
                for offset in (0..first).step_by(size) {
                    assert_eq!(
                        block_index(at(offset), geometry, class),
                        Err(FreeError::UnalignedFree)
                    );
                }
                let step = if cfg!(miri) { size * 7 } else { size };
                for offset in (first..end).step_by(step).chain([end - size]) {
                    assert_eq!(block_index(at(offset), geometry, class), Ok(offset / size));
                }
                for offset in (end..geometry.size()).step_by(size) {
                    assert_eq!(
                        block_index(at(offset), geometry, class),
                        Err(FreeError::UnalignedFree)
                    );
                }
                // SAFETY: the buffer is ours, slab-aligned and at least a slab long.
                unsafe {
                    let header = init_header(slab, geometry, class);
                    assert!(bitmap_agrees(header, geometry), "{shift} {class}");
                    assert_eq!(take_free(header), Some(first / size));
                }
            }
        }
        // SAFETY: the buffer came from `Box::leak` above and nothing uses it any more.
        drop(unsafe { std::boxed::Box::from_raw(slab.as_ptr().cast::<Aligned>()) });
    }

    /// `bitmap_agrees` refuses each way a header can go wrong: a header number, a block past
    /// the end or a free block marked without its count, a count without its bit, a wrong
    /// summary word, a class that uses no slabs.
    #[test]
    fn a_bitmap_that_disagrees_with_its_header_is_found() {
        let geometry = Geometry::new(2048);
        let slab = std::boxed::Box::new(Aligned([0; SLAB_SIZE]));
        let slab = NonNull::from(std::boxed::Box::leak(slab)).cast::<u8>();
        // SAFETY: the buffer is ours, slab-aligned and at least a slab long; every change below
        // is undone before the next.
        unsafe {
            let header = init_header(slab, geometry, 1);
            let taken = take_free(header).unwrap();
            assert!(bitmap_agrees(header, geometry));
            let word = bitmap(header);
            let last = geometry.words() - 1;
            let flips: [(*mut u64, u64); 4] = [
                (word, 1),                 // the header's first number, cleared
                (word, 1 << (taken + 1)),  // a free block marked without its count
                (word, 1 << taken),        // a block in use cleared
                (word.add(last), 1 << 63), // past the last block, cleared
            ];
            for (at, mask) in flips {
                *at ^= mask;
                assert!(!bitmap_agrees(header, geometry), "{mask:#x}");
                *at ^= mask;
            }
            (*header).words_with_room ^= 1 << last;
            assert!(!bitmap_agrees(header, geometry));
            (*header).words_with_room ^= 1 << last;
            (*header).blocks_in_use += 1;
            assert!(!bitmap_agrees(header, geometry));
            (*header).blocks_in_use -= 1;
            (*header).class = geometry.top_class() + 1;
            assert!(!bitmap_agrees(header, geometry));
            (*header).class = 1;
            assert!(bitmap_agrees(header, geometry));
        }
        // SAFETY: the buffer came from `Box::leak` above and nothing uses it any more.
        drop(unsafe { std::boxed::Box::from_raw(slab.as_ptr().cast::<Aligned>()) });
    }

    /// A slab-sized, slab-aligned buffer.
    #[repr(C, align(32768))]
    struct Aligned([u8; SLAB_SIZE]);
}
