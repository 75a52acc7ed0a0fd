//! # The conformance suite: every allocator, every form, one set of checks
//!
//! Built on the `bareheap-conformance` harness (adapters, shadow model, stress loop):
//!
//! ```text
//!   model        random alloc / free / realloc sequences (proptest), checked after each step,
//!                on 12 subjects: 4 raw forms, 4 locked forms via GlobalAlloc, 4 via Allocator
//!   exhaustion   allocate to failure, free half, allocate again
//!   bad_input    the catalogue of invalid frees, layouts and constructor arguments
//!   threads      4 threads on each locked form, contents checked
//! ```
//!
//! Sizes and case counts shrink under Miri (`cfg(miri)`), where the whole suite runs too.

mod bad_input;
mod exhaustion;
mod model;
mod threads;

/// Sizes of the allocators under test: small enough for Miri, large enough to hold dozens
/// of blocks of a few KiB.
mod sizes {
    /// Chunks of the chunk allocators (64 bytes each): 16 KiB.
    pub const CHUNKS: usize = 256;
    /// Bytes of the pools' fallback heap: room for every class's slab plus large blocks.
    pub const POOLS_FALLBACK: usize = 512 * 1024;
    /// Bytes of the free list's arena.
    pub const FREE_LIST: usize = 64 * 1024;
}
