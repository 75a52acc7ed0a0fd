//! Ordinary std code for a test binary whose `#[global_allocator]` is a bareheap allocator:
//! collections, strings, formatting and threads, each checked, so that a wrong block shows up
//! as a wrong answer rather than only as a crash.
//!
//! ```text
//!   Vec (growing, sorting) ─ String (formatting, concatenation) ─ BTreeMap / HashMap
//!   ─ Box<dyn Fn> ─ threads, each building its own collections, joined and summed
//! ```

use std::collections::{BTreeMap, HashMap};

/// Runs the workload `rounds` times over collections of up to `items` elements, then once on
/// each of `threads` threads; panics if any result is wrong. O((rounds + threads) * items * log
/// items).
pub fn std_workload(rounds: usize, items: usize, threads: usize) {
    for round in 0..rounds {
        let sum = collections(round, items);
        assert_eq!(sum, expected_sum(round, items));
        strings(round, items);
    }
    let handles: Vec<_> = (0..threads)
        .map(|thread| std::thread::spawn(move || collections(thread, items)))
        .collect();
    for (thread, handle) in handles.into_iter().enumerate() {
        assert_eq!(
            handle.join().expect("a worker"),
            expected_sum(thread, items)
        );
    }
}

/// Builds and queries a vector and two maps; returns the sum of the values.
fn collections(seed: usize, items: usize) -> usize {
    let mut values: Vec<usize> = (0..items).map(|i| (i * 7919 + seed) % items).collect();
    values.sort_unstable();
    values.dedup();
    let ordered: BTreeMap<usize, String> = values.iter().map(|&v| (v, v.to_string())).collect();
    let hashed: HashMap<String, usize> = ordered.iter().map(|(&k, v)| (v.clone(), k)).collect();
    let boxed: Box<dyn Fn(usize) -> usize> = Box::new(move |v| v + seed);
    ordered
        .values()
        .map(|text| boxed(hashed[text]) - seed)
        .sum()
}

/// The sum `collections` must return: all values modulo `items` appear once when `items` is
/// not a multiple of 7919.
fn expected_sum(_seed: usize, items: usize) -> usize {
    items * items.saturating_sub(1) / 2
}

/// Formatting and concatenation, checked.
fn strings(round: usize, items: usize) {
    let words: Vec<String> = (0..items).map(|i| format!("w{round}-{i}")).collect();
    let joined = words.join(",");
    assert_eq!(joined.split(',').count(), items.max(1));
    assert!(joined.starts_with(&format!("w{round}-0")) || items == 0);
}
