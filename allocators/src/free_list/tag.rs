//! Boundary tags: how a block describes itself in memory, and the pointer arithmetic that walks
//! from a block to its neighbours. No policy lives here.
//!
//! Every block starts with one word, its *tag*: the block's size (a multiple of [`GRANULE`]) with
//! three flags in the low bits. Blocks start one word before a [`GRANULE`] boundary, so every
//! payload is [`GRANULE`]-aligned.
//!
//! ```text
//!   allocated block                       free block
//!   ┌──────────────────────┐ ◄ block      ┌──────────────────────┐
//!   │ tag: size|A|P|F      │              │ tag: size|P=0|F      │
//!   ├──────────────────────┤ ◄ payload    ├──────────────────────┤
//!   │ user data            │  (16-aligned)│ next free (same bin) │
//!   │                      │              │ prev free (same bin) │
//!   │                      │              │ ...                  │
//!   │                      │              │ footer: size         │
//!   └──────────────────────┘              └──────────────────────┘
//!   A = allocated   P = the previous block is free (its footer holds its size)
//!   F = first block of its region (no previous block)
//! ```
//!
//! An allocated block costs one word of overhead. A free block keeps its size in a footer too, so
//! the block after it can find its start in O(1) when merging; the `P` flag says whether that
//! footer exists. A zero-sized, allocated tag ends each region (the *sentinel*), so walking never
//! leaves a region and the last block never merges past the end.

use core::ptr::NonNull;

/// Size of one tag (and of a footer): one machine word.
pub(super) const WORD: usize = size_of::<usize>();

/// Block sizes and payload addresses are multiples of this.
pub(super) const GRANULE: usize = 16;

/// The smallest block: a tag, two free-list links and a footer, rounded to the granule.
pub(super) const MIN_BLOCK: usize = (4 * WORD).next_multiple_of(GRANULE);

/// The largest block size, so that sizes and address offsets never overflow `isize`.
pub(super) const MAX_BLOCK: usize = isize::MAX.unsigned_abs() & !(GRANULE - 1);

const ALLOCATED: usize = 1;
const PREV_FREE: usize = 2;
const FIRST: usize = 4;
const FLAGS: usize = GRANULE - 1;

/// The decoded tag word of a block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Tag(usize);

impl Tag {
    /// The tag of a free block (its previous block is allocated: free blocks never touch).
    pub(super) const fn free(size: usize, first: bool) -> Self {
        Self(size | if first { FIRST } else { 0 })
    }

    /// The tag of an allocated block.
    pub(super) const fn allocated(size: usize, prev_free: bool, first: bool) -> Self {
        Self(
            size | ALLOCATED
                | if prev_free { PREV_FREE } else { 0 }
                | if first { FIRST } else { 0 },
        )
    }

    /// The tag that ends a region: zero-sized and allocated, so nothing merges into it.
    pub(super) const fn sentinel(prev_free: bool) -> Self {
        Self::allocated(0, prev_free, false)
    }

    /// The same tag with the "previous block is free" flag set.
    pub(super) const fn with_prev_free(self) -> Self {
        Self(self.0 | PREV_FREE)
    }

    pub(super) const fn size(self) -> usize {
        self.0 & !FLAGS
    }

    pub(super) const fn is_allocated(self) -> bool {
        self.0 & ALLOCATED != 0
    }

    pub(super) const fn prev_free(self) -> bool {
        self.0 & PREV_FREE != 0
    }

    pub(super) const fn is_first(self) -> bool {
        self.0 & FIRST != 0
    }

    /// Whether the size could belong to a real block: a positive multiple of the granule of at
    /// least [`MIN_BLOCK`], and no stray flag bits.
    pub(super) const fn has_block_shape(self) -> bool {
        // One unsigned comparison checks both bounds (sizes below MIN_BLOCK wrap around).
        self.size().wrapping_sub(MIN_BLOCK) <= MAX_BLOCK - MIN_BLOCK
            && self.0 & FLAGS & !(ALLOCATED | PREV_FREE | FIRST) == 0
    }
}

/// The free-list links stored in the payload of a free block.
#[repr(C)]
pub(super) struct Links {
    pub(super) next: Option<Block>,
    pub(super) prev: Option<Block>,
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
    pub(super) unsafe fn tag(self) -> Tag {
        // SAFETY: the caller vouches for the word; blocks are word-aligned.
        Tag(unsafe { self.0.cast::<usize>().read() })
    }

    /// Writes the tag.
    ///
    /// # Safety
    /// The block's tag word must be inside a region and not part of any live allocation.
    pub(super) unsafe fn set_tag(self, tag: Tag) {
        // SAFETY: the caller vouches for the word; blocks are word-aligned.
        unsafe { self.0.cast::<usize>().write(tag.0) }
    }

    /// Sets or clears the "previous block is free" flag, keeping the rest of the tag.
    ///
    /// # Safety
    /// As for [`tag`](Self::tag) and [`set_tag`](Self::set_tag).
    pub(super) unsafe fn set_prev_free(self, prev_free: bool) {
        // SAFETY: forwarded to the caller.
        let bits = unsafe { self.tag() }.0 & !PREV_FREE;
        // SAFETY: forwarded to the caller.
        unsafe { self.set_tag(Tag(bits | if prev_free { PREV_FREE } else { 0 })) }
    }

    /// Writes the footer of a free block of `size` bytes (its last word).
    ///
    /// # Safety
    /// The block must be a free block of `size` bytes inside a region.
    pub(super) unsafe fn write_footer(self, size: usize) {
        // SAFETY: the last word of the block lies inside it; it is word-aligned.
        unsafe { self.0.byte_add(size - WORD).cast::<usize>().write(size) }
    }

    /// The size of the previous block, read from its footer.
    ///
    /// # Safety
    /// The previous block must be free (this block's tag has the "previous free" flag).
    pub(super) unsafe fn prev_size(self) -> usize {
        // SAFETY: a free previous block ends with its footer, right before this tag.
        unsafe { self.0.byte_sub(WORD).cast::<usize>().read() }
    }

    /// The free-list links in the payload.
    ///
    /// Dereferencing is valid while the block is free and inside a region.
    pub(super) const fn links(self) -> *mut Links {
        self.payload().as_ptr().cast::<Links>()
    }
}
