//! Reallocation: 64 buffers resized at random, growing and shrinking, their contents checked
//! after every resize.
//!
//! `Vec` grows by calling `realloc`, and `shrink_to_fit` shrinks with it too. An allocator can
//! answer in place (the same address: the block grew into free space after it, or gave its
//! tail back) or by moving (allocate, copy, free). The counts of each are printed: in-place
//! answers are what make `realloc` cheap.

use alloc::vec::Vec;

use super::Checks;
use crate::rng::Rng;

/// Buffers resized in turn.
const BUFFERS: usize = 64;
/// Resizes in all.
const STEPS: usize = 10_000;
/// The largest size a buffer takes.
const MAX_LEN: usize = 4096;

/// Runs the workload.
pub fn run(checks: &mut Checks) {
    let mut rng = Rng::new(0x5EED_0F2E_A110_C000);
    let mut buffers: Vec<Vec<u8>> = (0..BUFFERS).map(|id| filled(id, 16)).collect();
    let (mut in_place, mut moved, mut damaged) = (0, 0, 0);
    for _ in 0..STEPS {
        let id = rng.below(0..BUFFERS);
        let new_len = rng.below(1..MAX_LEN + 1);
        let buffer = &mut buffers[id];
        let (address, capacity) = (buffer.as_ptr().addr(), buffer.capacity());
        resize(buffer, id, new_len);
        if buffer.capacity() != capacity {
            if buffer.as_ptr().addr() == address {
                in_place += 1;
            } else {
                moved += 1;
            }
        }
        damaged += usize::from(!holds_pattern(buffer, id));
    }
    checks.expect(
        damaged == 0,
        format_args!(
            "{STEPS} resizes kept every byte ({in_place} reallocations in place, {moved} moved)"
        ),
    );
}

/// Grows `buffer` with its pattern, or shrinks it and gives the spare capacity back.
fn resize(buffer: &mut Vec<u8>, id: usize, new_len: usize) {
    if new_len > buffer.len() {
        let old_len = buffer.len();
        buffer.extend((old_len..new_len).map(|offset| pattern(id, offset)));
    } else {
        buffer.truncate(new_len);
        buffer.shrink_to_fit();
    }
}

fn filled(id: usize, len: usize) -> Vec<u8> {
    (0..len).map(|offset| pattern(id, offset)).collect()
}

fn holds_pattern(buffer: &[u8], id: usize) -> bool {
    buffer
        .iter()
        .enumerate()
        .all(|(offset, &byte)| byte == pattern(id, offset))
}

fn pattern(id: usize, offset: usize) -> u8 {
    (id.wrapping_mul(251) ^ offset.wrapping_mul(13)) as u8
}
