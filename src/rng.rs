//! A small, fixed-seed pseudo-random generator (xorshift64*), so that every run of a workload
//! or benchmark makes exactly the same requests and runs can be compared.

/// xorshift64*: 64 bits of state, good enough statistics for choosing sizes and victims.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed` (zero is replaced: xorshift would stay at zero).
    pub const fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `range` (start inclusive, end exclusive; the range must not be empty).
    pub fn below(&mut self, range: core::ops::Range<usize>) -> usize {
        let span = (range.end - range.start) as u64;
        range.start + (self.next_u64() % span) as usize
    }
}
