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
//!
//! **Whose pointer writes a word.** Every word is reached through the region's provenance (a
//! [`Block`] carries it), except during a free or a resize: the caller's block may then still
//! be protected (a `Box` dropped while it is a function argument), and any access to its bytes
//! through another pointer is undefined behaviour. The free path hands the caller's bytes down
//! as a [`CallerSpan`], and [`store`] writes each value through the right pointer: inside the
//! span the caller's, outside it the region's, and byte by byte for the word that straddles the
//! span's end (a size that is not a multiple of the word).
//!
//! ```text
//!   block ┌─────┬──────────────────────────────┬──────────┐
//!         │ tag │ payload                      │ footer   │
//!         └─────┴──────────────────────────────┴──────────┘
//!               ◄─── caller's span ───────►
//!          region  caller's pointer       region (bytes past the span)
//! ```
//!
//! What no allocator can arrange: if the caller, still inside the protected frame, allocates
//! again and the heap reuses (or splits, or merges) the freed block, that later call reaches the
//! block through the region, as it must, while the protector is still in force. Miri reports
//! this as a foreign access to protected memory in both models (a known open question of the
//! aliasing models for memory-reusing allocators, rust-lang/miri#5284, UCG #442).

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

/// The bytes `[ptr, ptr + len)` that a caller hands back to a free or a resize, with the
/// caller's own pointer: the only pointer through which those bytes may be touched while the
/// call lasts.
#[derive(Debug, Clone, Copy)]
pub(super) struct CallerSpan {
    ptr: NonNull<u8>,
    len: usize,
}

impl CallerSpan {
    /// The `len` bytes at `ptr`, reached through `ptr`, which must be a payload's address (a
    /// multiple of [`GRANULE`]; [`store`] relies on it).
    pub(super) const fn new(ptr: NonNull<u8>, len: usize) -> Self {
        Self { ptr, len }
    }

    /// The caller's pointer.
    pub(super) const fn ptr(self) -> NonNull<u8> {
        self.ptr
    }

    /// Whether the byte at `addr` is one of the caller's.
    fn holds(self, addr: usize) -> bool {
        addr.wrapping_sub(self.ptr.addr().get()) < self.len
    }

    /// The pointer to reach the byte at `at` (region provenance) with: the caller's inside the
    /// span, `at` itself outside it.
    fn reach(self, at: NonNull<u8>) -> NonNull<u8> {
        if self.holds(at.addr().get()) {
            self.ptr.with_addr(at.addr())
        } else {
            at
        }
    }
}

/// Writes `value` at `at` (a pointer with the region's provenance), each byte inside `caller`'s
/// span through the caller's pointer and every other byte through `at`. O(1): one comparison
/// for a value outside the span, two inside it; a value that straddles the span's end goes word
/// by word, and the straddling word byte by byte.
///
/// A value lies at a multiple of its size, at most a granule, and a span starts at a payload (a
/// granule boundary): so no value starts before the span and ends inside it, and a value that
/// starts before the span lies wholly outside it.
///
/// # Safety
/// `at` must be valid for a write of `T` and aligned to `size_of::<T>()`; the span must start
/// at a multiple of [`GRANULE`] and its bytes be reachable through the caller's pointer.
#[inline(always)]
pub(super) unsafe fn store<T: Copy>(at: NonNull<T>, value: T, caller: Option<CallerSpan>) {
    const { assert!(GRANULE.is_multiple_of(size_of::<T>())) };
    let Some(span) = caller else {
        // SAFETY: forwarded to the caller.
        return unsafe { at.write(value) };
    };
    // Wraps to a huge number when the value starts before the span.
    let offset = at.addr().get().wrapping_sub(span.ptr.addr().get());
    let target = if offset >= span.len {
        at
    } else if span.len - offset >= size_of::<T>() {
        span.ptr.with_addr(at.addr()).cast::<T>()
    } else {
        // SAFETY: forwarded to the caller.
        return unsafe { store_across(at.cast(), value, span) };
    };
    // SAFETY: `target` addresses the same bytes as `at`, through a pointer allowed to write
    // all of them (the caller's inside the span, the region's outside it).
    unsafe { target.write(value) }
}

/// [`store`] for a value that straddles the span's end: word by word, each through its own
/// pointer, and the one word that straddles byte by byte. Cold: only spans whose length is not
/// a multiple of the value's size reach it (a one-word `Box` whose block gets two links).
///
/// # Safety
/// As for [`store`].
#[cold]
unsafe fn store_across<T: Copy>(at: NonNull<u8>, value: T, span: CallerSpan) {
    const { assert!(size_of::<T>().is_multiple_of(WORD)) };
    let source = (&raw const value).cast::<u8>();
    for word in (0..size_of::<T>()).step_by(WORD) {
        // SAFETY: `word + WORD <= size_of::<T>()`: inside both the value and the target.
        let (first, last) = unsafe { (at.byte_add(word), at.byte_add(word + WORD - 1)) };
        let whole = span.holds(first.addr().get()) == span.holds(last.addr().get());
        let piece = if whole { WORD } else { 1 };
        for offset in (word..word + WORD).step_by(piece) {
            // SAFETY: inside the value and the target (as above); an untyped copy keeps the
            // provenance its bytes carry, whole words or single bytes.
            unsafe {
                let target = span.reach(at.byte_add(offset));
                core::ptr::copy_nonoverlapping(source.add(offset), target.as_ptr(), piece);
            }
        }
    }
}

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
#[derive(Clone, Copy)]
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

    /// Writes the tag; the bytes inside `caller`'s span through the caller's pointer.
    ///
    /// # Safety
    /// The block's tag word must be inside a region and not part of any other live allocation.
    pub(super) unsafe fn set_tag(self, tag: Tag, caller: Option<CallerSpan>) {
        // SAFETY: the caller vouches for the word; blocks are word-aligned.
        unsafe { store(self.0.cast::<usize>(), tag.0, caller) }
    }

    /// Sets or clears the "previous block is free" flag, keeping the rest of the tag.
    ///
    /// # Safety
    /// As for [`tag`](Self::tag) and [`set_tag`](Self::set_tag); the tag must lie outside any
    /// caller's span (it is the tag after a block, which no caller's span reaches).
    pub(super) unsafe fn set_prev_free(self, prev_free: bool) {
        // SAFETY: forwarded to the caller.
        let bits = unsafe { self.tag() }.0 & !PREV_FREE;
        // SAFETY: forwarded to the caller.
        unsafe { self.set_tag(Tag(bits | if prev_free { PREV_FREE } else { 0 }), None) }
    }

    /// Writes the footer of a free block of `size` bytes (its last word); the bytes inside
    /// `caller`'s span through the caller's pointer.
    ///
    /// # Safety
    /// The block must be a free block of `size` bytes inside a region.
    pub(super) unsafe fn write_footer(self, size: usize, caller: Option<CallerSpan>) {
        // SAFETY: the last word of the block lies inside it; it is word-aligned.
        unsafe { store(self.0.byte_add(size - WORD).cast::<usize>(), size, caller) }
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
    /// Dereferencing is valid while the block is free and inside a region, and not inside a
    /// caller's span (a listed block never is: the caller's block is allocated until the free
    /// lists it).
    pub(super) const fn links(self) -> *mut Links {
        self.payload().as_ptr().cast::<Links>()
    }

    /// Writes the free-list links of a block that is being listed; the bytes inside `caller`'s
    /// span through the caller's pointer.
    ///
    /// # Safety
    /// The block must be a free block inside a region.
    pub(super) unsafe fn write_links(self, links: Links, caller: Option<CallerSpan>) {
        // SAFETY: a free block's payload holds its links; payloads are 16-aligned.
        unsafe { store(self.payload().cast::<Links>(), links, caller) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stores a two-word value at every granule of a 64-byte area whose span (bytes 16..16+len)
    /// is reached through a separate, narrowed pointer, and checks that every byte landed.
    #[test]
    fn stores_land_whole_inside_outside_and_across_the_span() {
        #[repr(C, align(16))]
        struct Area([u8; 64]);
        for len in [0, 1, 7, 8, 9, 15, 16, 17, 24, 31, 32, 48] {
            let mut area = Area([0; 64]);
            let region = NonNull::from(&mut area).cast::<u8>();
            // SAFETY: the span's bytes lie inside `area`; only `caller` writes them below.
            let caller = unsafe {
                NonNull::from(core::slice::from_raw_parts_mut(
                    region.as_ptr().add(16),
                    len,
                ))
            };
            let span = CallerSpan::new(caller.cast(), len);
            for offset in (0..64).step_by(16) {
                let value = [offset + 1, usize::MAX - offset];
                // SAFETY: 16-aligned, inside `area`; the span starts on a granule.
                unsafe { store(region.byte_add(offset).cast(), value, Some(span)) };
            }
            let words = area.0.as_chunks::<WORD>().0;
            for (i, word) in words.iter().enumerate() {
                let offset = i / 2 * 16;
                let expected = if i % 2 == 0 {
                    offset + 1
                } else {
                    usize::MAX - offset
                };
                assert_eq!(usize::from_ne_bytes(*word), expected, "len {len}, word {i}");
            }
        }
    }
}
