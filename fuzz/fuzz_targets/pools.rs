//! Fuzzes the pools design through its checked raw API: the input bytes become an
//! operation sequence (`bareheap_conformance::decode`), run against the shadow model, which
//! checks every step and, at the end, that freeing everything leaks nothing.
#![no_main]

use bareheap_conformance::{Checked, Pools, Harness, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut harness = Harness::new(Checked::<Pools>::new(512 * 1024));
    harness.run(&decode(bytes));
    harness.finish();
});
