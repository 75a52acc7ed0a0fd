//! Test-only: which bytes of a block the model tests of the chunk allocator and the pools fill
//! with a pattern and check later.
//!
//! Natively every byte. Under Miri each byte written or read costs thousands of interpreted
//! steps, and a model test that checks every live block after every operation spent most of
//! its time there. So there the pattern covers the first and the last 64 bytes of a block, and
//! every 32nd byte between: the ends, where a neighbour's overlap, a short copy or a pointer
//! narrowed below the block's length shows, and a sample of the middle.

/// Bytes at each end of a block that carry the pattern under Miri.
const MIRI_EDGE: usize = 64;

/// The stride of the patterned bytes between the two ends, under Miri.
const MIRI_STRIDE: usize = 32;

/// The offsets below `len` that carry the pattern of a block filled for `filled` bytes, in
/// increasing order: `pattern_offsets(n, n)` for the fill, `pattern_offsets(old, kept)` for
/// the check after a resize that kept the first `kept` bytes of an `old`-byte block. O(len)
/// natively, O(128 + len / 32) under Miri.
pub(crate) fn pattern_offsets(filled: usize, len: usize) -> impl Iterator<Item = usize> {
    let len = len.min(filled);
    let (head_end, tail_start, stride) = if cfg!(miri) {
        let head_end = filled.min(MIRI_EDGE);
        (
            head_end,
            filled.saturating_sub(MIRI_EDGE).max(head_end),
            MIRI_STRIDE,
        )
    } else {
        (filled, filled, 1)
    };
    (0..head_end.min(len))
        .chain((head_end..tail_start.min(len)).step_by(stride))
        .chain(tail_start..len)
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// For every fill length and every kept length: the offsets rise, lie below both, are
    /// exactly those of the whole fill below the kept length, and hold the ends of the fill
    /// (under Miri) or every byte (natively).
    #[test]
    fn offsets_rise_hold_both_ends_and_a_check_reads_only_filled_bytes() {
        // Under Miri, where a loop over every length took 30 s, the lengths around the ends'
        // edges and the first strides.
        let lengths: Vec<usize> = if cfg!(miri) {
            vec![0, 1, 63, 64, 65, 127, 128, 129, 161, 300]
        } else {
            (0..=300).collect()
        };
        for &filled in &lengths {
            let whole: Vec<usize> = pattern_offsets(filled, filled).collect();
            assert!(whole.windows(2).all(|pair| pair[0] < pair[1]), "{filled}");
            let edge = filled.min(MIRI_EDGE);
            assert!(
                whole.iter().copied().take(edge).eq(0..edge),
                "head of {filled}"
            );
            let tail = filled - edge..filled;
            assert!(
                whole.ends_with(&tail.collect::<Vec<_>>()),
                "tail of {filled}"
            );
            if !cfg!(miri) {
                assert_eq!(whole.len(), filled, "every byte natively");
            }
            for &len in &lengths {
                let kept = pattern_offsets(filled, len);
                let expected = whole.iter().copied().take_while(|&offset| offset < len);
                assert!(kept.eq(expected), "{filled} bytes filled, {len} kept");
            }
        }
    }
}
