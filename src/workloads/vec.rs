//! `Vec`: growth by doubling, a long sum, and a shrink that must give memory back.
//!
//! Pushing one element at a time makes `Vec` reallocate each time its capacity doubles. The
//! allocator may grow the block in place (when the memory after it is free) or move it; the count
//! of each is printed, because in-place growth is one of the things a good allocator does.

use alloc::vec::Vec;

use super::Checks;

/// How many elements the workload pushes.
const ELEMENTS: u64 = 200_000;

/// Runs the workload.
pub fn run(checks: &mut Checks) {
    let mut numbers: Vec<u64> = Vec::new();
    let (mut grown, mut moved) = (0, 0);
    for value in 0..ELEMENTS {
        let (capacity, address) = (numbers.capacity(), numbers.as_ptr().addr());
        numbers.push(value);
        if numbers.capacity() != capacity {
            grown += 1;
            moved += u32::from(numbers.as_ptr().addr() != address && capacity != 0);
        }
    }
    checks.expect(
        numbers.len() as u64 == ELEMENTS,
        format_args!(
            "pushed {ELEMENTS} values one at a time ({grown} reallocations, {moved} moved the data)"
        ),
    );
    checks.expect(
        numbers.iter().sum::<u64>() == triangle(ELEMENTS),
        format_args!("sum of 0..{ELEMENTS} = {}", triangle(ELEMENTS)),
    );

    let kept = ELEMENTS / 4;
    numbers.truncate(kept as usize);
    numbers.shrink_to_fit();
    checks.expect(
        numbers.capacity() == numbers.len() && numbers.iter().sum::<u64>() == triangle(kept),
        format_args!(
            "shrink_to_fit kept {kept} values, sum still {}",
            triangle(kept)
        ),
    );

    let doubled: Vec<u64> = numbers.iter().map(|value| value * 2).collect();
    checks.expect(
        doubled.iter().sum::<u64>() == 2 * triangle(kept),
        format_args!("collect() into a second Vec: sum {}", 2 * triangle(kept)),
    );
}

/// 0 + 1 + ... + (n - 1).
fn triangle(n: u64) -> u64 {
    n * (n - 1) / 2
}
