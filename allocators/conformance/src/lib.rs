//! # One conformance harness for every bareheap allocator
//!
//! Each allocator form (raw and locked) plugs into one [`Subject`] trait through a small
//! adapter that owns the allocator and the memory it manages. A [`Harness`] drives a subject
//! with a sequence of [`Op`]s and keeps a shadow model of what must be true after each step:
//!
//! ```text
//!   Op (from proptest or fuzzer bytes)
//!     │
//!     ▼
//!   Harness ──allocate/free/realloc──► Subject (adapter) ──► allocator under test
//!     │                                     │
//!     └── shadow model: live blocks by address, their layouts and ids
//!            checks after every step: no overlap, aligned, inside the allocator's memory,
//!            contents (a pattern derived from the block's id) intact before a free or a move,
//!            realloc keeps the prefix, statistics equal what the model predicts
//! ```
//!
//! Why a crate and not a `#[path]`-included module: the fuzz targets (their own cargo
//! workspace) and the integration tests both need the adapters and the model; as a library its
//! public items are not dead code in a binary that uses only one adapter, and the fuzz project
//! depends on it by path like on `bareheap` itself.
//!
//! Modules: `arena` (owned, aligned memory for the allocators), `subject` (the trait and the
//! common statistics), `adapters` (one per allocator form), `model` (operations, the harness),
//! `decode` (fuzzer bytes to operations), `stress` (several threads on one locked allocator),
//! `workload` (std code for the `#[global_allocator]` test binaries).

mod adapters;
mod arena;
mod decode;
mod model;
mod stress;
mod subject;
mod workload;

pub use adapters::{
    CHUNK_SIZE, FIXED_BLOCK, FIXED_BLOCKS, FixedPool, LockedChunk, LockedFixed, LockedFreeList,
    LockedPools, RawChunk, RawFixed, RawFreeList, RawPools, ViaAllocatorApi, ViaGlobalAlloc,
};
pub use arena::Arena;
pub use decode::decode;
pub use model::{Harness, Op, pattern_byte};
pub use stress::{StressReport, hammer};
pub use subject::{Accounting, CheckedFree, Inspect, LockedForm, Subject};
pub use workload::std_workload;
