//! Fuzzes the raw chunk allocator: the input bytes become an operation sequence
//! (`bareheap_conformance::decode`), run against the shadow model, which checks every step
//! and, at the end, that freeing everything leaks nothing.
#![no_main]

use bareheap_conformance::{Harness, RawChunk, decode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let mut harness = Harness::new(RawChunk::new(256));
    harness.run(&decode(bytes));
    harness.finish();
});
