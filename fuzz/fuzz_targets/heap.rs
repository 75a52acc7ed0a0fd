//! Fuzzes the heap design through its checked raw API: the input bytes become an
//! operation sequence (`bareheap_conformance::decode`), run against the shadow model, which
//! checks every step and, at the end, that freeing everything leaks nothing.
#![no_main]

use bareheap_conformance::{Checked, DefaultHeap, Harness, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut harness = Harness::new(Checked::<DefaultHeap>::new(1024 * 1024));
    harness.run(&decode(bytes));
    harness.finish();
});
