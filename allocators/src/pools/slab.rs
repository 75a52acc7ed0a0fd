//! Slabs: the chunks a size class takes from the fallback allocator, and their headers.
//!
//! A slab is aligned to [`SLAB_SIZE`], so the slab of any block is found by clearing the low
//! bits of its address (its address only: which pointer may then touch the header is the
//! slab table's business, see `slab_table`). It is [`SLAB_TAIL`] bytes shorter than that
//! alignment: a boundary-tag fallback (bareheap's free list) puts a one-word tag before each
//! block and rounds blocks to 16 bytes, so a slab of exactly `SLAB_SIZE` bytes would need
//! `SLAB_SIZE + 16` and leave almost a whole slab's gap before the next aligned one;
//! `SLAB_SIZE - 16` bytes fill one aligned step exactly, and consecutive slabs pack end to end.
//! It starts with a header (the links of its class's list of slabs with room, its class, how
//! many of its blocks are in use, a bitmap of the blocks in use and a summary word of the
//! bitmap words with a clear bit), followed by blocks of one class, the first at the first
//! multiple of the block size after the header:
//!
//! ```text
//!   slab (32 KiB - 16 bytes, 32 KiB-aligned)
//!   ┌─────────────────────────────────────┬───────┬─────────┬─────┬─────────┬──────┐
//!   │ header: next/prev with room, class, │ (pad) │ block 0 │ ... │ block k │(rest)│
//!   │  blocks in use, words_with_room,    │       │         │     │         │      │
//!   │  in_use[32]                         │       │         │     │         │      │
//!   └─────────────────────────────────────┴───────┴─────────┴─────┴─────────┴──────┘
//!   ▲ block & !(SLAB_SIZE - 1)          ▲ first_block_offset(size)
//! ```
//!
//! The header costs 296 bytes, so a slab holds 2028 blocks of 16 bytes, 14 of 2048 bytes (the
//! short end costs the 2 KiB class one block in 15, and no other class anything but its last
//! 16 bytes). Bits past a slab's last block are set for good, so they are never handed out.
//! Finding the lowest free block (two trailing-zero counts), marking and checking a block are
//! O(1).

use core::alloc::Layout;
use core::ptr::NonNull;

use super::class::{MIN_BLOCK_SIZE, block_size};
use crate::FreeError;

/// The alignment of every slab, and the span its blocks are found in: 32 KiB.
pub const SLAB_SIZE: usize = 32 * 1024;
/// How much shorter than [`SLAB_SIZE`] a slab is, so that slabs from a boundary-tag fallback
/// pack end to end.
pub const SLAB_TAIL: usize = 16;
/// The length of every slab.
pub(super) const SLAB_LEN: usize = SLAB_SIZE - SLAB_TAIL;
/// The bitmap words a slab needs for its smallest blocks.
const BITMAP_WORDS: usize = SLAB_SIZE / MIN_BLOCK_SIZE / u64::BITS as usize;

/// The start of every slab.
#[repr(C)]
pub(super) struct SlabHeader {
    /// The next slab of the same class with a free block, or null (meaningful only while this
    /// slab has one itself).
    pub(super) next_with_room: *mut SlabHeader,
    /// The previous slab on that list, or null when this one heads it.
    pub(super) prev_with_room: *mut SlabHeader,
    /// The size class of every block of the slab.
    pub(super) class: usize,
    /// How many blocks of the slab are handed out.
    pub(super) blocks_in_use: usize,
    /// Bit `w` set: word `w` of `in_use` has a clear bit, so the slab has a free block.
    words_with_room: u64,
    /// Bit `i` set: block `i` of the slab is handed out. Bits past the slab's last block are
    /// set for good.
    in_use: [u64; BITMAP_WORDS],
}

/// The layout of every slab request to the fallback.
pub(super) const fn slab_layout() -> Layout {
    match Layout::from_size_align(SLAB_LEN, SLAB_SIZE) {
        Ok(layout) => layout,
        Err(_) => panic!("the slab size is a power of two"),
    }
}

/// Where the first block of `block_size` bytes starts inside a slab.
/// `block_size` is a power of two, so this is a mask, not a division (it runs on every take
/// and free).
pub(super) const fn first_block_offset(block_size: usize) -> usize {
    (size_of::<SlabHeader>() + block_size - 1) & !(block_size - 1)
}

/// How many blocks of `block_size` bytes a slab holds.
pub(super) const fn blocks_per_slab(block_size: usize) -> usize {
    (SLAB_LEN - first_block_offset(block_size)) >> block_size.trailing_zeros()
}

/// Writes the header of a slab of class `class`, all blocks free, at the start of `slab`.
/// O(bitmap words), a constant.
///
/// # Safety
/// `slab` must be a fresh slab of [`slab_layout`], owned by the caller.
pub(super) unsafe fn init_header(slab: NonNull<u8>, class: usize) -> *mut SlabHeader {
    let blocks = blocks_per_slab(block_size(class));
    let mut in_use = [u64::MAX; BITMAP_WORDS];
    let mut words_with_room = 0;
    for (word, bits) in in_use.iter_mut().enumerate() {
        let first = word * u64::BITS as usize;
        let free = blocks.saturating_sub(first).min(u64::BITS as usize);
        if free > 0 {
            *bits = u64::MAX.checked_shl(free as u32).unwrap_or(0);
            words_with_room |= 1 << word;
        }
    }
    let header = slab.as_ptr().cast::<SlabHeader>();
    // SAFETY: the slab is at least a header long and aligned to SLAB_SIZE, far more than the
    // header needs; the caller owns it.
    unsafe {
        header.write(SlabHeader {
            next_with_room: core::ptr::null_mut(),
            prev_with_room: core::ptr::null_mut(),
            class,
            blocks_in_use: 0,
            words_with_room,
            in_use,
        })
    };
    header
}

/// The index of the block of `block_size` bytes at `block` in its slab. O(1).
///
/// # Errors
/// [`FreeError::UnalignedFree`] when `block` is in the header, not at a block start, or past
/// the slab's last block.
/// `block_size` must be a power of two (masks and shifts only: this runs on every take and free).
pub(super) fn block_index(block: *mut u8, block_size: usize) -> Result<usize, FreeError> {
    let offset = block.addr() & (SLAB_SIZE - 1);
    let first = first_block_offset(block_size);
    // `first` is a multiple of the block size, so block starts are the multiples of it.
    if offset < first || offset & (block_size - 1) != 0 || offset + block_size > SLAB_LEN {
        return Err(FreeError::UnalignedFree);
    }
    Ok((offset - first) >> block_size.trailing_zeros())
}

/// Marks the lowest free block of the slab in use and returns its index, or `None` when the
/// slab is full. O(1): two trailing-zero counts.
///
/// # Safety
/// `header` must be a slab header written by [`init_header`], reached through our pointer.
pub(super) unsafe fn take_free(header: *mut SlabHeader) -> Option<usize> {
    // SAFETY: the caller guarantees a live header and our provenance.
    let header = unsafe { &mut *header };
    if header.words_with_room == 0 {
        return None;
    }
    let word = header.words_with_room.trailing_zeros() as usize;
    let bits = &mut header.in_use[word];
    let bit = (!*bits).trailing_zeros() as usize;
    *bits |= 1 << bit;
    if *bits == u64::MAX {
        header.words_with_room &= !(1 << word);
    }
    header.blocks_in_use += 1;
    Some(word * u64::BITS as usize + bit)
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
/// [`FreeError::DoubleFree`] when the block is not in use (or `index` is past the bitmap);
/// nothing changes then.
///
/// # Safety
/// As [`take_free`].
pub(super) unsafe fn mark_free(header: *mut SlabHeader, index: usize) -> Result<(), FreeError> {
    let (word, bit) = bit_position(index);
    // SAFETY: the caller guarantees a live header.
    let header = unsafe { &mut *header };
    let Some(bits) = header.in_use.get_mut(word) else {
        return Err(FreeError::DoubleFree);
    };
    if *bits & bit == 0 {
        return Err(FreeError::DoubleFree);
    }
    *bits &= !bit;
    header.words_with_room |= 1 << word;
    header.blocks_in_use -= 1;
    Ok(())
}

/// Whether block `index` of the slab is handed out. O(1).
///
/// # Safety
/// As [`mark_free`].
pub(super) unsafe fn is_in_use(header: *mut SlabHeader, index: usize) -> bool {
    let (word, bit) = bit_position(index);
    // SAFETY: as for `mark_free`.
    unsafe { (*header).in_use[word] & bit != 0 }
}

/// The bitmap word and bit mask of block `index`.
const fn bit_position(index: usize) -> (usize, u64) {
    let bits = u64::BITS as usize;
    (index / bits, 1 << (index % bits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slab_geometry_is_as_documented() {
        // Four words, the summary word and the bitmap: 296 bytes on 64-bit targets (the
        // figures the docs give), 280 on 32-bit ones.
        let words = 4 * size_of::<usize>();
        assert_eq!(size_of::<SlabHeader>(), words + 8 + 8 * BITMAP_WORDS);
        #[cfg(target_pointer_width = "64")]
        assert_eq!((size_of::<SlabHeader>(), blocks_per_slab(16)), (296, 2028));
        assert_eq!(blocks_per_slab(2048), 14);
        assert!(BITMAP_WORDS <= u64::BITS as usize);
        for shift in 4..=11 {
            let size = 1 << shift;
            let end = first_block_offset(size) + blocks_per_slab(size) * size;
            assert!(end <= SLAB_LEN && SLAB_LEN - end < size, "class {size}");
        }
    }

    #[test]
    fn the_bitmap_hands_out_every_block_once_lowest_first_and_refuses_double_frees() {
        let slab = std::boxed::Box::new(Aligned([0; SLAB_SIZE]));
        let slab = NonNull::from(std::boxed::Box::leak(slab)).cast::<u8>();
        // SAFETY: a leaked, suitably aligned and sized buffer owned by this test.
        let header = unsafe { init_header(slab, 2) };
        let block = slab.as_ptr().wrapping_add(first_block_offset(64) + 3 * 64);
        assert_eq!(block_index(block, 64), Ok(3));
        assert_eq!(
            block_index(block.wrapping_add(8), 64),
            Err(FreeError::UnalignedFree)
        );
        assert_eq!(
            block_index(slab.as_ptr(), 64),
            Err(FreeError::UnalignedFree)
        );
        let past_end = slab.as_ptr().wrapping_add(SLAB_LEN);
        assert_eq!(block_index(past_end, 16), Err(FreeError::UnalignedFree));
        // SAFETY: the header was just written through our pointer; 3 is a block of the slab.
        unsafe {
            assert_eq!(mark_free(header, 3), Err(FreeError::DoubleFree));
            for index in 0..blocks_per_slab(64) {
                assert_eq!(take_free(header), Some(index));
            }
            assert_eq!(take_free(header), None);
            assert!(!has_room(header));
            assert_eq!((*header).blocks_in_use, blocks_per_slab(64));
            assert_eq!(mark_free(header, 3), Ok(()));
            assert!(has_room(header) && !is_in_use(header, 3) && is_in_use(header, 4));
            assert_eq!(mark_free(header, 3), Err(FreeError::DoubleFree));
            assert_eq!(take_free(header), Some(3));
        }
        // SAFETY: the buffer came from `Box::leak` above and nothing uses it any more.
        drop(unsafe { std::boxed::Box::from_raw(slab.as_ptr().cast::<Aligned>()) });
    }

    /// A slab-sized, slab-aligned buffer.
    #[repr(C, align(32768))]
    struct Aligned([u8; SLAB_SIZE]);
}
