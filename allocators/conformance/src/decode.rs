//! Fuzzer bytes to operations: every 4 bytes make one [`Op`], so any input is a valid
//! sequence and the fuzzer's mutations (flip, insert, splice) map to nearby sequences.
//!
//! ```text
//!   byte 0: kind (low 3 bits) and size scale (top 2 bits)   byte 1-2: a 16-bit number n
//!   byte 3: alignment exponent (mod 13: 1 .. 4096)
//!
//!   kind 0-2 allocate, 3-4 free (pick = n), 5-6 reallocate (pick = n, size from byte 3 and n,
//!   alignment from byte 3's top bits: 1 .. 128), 7 a checked free with a layout of any size
//!   and alignment (byte 3 odd), of a pointer inside the block (byte 3 ≡ 2 mod 4), or fresh
//!   memory handed over at run time (byte 3 ≡ 0 mod 4: size bytes)
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
                0..=2 => Op::Allocate {
                    size,
                    align: 1 << (group[3] % 13),
                },
                3 | 4 => Op::Free { pick: number },
                7 if group[3] & 1 == 1 => Op::FreeWith {
                    pick: number,
                    size: scaled(group[0] >> 6, usize::from(group[3]) << 8 | number >> 8),
                    align: 1 << ((group[3] >> 1) % 13),
                },
                7 if group[3] & 2 == 2 => Op::FreeInterior {
                    pick: number,
                    offset: usize::from(group[3]),
                },
                7 => Op::Claim { size },
                _ => Op::Reallocate {
                    pick: number,
                    new_size: scaled(group[0] >> 6, usize::from(group[3]) << 8 | number >> 8),
                    new_align: 1 << (group[3] >> 5),
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
