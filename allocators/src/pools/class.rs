//! Size classes: which power-of-two block size serves a layout.
//!
//! ```text
//!   class index:   0    1    2     3     4     5     6     7
//!   block size:   16   32   64   128   256   512  1024  2048   bytes
//!
//!   class size of a layout = max(next_pow2(size), align, 16), if <= 2048; else no class
//! ```
//!
//! A block of the class size, placed at a multiple of the class size, holds the layout and
//! satisfies its alignment, whatever the combination (zero size, align > size). The mapping is
//! a pure function of the layout, which is what lets a free find its pool: `dealloc` receives
//! the same layout as `alloc` did. O(1): a few bit operations.

use core::alloc::Layout;

/// The smallest block size, a floor for the classes (and for the alignment of every block).
pub const MIN_BLOCK_SIZE: usize = 16;
/// The largest block size served by a pool; larger or more aligned requests go to the
/// fallback allocator.
pub const MAX_BLOCK_SIZE: usize = 2048;
/// The number of size classes, one per power of two from [`MIN_BLOCK_SIZE`] to
/// [`MAX_BLOCK_SIZE`].
pub const CLASS_COUNT: usize = 8;

/// The index of the class that serves `layout`, or `None` when the fallback must. O(1), and
/// branch-free but for the last comparison: see [`class_index`].
#[inline(always)]
pub(crate) const fn class_of(layout: Layout) -> Option<usize> {
    let class = class_index(class_bits(layout));
    if class < CLASS_COUNT {
        Some(class)
    } else {
        None
    }
}

/// `(size - 1) | (align - 1)` of `layout` (0 for a zero size): the bits that decide its class.
/// The class's block is the smallest power of two above them (and at least 16), and a layout
/// is served by a class whose block size is at most `b` exactly when these bits are below `b`.
#[inline(always)]
pub(crate) const fn class_bits(layout: Layout) -> usize {
    layout.size().saturating_sub(1) | (layout.align() - 1)
}

/// The class of a layout with class bits `bits` (see [`class_bits`]), [`CLASS_COUNT`] or more
/// when no class is large enough: the class block is the smallest power of two that is at
/// least the size, the alignment and 16, and `log2` of it is one more than the highest bit set
/// in `bits | 15` (the alignment is a power of two, so `align - 1` is all ones below it). O(1).
#[inline(always)]
pub(crate) const fn class_index(bits: usize) -> usize {
    ((bits | (MIN_BLOCK_SIZE - 1)).ilog2() + 1 - MIN_BLOCK_SIZE.trailing_zeros()) as usize
}

/// The block size of class `index`. O(1).
pub(crate) const fn block_size(index: usize) -> usize {
    MIN_BLOCK_SIZE << index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn sizes_round_up_to_the_next_power_of_two_from_sixteen() {
        assert_eq!(class_of(layout(0, 1)), Some(0));
        assert_eq!(class_of(layout(16, 8)), Some(0));
        assert_eq!(class_of(layout(17, 1)), Some(1));
        assert_eq!(class_of(layout(1000, 8)), Some(6));
        assert_eq!(class_of(layout(2048, 8)), Some(7));
        assert_eq!(class_of(layout(2049, 8)), None);
    }

    #[test]
    fn alignment_above_the_size_picks_the_class_of_the_alignment() {
        assert_eq!(class_of(layout(1, 64)), Some(2));
        assert_eq!(class_of(layout(0, 2048)), Some(7));
        assert_eq!(class_of(layout(0, 4096)), None);
    }

    /// The bit trick agrees with the definition: the smallest power of two that is at least
    /// the size, the alignment and 16, if at most 2 KiB.
    #[test]
    fn class_of_is_the_next_power_of_two_of_size_and_alignment() {
        for size in (0..=4200).step_by(if cfg!(miri) { 61 } else { 1 }) {
            for align in [1, 2, 4, 8, 16, 32, 64, 512, 2048, 4096] {
                let needed = size.max(align).max(MIN_BLOCK_SIZE).next_power_of_two();
                let expected = (needed <= MAX_BLOCK_SIZE)
                    .then(|| (needed.trailing_zeros() - MIN_BLOCK_SIZE.trailing_zeros()) as usize);
                assert_eq!(class_of(layout(size, align)), expected, "{size} {align}");
            }
        }
    }

    #[test]
    fn every_class_block_holds_and_aligns_its_layouts() {
        for size in [0, 1, 15, 16, 33, 500, 2048] {
            for align in [1, 2, 16, 256, 2048] {
                if let Some(class) = class_of(layout(size, align)) {
                    assert!(block_size(class) >= size && block_size(class).is_multiple_of(align));
                    assert!(class < CLASS_COUNT);
                }
            }
        }
    }
}
