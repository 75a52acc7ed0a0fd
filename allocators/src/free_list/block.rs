//! Blocks and boundary tags: how a block describes itself in memory, and the pointer arithmetic
//! that walks from a block to its neighbours. No policy lives here.
//!
//! Every block starts with one word, its *tag*: the block's size (a multiple of [`GRANULE`])
//! with two flags in the low bits. Blocks start one word before a [`GRANULE`] boundary, so
//! every payload is [`GRANULE`]-aligned.
//!
//! ```text
//!   allocated block                       free block
//!   ┌──────────────────────┐ ◄ block      ┌──────────────────────┐
//!   │ tag: size|A|P        │              │ tag: size            │
//!   ├──────────────────────┤ ◄ payload    ├──────────────────────┤
//!   │ user data            │  (16-aligned)│ next free (same bin) │
//!   │                      │              │ prev (block, or bin) │
//!   │                      │              │ ...                  │
//!   │                      │              │ footer: size         │
//!   └──────────────────────┘              └──────────────────────┘
//!   A = allocated      P = the previous block is free (its footer, the word just before
//!                          this tag, holds its size)
//! ```
//!
//! An allocated block costs one word. A free block keeps its size in a footer too, so the block
//! after it finds its start in O(1) when merging; the `P` flag says whether that footer exists.
//! Free blocks never touch (they merge), so a free block's own `P` flag is always clear. A
//! zero-sized, allocated tag ends each region (the *sentinel*): walking never leaves a region,
//! and the last block never merges past the end.
//!
//! Every word is reached through a [`Block`], which carries the provenance of the region's
//! memory (see the module docs of [`free_list`](super) for why, and for what that means for a
//! block freed while its owner still holds a protected reference to it).

use core::ptr::NonNull;

/// Size of one tag (and of a footer, and of a link): one machine word.
pub(super) const WORD: usize = size_of::<usize>();

/// Block sizes and payload addresses are multiples of this.
pub(super) const GRANULE: usize = 16;

/// The smallest block: a tag, two free-list links and a footer, rounded to the granule (32
/// bytes on 64-bit targets, 16 on 32-bit ones).
pub(super) const MIN_BLOCK: usize = (4 * WORD).next_multiple_of(GRANULE);

/// The largest block size, so that sizes and address offsets never overflow `isize`.
pub(super) const MAX_BLOCK: usize = isize::MAX.unsigned_abs() & !(GRANULE - 1);

const ALLOCATED: usize = 1;
const PREV_FREE: usize = 2;
/// Only in the sentinel's tag, so that one mask tells an allocated block from the sentinel.
const END: usize = 4;
const FLAGS: usize = GRANULE - 1;

/// The decoded tag word of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tag(usize);

impl Tag {
    /// The tag that ends a region: zero-sized, allocated (so nothing merges into it) and
    /// marked as the end.
    pub(super) const SENTINEL: Self = Self(ALLOCATED | END);

    /// The tag of a free block of `size` bytes.
    pub(super) const fn free(size: usize) -> Self {
        Self(size)
    }

    /// The tag of an allocated block of `size` bytes.
    pub(super) const fn allocated(size: usize, prev_free: bool) -> Self {
        Self(size | ALLOCATED | if prev_free { PREV_FREE } else { 0 })
    }

    /// The block's size, tag included.
    pub(super) const fn size(self) -> usize {
        self.0 & !FLAGS
    }

    pub(super) const fn is_allocated(self) -> bool {
        self.0 & ALLOCATED != 0
    }

    pub(super) const fn prev_free(self) -> bool {
        self.0 & PREV_FREE != 0
    }

    /// The same tag with the "previous block is free" flag set or cleared.
    pub(super) const fn with_prev_free(self, prev_free: bool) -> Self {
        Self(self.0 & !PREV_FREE | if prev_free { PREV_FREE } else { 0 })
    }

    /// Whether the tag could belong to a real block: a size of at least [`MIN_BLOCK`] and at
    /// most [`MAX_BLOCK`], and no stray flag bits.
    pub(super) const fn has_block_shape(self) -> bool {
        // One unsigned comparison checks both bounds (sizes below MIN_BLOCK wrap around).
        self.size().wrapping_sub(MIN_BLOCK) <= MAX_BLOCK - MIN_BLOCK
            && self.0 & FLAGS & !(ALLOCATED | PREV_FREE) == 0
    }

    /// Whether the tag is a region's sentinel (with or without the previous-free flag).
    pub(super) const fn is_sentinel(self) -> bool {
        self.0 & !PREV_FREE == ALLOCATED | END
    }

    /// Whether a block with this tag, followed by a block tagged `next`, frees without
    /// merging: its previous block is allocated, and so is its next one, which is not the
    /// sentinel. One mask and one comparison, for the free's common path.
    pub(super) const fn frees_alone(self, next: Self) -> bool {
        (self.0 & PREV_FREE) | (next.0 & (ALLOCATED | END)) == ALLOCATED
    }
}

/// The free-list links stored in the payload of a free block.
#[repr(C)]
#[derive(Clone, Copy)]
pub(super) struct Links {
    pub(super) next: Option<Block>,
    pub(super) prev: Prev,
}

/// What precedes a listed free block: the block before it in its list, or, for the first
/// block, the list itself, named by its class. So any block leaves its list without its
/// class being computed from its size (a list's first block says which head and bit to
/// change), the way talc's links point at the previous link rather than at a block.
///
/// ```text
///   heads[c] ──► A ⇄ B ⇄ C        A.prev = list c  (2c + 1 − 2³¹, wrapping: no block is there)
///                                 B.prev = A, C.prev = B
/// ```
///
/// A list is encoded as `(2 * class + 1).wrapping_sub(1 << 31)`, an address without
/// provenance that is never dereferenced. It is odd, so it is never a block's (blocks are
/// word-aligned). And its top bit is set, a size no tag may hold, so it is never shaped like a
/// tag either: a free block's links lie where a block's tag once was, and a checked free of
/// that block's old payload reads them as its tag (see [`Tag::has_block_shape`]). A block
/// address is never shaped like a tag either: on 64-bit targets it has bit 3 set (blocks start
/// 8 bytes past a granule boundary), and on 32-bit ones the link never lies where a tag could.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Prev(*mut u8);

/// Subtracted from a list's odd number, so that the word's top bit is set: never a size a tag
/// may hold. (One `lea` makes the word; a constant that fits an instruction's 32-bit
/// displacement.)
const LIST_BIAS: usize = 1 << 31;

impl Prev {
    /// The predecessor of list `class`'s first block: the list.
    pub(super) const fn list(class: usize) -> Self {
        Self(core::ptr::without_provenance_mut(
            (class << 1 | 1).wrapping_sub(LIST_BIAS),
        ))
    }

    /// The predecessor `block`.
    pub(super) const fn block(block: Block) -> Self {
        Self(block.0.as_ptr())
    }

    /// The block before, `Err(class)` when the block heads list `class`.
    #[inline(always)]
    pub(super) fn get(self) -> Result<Block, usize> {
        let addr = self.0.addr();
        if addr & 1 != 0 {
            return Err(addr.wrapping_add(LIST_BIAS) >> 1);
        }
        // SAFETY: an even predecessor is a block (made by `Prev::block`), whose address is
        // never null.
        Ok(Block(unsafe { NonNull::new_unchecked(self.0) }))
    }
}

/// A block, named by the address of its tag. Carries the provenance of its region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Block(NonNull<u8>);

impl Block {
    /// The block at `at` (the address of its tag).
    pub(super) const fn at(at: NonNull<u8>) -> Self {
        Self(at)
    }

    /// The block whose payload starts at `payload`.
    ///
    /// # Safety
    /// `payload - WORD` must lie inside the same region (a payload is never a region's start).
    pub(super) const unsafe fn of_payload(payload: NonNull<u8>) -> Self {
        // SAFETY: the caller guarantees the word before the payload is in the same allocation.
        Self(unsafe { payload.byte_sub(WORD) })
    }

    pub(super) const fn ptr(self) -> NonNull<u8> {
        self.0
    }

    pub(super) fn addr(self) -> usize {
        self.0.addr().get()
    }

    /// The start of the payload, one word after the tag.
    pub(super) const fn payload(self) -> NonNull<u8> {
        // SAFETY: every block is at least MIN_BLOCK > WORD bytes, so this stays in the block.
        unsafe { self.0.byte_add(WORD) }
    }

    /// The block `offset` bytes further on.
    ///
    /// # Safety
    /// The result must lie inside the same region (at most at its sentinel).
    pub(super) const unsafe fn forward(self, offset: usize) -> Self {
        // SAFETY: the caller keeps the result inside the region.
        Self(unsafe { self.0.byte_add(offset) })
    }

    /// The block `offset` bytes back.
    ///
    /// # Safety
    /// The result must lie inside the same region.
    pub(super) const unsafe fn backward(self, offset: usize) -> Self {
        // SAFETY: the caller keeps the result inside the region.
        Self(unsafe { self.0.byte_sub(offset) })
    }

    /// Reads the tag.
    ///
    /// # Safety
    /// The block's tag word must be inside a region and initialized.
    #[inline(always)]
    pub(super) unsafe fn tag(self) -> Tag {
        // SAFETY: the caller vouches for the word; blocks are word-aligned.
        Tag(unsafe { self.0.cast::<usize>().read() })
    }

    /// Writes the tag.
    ///
    /// # Safety
    /// The block's tag word must be inside a region and not part of any live block's payload.
    #[inline(always)]
    pub(super) unsafe fn set_tag(self, tag: Tag) {
        // SAFETY: the caller vouches for the word; blocks are word-aligned.
        unsafe { self.0.cast::<usize>().write(tag.0) }
    }

    /// Writes the footer of a free block of `size` bytes (its last word).
    ///
    /// # Safety
    /// The block must be a free block of `size` bytes inside a region.
    #[inline(always)]
    pub(super) unsafe fn set_footer(self, size: usize) {
        // SAFETY: the last word of the block lies inside it; it is word-aligned.
        unsafe { self.0.byte_add(size - WORD).cast::<usize>().write(size) }
    }

    /// The size of the previous block, read from its footer.
    ///
    /// # Safety
    /// The previous block must be free (this block's tag has the "previous free" flag).
    #[inline(always)]
    pub(super) unsafe fn prev_size(self) -> usize {
        // SAFETY: a free previous block ends with its footer, right before this tag.
        unsafe { self.0.byte_sub(WORD).cast::<usize>().read() }
    }

    /// The free-list links in the payload. Dereferencing is valid while the block is free and
    /// inside a region.
    pub(super) const fn links(self) -> *mut Links {
        self.payload().as_ptr().cast::<Links>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_keep_size_and_flags_apart() {
        let tag = Tag::allocated(4096, true);
        assert_eq!(
            (tag.size(), tag.is_allocated(), tag.prev_free()),
            (4096, true, true)
        );
        assert!(tag.has_block_shape());
        assert_eq!(tag.with_prev_free(false), Tag::allocated(4096, false));
        assert!(!Tag::free(MIN_BLOCK).is_allocated() && Tag::free(MIN_BLOCK).has_block_shape());
        assert!(!Tag::free(GRANULE / 2).has_block_shape());
        assert!(!Tag(MIN_BLOCK | 8).has_block_shape());
        assert!(Tag::SENTINEL.is_sentinel() && Tag::SENTINEL.with_prev_free(true).is_sentinel());
        assert!(!Tag::SENTINEL.has_block_shape() && !Tag::allocated(64, false).is_sentinel());
        assert!(MIN_BLOCK >= 4 * WORD && MIN_BLOCK.is_multiple_of(GRANULE));
    }

    /// A list's `Prev` lies where a block's tag once was: it must never read as a tag that a
    /// checked free would take, nor as a block.
    #[test]
    fn a_list_never_looks_like_a_tag_or_a_block() {
        for class in 0..4096 {
            let word = Prev::list(class).0.addr();
            assert!(!Tag(word).has_block_shape(), "class {class}");
            assert!(!Tag(word).is_sentinel(), "class {class}");
            assert!(!word.is_multiple_of(WORD), "class {class}");
            assert_eq!(Prev::list(class).get().err(), Some(class));
        }
    }
}
