//! Fragmentation: punch holes in the heap, then ask for blocks that do and do not fit them.
//!
//! ```text
//!   1. fill:   [s|LARGE|s|LARGE|s|LARGE|s|LARGE| ...]       400 pairs, 48 B + 12 KiB
//!   2. punch:  [s|     |s|     |s|     |s|     | ...]       every 12 KiB block freed
//!   3. ask:    8 KiB blocks (fit a hole) and 20 KiB blocks (fit none)
//! ```
//!
//! The small blocks pin the holes apart, so no merging can make a hole bigger than 12 KiB. A
//! good allocator puts the 8 KiB requests into the holes and the 20 KiB ones after them; the
//! pictures show where each design put them.

use alloc::vec::Vec;

use super::Checks;
use crate::heap::AllocatorChoice;
use crate::println;

/// Small and large blocks allocated in turn.
const PAIRS: usize = 400;
/// The small blocks that pin the holes.
const SMALL: usize = 48;
/// The blocks whose frees make the holes.
const LARGE: usize = 12 * 1024;
/// Requests that fit a hole.
const FITTING: usize = 8 * 1024;
/// Requests that fit no hole.
const TOO_BIG: usize = 20 * 1024;
/// How many requests of each kind after the holes are punched.
const REQUESTS: usize = 100;

/// Runs the workload.
pub fn run(checks: &mut Checks) {
    let mut small = Vec::with_capacity(PAIRS);
    let mut large = Vec::with_capacity(PAIRS);
    for id in 0..PAIRS {
        small.push(patterned(id, SMALL));
        large.push(patterned(PAIRS + id, LARGE));
    }
    let holes = address_ranges(&large);
    drop(large);
    println!(
        "   after freeing every {} block, {PAIRS} holes:",
        Kib(LARGE)
    );
    println!("{}", AllocatorChoice::active().picture());

    let mut fitting = Vec::with_capacity(REQUESTS);
    let mut too_big = Vec::with_capacity(REQUESTS);
    for id in 0..REQUESTS {
        fitting.push(patterned(2 * PAIRS + id, FITTING));
        too_big.push(patterned(3 * PAIRS + id, TOO_BIG));
    }
    println!(
        "   after {REQUESTS} requests each of {} and {}:",
        Kib(FITTING),
        Kib(TOO_BIG)
    );
    println!("{}", AllocatorChoice::active().picture());
    if let Some(run) = AllocatorChoice::active().stats().largest_free_run() {
        println!("   largest free run now: {run} chunks");
    }

    let in_holes = fitting
        .iter()
        .filter(|block| in_a_hole(&holes, block))
        .count();
    checks.expect(
        intact(&small, 0) && intact(&fitting, 2 * PAIRS) && intact(&too_big, 3 * PAIRS),
        format_args!(
            "blocks intact; {in_holes} of {REQUESTS} {} blocks landed among the holes",
            Kib(FITTING)
        ),
    );
}

/// A block of `len` bytes filled with a pattern derived from `id`.
fn patterned(id: usize, len: usize) -> Vec<u8> {
    (0..len).map(|offset| pattern(id, offset)).collect()
}

fn pattern(id: usize, offset: usize) -> u8 {
    (id.wrapping_mul(131) ^ offset.wrapping_mul(7)) as u8
}

/// Whether every block still holds its pattern (block `i` has id `first_id + i`).
fn intact(blocks: &[Vec<u8>], first_id: usize) -> bool {
    blocks.iter().enumerate().all(|(index, block)| {
        block
            .iter()
            .enumerate()
            .all(|(offset, &byte)| byte == pattern(first_id + index, offset))
    })
}

/// The address ranges of `blocks`, sorted: where the holes are once they are freed. On the
/// stack, not the heap: an allocation here would change the pictures it is compared with.
fn address_ranges(blocks: &[Vec<u8>]) -> [core::ops::Range<usize>; PAIRS] {
    let mut ranges = [const { 0..0 }; PAIRS];
    for (range, block) in ranges.iter_mut().zip(blocks) {
        *range = block.as_ptr().addr()..block.as_ptr().addr() + block.len();
    }
    ranges.sort_unstable_by_key(|range| range.start);
    ranges
}

/// Whether `block` reuses memory of one of the sorted, disjoint `holes` (overlaps it: a hole
/// the allocator merged with its free neighbours may hold a block that straddles two of the
/// old blocks). O(log holes).
fn in_a_hole(holes: &[core::ops::Range<usize>], block: &[u8]) -> bool {
    let (start, end) = (block.as_ptr().addr(), block.as_ptr().addr() + block.len());
    let before_end = holes.partition_point(|hole| hole.start < end);
    before_end > 0 && holes[before_end - 1].end > start
}

/// A size in whole KiB, for the messages.
struct Kib(usize);

impl core::fmt::Display for Kib {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} KiB", self.0 / 1024)
    }
}
