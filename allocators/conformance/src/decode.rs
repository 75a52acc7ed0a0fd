//! Fuzzer bytes to operations: every 4 bytes make one [`Op`], so any input is a valid
//! sequence and the fuzzer's mutations (flip, insert, splice) map to nearby sequences.
//!
//! ```text
//!   byte 0: kind (low 3 bits) and size scale (top 2 bits)   byte 1-2: a 16-bit number n
//!   byte 3: alignment exponent (mod 13: 1 .. 4096)
//!
//!   kind 0-3 allocate, 4-5 free (pick = n), 6-7 reallocate (pick = n, size from byte 3 and n)
//!   scale 0: n % 64   1: n % 1024   2: n   3: n * 16 (up to 1 MiB: larger than every heap)
//! ```

use crate::Op;

/// The operations encoded by `bytes` (a trailing partial group is ignored). O(bytes).
#[must_use]
pub fn decode(bytes: &[u8]) -> Vec<Op> {
    bytes
        .chunks_exact(4)
        .map(|group| {
            let number = usize::from(u16::from_le_bytes([group[1], group[2]]));
            let size = scaled(group[0] >> 6, number);
            match group[0] & 7 {
                0..=3 => Op::Allocate {
                    size,
                    align: 1 << (group[3] % 13),
                },
                4 | 5 => Op::Free { pick: number },
                _ => Op::Reallocate {
                    pick: number,
                    new_size: scaled(group[0] >> 6, usize::from(group[3]) << 8 | number >> 8),
                },
            }
        })
        .collect()
}

/// A size from a 16-bit number and a 2-bit scale.
fn scaled(scale: u8, number: usize) -> usize {
    match scale {
        0 => number % 64,
        1 => number % 1024,
        2 => number,
        _ => number * 16,
    }
}
