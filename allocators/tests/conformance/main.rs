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

/// Sizes of the allocators under test: large enough to hold dozens of blocks of a few KiB
/// natively, and a handful under Miri, where every byte the harness fills and checks costs
/// thousands of interpreted instructions.
mod sizes {
    /// Chunks of the chunk allocators (64 bytes each): 16 KiB (4 KiB under Miri).
    pub const CHUNKS: usize = if cfg!(miri) { 64 } else { 256 };
    /// Bytes of the pools' fallback heap: room for every class's slab plus large blocks.
    pub const POOLS_FALLBACK: usize = if cfg!(miri) { 160 * 1024 } else { 512 * 1024 };
    /// Bytes of the free list's arena.
    pub const FREE_LIST: usize = if cfg!(miri) { 16 * 1024 } else { 64 * 1024 };
}
