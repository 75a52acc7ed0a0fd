//! # The conformance suite: every allocator, every form, one set of checks
//!
//! Built on the `bareheap-conformance` harness (adapters, shadow model, stress loop):
//!
//! ```text
//!   model        random alloc / free / realloc sequences (proptest), checked after each step,
//!                on every design (chunk, fixed, pools, free list, the default heap) in every
//!                form: raw checked, raw trusted, locked via GlobalAlloc, locked via Allocator
//!   exhaustion   allocate to failure, free half, allocate again
//!   bad_input    the catalogue of invalid frees, layouts and constructor arguments
//!   threads      4 threads on each locked form, contents checked (not on WebAssembly)
//!   provenance   blocks freed through narrowed pointers, reused through every layer
//! ```
//!
//! Sizes and case counts shrink under Miri (`cfg(miri)`), where the whole suite runs too.

mod bad_input;
mod exhaustion;
mod model;
mod provenance;
#[cfg(not(target_family = "wasm"))]
mod threads;

/// Sizes of the allocators under test: large enough to hold dozens of blocks of a few KiB
/// natively, and a handful under Miri, where every byte the harness fills and checks costs
/// thousands of interpreted instructions.
mod sizes {
    use bareheap_conformance::{Chunk, DefaultHeap, Design, Fixed, FreeList, Pools};

    /// The bytes each design manages in the tests.
    pub trait Sized: Design {
        /// Bytes of memory for a test allocator of this design.
        const BYTES: usize;
    }

    /// 16 KiB of 64-byte chunks (4 KiB under Miri).
    impl Sized for Chunk {
        const BYTES: usize = if cfg!(miri) { 4 * 1024 } else { 16 * 1024 };
    }

    /// The fixed pool's size is in its type.
    impl Sized for Fixed {
        const BYTES: usize = 0;
    }

    /// Room for every class's slab plus large blocks.
    impl Sized for Pools {
        const BYTES: usize = if cfg!(miri) { 160 * 1024 } else { 512 * 1024 };
    }

    /// The free list's arena.
    impl Sized for FreeList {
        const BYTES: usize = if cfg!(miri) { 16 * 1024 } else { 64 * 1024 };
    }

    /// Room for every class's slab plus large blocks, out of the free list.
    impl Sized for DefaultHeap {
        const BYTES: usize = if cfg!(miri) { 320 * 1024 } else { 1024 * 1024 };
    }

    /// A growing design ignores the size: it grows by what the heap asks for.
    impl<G: bareheap_conformance::Unbounded> Sized for bareheap_conformance::Growing<G> {
        const BYTES: usize = 64 * 1024;
    }
}
