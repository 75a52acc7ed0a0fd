//! # bareheap: heap allocators for programs that have no operating system's malloc
//!
//! A `#![no_std]` crate with three allocator designs, each usable on its own through a raw,
//! single-threaded API that reports bad input as errors, and through a `spin`-locked form that
//! implements [`GlobalAlloc`](core::alloc::GlobalAlloc) (and the stable
//! [`allocator_api2::alloc::Allocator`]) so it can be installed with `#[global_allocator]`.
//!
//! Every allocator here keeps raw pointers that carry the provenance of the memory it manages;
//! a pointer it hands out is never derived from a borrow of the allocator itself, so writing
//! through it is sound under Stacked and Tree Borrows (the test suite runs under Miri).
//!
//! The library never prints and never panics inside `GlobalAlloc`: exhaustion is a null
//! pointer, an invalid free is a [`FreeError`] from the raw API.

#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod chunk;
mod error;
pub mod fixed;
pub mod free_list;
pub mod grower;
pub mod pools;
pub mod sys;

pub use chunk::{ChunkAllocator, ChunkAllocatorError, GlobalChunkAllocator, PageAligned};
pub use error::FreeError;
pub use fixed::{FixedSizeAllocator, LockedFixedSizeAllocator};
pub use free_list::{FreeListAllocator, LockedFreeListAllocator};
pub use grower::{HeapGrower, MmapGrower, Region, StaticGrower};
pub use pools::{LockedSizeClassPools, SizeClassPools};
