//! # One conformance harness for every bareheap allocator
//!
//! Every allocator implements `bareheap::RawAllocator`, so one set of generic forms drives them
//! all (the raw API checked or trusted, the locked form through `GlobalAlloc` or `Allocator`);
//! a small [`Design`] per allocator says only what differs: how to build it over fresh memory,
//! and what its counters mean. A [`Harness`] drives a [`Subject`] with a sequence of [`Op`]s and
//! keeps a shadow model of what must be true after each step:
//!
//! ```text
//!   Op (from proptest or fuzzer bytes)
//!     │
//!     ▼
//!   Harness ──allocate/free/realloc──► Subject (a form of a Design) ──► allocator under test
//!     │                                     │
//!     └── shadow model: live blocks by address, their layouts and ids
//!            checks after every step: no overlap, aligned, inside the allocator's memory,
//!            contents (a pattern derived from the block's id) intact before a free or a move,
//!            realloc keeps the prefix, statistics equal what the model predicts
//! ```
//!
//! Why a crate and not a `#[path]`-included module: the fuzz targets (their own cargo
//! workspace) and the integration tests both need the designs and the model; as a library its
//! public items are not dead code in a binary that uses only one design, and the fuzz project
//! depends on it by path like on `bareheap` itself.
//!
//! Modules: `arena` (owned, aligned memory for the allocators), `subject` (the traits and the
//! common statistics), `designs` (one per allocator), `forms` (the generic subjects), `model`
//! (operations, the harness), `decode` (fuzzer bytes to operations), `stress` (several threads
//! on one locked allocator), `workload` (std code for the `#[global_allocator]` test binaries).

mod arena;
mod decode;
mod designs;
mod forms;
mod model;
mod stress;
mod subject;
mod workload;

pub use arena::Arena;
pub use decode::decode;
#[cfg(all(target_os = "linux", not(miri)))]
pub use designs::FreeListMmap;
#[cfg(target_arch = "wasm32")]
pub use designs::FreeListWasm;
pub use designs::{
    CHUNK_SIZE, Chunk, DefaultHeap, FIXED_BLOCK, FIXED_BLOCKS, Fixed, FreeList, Growing, Pools,
    Unbounded,
};
pub use forms::{
    Checked, CheckedApi, Holder, Raw, Shared, Trusted, TrustedApi, ViaAllocatorApi, ViaGlobalAlloc,
};
pub use model::{Harness, Op, pattern_byte};
pub use stress::{StressReport, hammer};
pub use subject::{Accounting, Design, Inspect, Subject};
pub use workload::std_workload;
