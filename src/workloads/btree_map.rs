//! `BTreeMap<u32, String>`: thousands of small allocations of two kinds (tree nodes and string
//! buffers), inserted, looked up and removed in an order unrelated to their addresses.

use alloc::collections::BTreeMap;
use alloc::format;

use super::Checks;

/// How many keys the map holds at its fullest.
const KEYS: u32 = 20_000;
/// A stride coprime with `KEYS`, so `i * STRIDE % KEYS` visits every key once, out of order.
const STRIDE: u32 = 7_919;

/// Runs the workload.
pub fn run(checks: &mut Checks) {
    let mut map = BTreeMap::new();
    for i in 0..KEYS {
        let key = i * STRIDE % KEYS;
        map.insert(key, format!("value-{key}"));
    }
    checks.expect(
        map.len() == KEYS as usize,
        format_args!("inserted {KEYS} keys in scrambled order"),
    );

    let found = (0..KEYS)
        .filter(|key| map.get(key).and_then(|value| value_key(value)) == Some(*key))
        .count();
    checks.expect(
        found == KEYS as usize,
        format_args!("every key found with its own value ({found} of {KEYS})"),
    );
    let absent = (KEYS..2 * KEYS).filter(|key| map.contains_key(key)).count();
    checks.expect(absent == 0, format_args!("no key outside 0..{KEYS} found"));

    let removed = (0..KEYS)
        .step_by(3)
        .filter(|key| map.remove(key).and_then(|value| value_key(&value)) == Some(*key))
        .count();
    let expected_left = KEYS as usize - removed;
    checks.expect(
        removed == KEYS.div_ceil(3) as usize && map.len() == expected_left,
        format_args!("removed every third key ({removed}), {expected_left} left"),
    );
    checks.expect(
        map.keys().zip(map.keys().skip(1)).all(|(a, b)| a < b)
            && map.keys().all(|key| key % 3 != 0),
        format_args!("iteration is sorted and holds no removed key"),
    );
}

/// The key a value was made from (`"value-42"` -> 42).
fn value_key(value: &str) -> Option<u32> {
    value.strip_prefix("value-")?.parse().ok()
}
