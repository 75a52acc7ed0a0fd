//! Test-only: which bytes of a block the unit tests fill with a pattern and check later.
//!
//! Natively every byte. Under Miri each byte written or read costs thousands of interpreted
//! steps, and a model test that checks every live block after every operation spent most of
//! its time there, so only the first 64 bytes and every 32nd after them carry the pattern:
//! still every tag, link or footer an allocator could wrongly write near a block's start, and
//! a sample of the rest that shows a short or misplaced copy.

/// Bytes at the start of a block that always carry the pattern.
const DENSE_HEAD: usize = 64;

/// The stride of the patterned bytes after the head, under Miri.
const MIRI_STRIDE: usize = 32;

/// The offsets of a `len`-byte block that carry its pattern, in increasing order. The offsets
/// for a shorter length are a prefix of those for a longer one, so a block filled for one
/// length can be checked for any smaller one (after a resize). O(len) natively, O(64 +
/// len / 32) under Miri.
pub(crate) fn pattern_offsets(len: usize) -> impl Iterator<Item = usize> {
    let (dense, stride) = if cfg!(miri) {
        (len.min(DENSE_HEAD), MIRI_STRIDE)
    } else {
        (len, 1)
    };
    (0..dense).chain((dense..len).step_by(stride))
}

#[cfg(test)]
mod tests {
    use std::vec;
    use std::vec::Vec;

    use super::*;

    /// Offsets rise, stay inside the block and start with the dense head; natively they are
    /// every byte; those for a shorter length are exactly those for a longer one below it.
    #[test]
    fn offsets_rise_inside_the_block_and_a_shorter_block_gets_a_prefix() {
        let longest: Vec<usize> = pattern_offsets(300).collect();
        // Under Miri, where this loop over every length took 30 s, the lengths around the
        // head's end and the first strides.
        let lengths: Vec<usize> = if cfg!(miri) {
            vec![0, 1, 63, 64, 65, 95, 96, 97, 128, 129, 300]
        } else {
            (0..=300).collect()
        };
        for len in lengths {
            let offsets: Vec<usize> = pattern_offsets(len).collect();
            assert!(offsets.windows(2).all(|pair| pair[0] < pair[1]), "{len}");
            assert!(offsets.iter().all(|&offset| offset < len), "{len}");
            let head = len.min(DENSE_HEAD);
            assert!(offsets.iter().copied().take(head).eq(0..head), "{len}");
            assert!(
                longest
                    .iter()
                    .copied()
                    .take_while(|&o| o < len)
                    .eq(offsets.iter().copied()),
                "the offsets for {len} bytes are those for 300 below {len}"
            );
            if !cfg!(miri) {
                assert_eq!(offsets.len(), len, "every byte natively");
            }
        }
    }
}
