//! `String` and `format!`: a buffer that grows by appending many small formatted pieces, each of
//! them a short-lived allocation of its own.

use alloc::format;
use alloc::string::String;

use super::Checks;

/// How many numbers the CSV line holds.
const NUMBERS: u32 = 10_000;

/// Runs the workload.
pub fn run(checks: &mut Checks) {
    let mut line = String::new();
    for number in 0..NUMBERS {
        if number > 0 {
            line.push(',');
        }
        line.push_str(&format!("{number}"));
    }
    let expected_len = (0..NUMBERS).map(decimal_digits).sum::<usize>() + NUMBERS as usize - 1;
    checks.expect(
        line.len() == expected_len,
        format_args!("CSV line of {NUMBERS} numbers is {expected_len} bytes"),
    );

    let parsed: Option<u64> = line.split(',').map(|field| field.parse::<u64>().ok()).sum();
    let expected_sum = u64::from(NUMBERS) * u64::from(NUMBERS - 1) / 2;
    checks.expect(
        parsed == Some(expected_sum),
        format_args!("parsed back, the fields sum to {expected_sum}"),
    );

    let shouted = format!("{}!", line.replace(',', " ").to_uppercase());
    checks.expect(
        shouted.len() == line.len() + 1 && shouted.split(' ').count() == NUMBERS as usize,
        format_args!("replace + to_uppercase + format! kept all {NUMBERS} words"),
    );
}

/// The number of decimal digits of `number`.
fn decimal_digits(number: u32) -> usize {
    number.checked_ilog10().map_or(1, |log| log as usize + 1)
}
