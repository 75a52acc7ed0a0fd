//! Content checks: every live block carries a pattern derived from its id, written when it is
//! allocated and checked before it is freed and after it is reallocated.
//!
//! ```text
//!   Ends (timed runs):   [id-word ............................. id-word]
//!   Full (check runs):   [b0 b1 b2 b3 ...  every byte = f(id, offset) ...]
//! ```
//!
//! Timed runs mark only the first and last eight bytes, so the harness cost stays small and
//! equal for every subject; a separate, untimed run of the same operations fills and checks
//! every byte. A subject fails when a pattern is damaged, a block is misaligned, a block lies
//! outside the arena, or a free is refused.

use std::alloc::Layout;
use std::ptr::NonNull;

use crate::arena::Arena;

/// How much of each block the harness writes and checks.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Fill {
    /// The first and last eight bytes (or the whole block when smaller).
    Ends,
    /// Every byte.
    Full,
}

/// A live block as the harness tracks it.
#[derive(Clone, Copy, Debug)]
pub struct Block {
    /// Where it starts.
    pub ptr: NonNull<u8>,
    /// What it was allocated with.
    pub layout: Layout,
    /// Its identity, the seed of its pattern.
    pub id: u64,
}

/// The pattern word of block `id`.
const fn word(id: u64) -> u64 {
    id.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1
}

/// The pattern byte at `offset` of block `id`: its first eight bytes are `word(id)` in
/// little-endian order, so a head written as a word reads back as bytes.
const fn byte(id: u64, offset: usize) -> u8 {
    (word(id) >> ((offset % 8) * 8)) as u8 ^ (offset / 8) as u8
}

/// Writes block `b`'s pattern over its first `len` bytes.
pub fn mark(b: &Block, len: usize, fill: Fill) {
    if fill == Fill::Ends && len >= 16 {
        // SAFETY: `len <= b.layout.size()`: both words lie inside the live block.
        unsafe {
            b.ptr.cast::<u64>().write_unaligned(word(b.id));
            b.ptr
                .add(len - 8)
                .cast::<u64>()
                .write_unaligned(!word(b.id));
        }
        return;
    }
    for offset in 0..len {
        // SAFETY: `offset < len <= b.layout.size()`, inside the live block.
        unsafe { b.ptr.add(offset).write(byte(b.id, offset)) };
    }
}

/// Whether block `b`'s first `len` bytes still hold its pattern (as `mark` wrote it with the
/// same `len` and `fill`).
pub fn intact(b: &Block, len: usize, fill: Fill) -> bool {
    if fill == Fill::Ends && len >= 16 {
        // SAFETY: as in `mark`.
        return unsafe {
            b.ptr.cast::<u64>().read_unaligned() == word(b.id)
                && b.ptr.add(len - 8).cast::<u64>().read_unaligned() == !word(b.id)
        };
    }
    (0..len).all(|offset| {
        // SAFETY: as in `mark`.
        unsafe { b.ptr.add(offset).read() == byte(b.id, offset) }
    })
}

/// Whether the first `len` bytes of block `b` (marked with `Full`, or with `Ends` when
/// `len <= 8`) are intact: the prefix a reallocation keeps.
pub fn head_intact(b: &Block, len: usize) -> bool {
    (0..len).all(|offset| {
        // SAFETY: as in `mark`.
        unsafe { b.ptr.add(offset).read() == byte(b.id, offset) }
    })
}

/// Checks a fresh block's placement: aligned, and inside the arena when `arena` is given.
pub fn placed(ptr: NonNull<u8>, layout: Layout, arena: Option<&Arena>) -> Result<(), String> {
    if !ptr.addr().get().is_multiple_of(layout.align()) {
        return Err(format!("block {ptr:p} misaligned for {layout:?}"));
    }
    if arena.is_some_and(|a| !a.holds(ptr, layout.size())) {
        return Err(format!("block {ptr:p} ({layout:?}) outside the arena"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Block, Fill, intact, mark};
    use std::alloc::Layout;
    use std::ptr::NonNull;

    #[test]
    fn patterns_detect_damage_where_they_look() {
        let mut buf = [0u8; 64];
        let b = Block {
            ptr: NonNull::from(&mut buf).cast(),
            layout: Layout::new::<[u8; 64]>(),
            id: 3,
        };
        mark(&b, 64, Fill::Full);
        assert!(intact(&b, 64, Fill::Full));
        let flip = |offset: usize| {
            // SAFETY: `offset < 64`, inside `buf`, written only through `b.ptr` meanwhile.
            unsafe { b.ptr.add(offset).write(b.ptr.add(offset).read() ^ 1) };
        };
        flip(30);
        assert!(!intact(&b, 64, Fill::Full));
        mark(&b, 64, Fill::Ends);
        flip(30);
        assert!(
            intact(&b, 64, Fill::Ends),
            "the ends check skips the middle"
        );
        flip(63);
        assert!(!intact(&b, 64, Fill::Ends));
    }
}
