//! # bareheap: heap allocators for programs that have no operating system's malloc
//!
//! A `#![no_std]` crate of heap allocators for kernels, firmware and freestanding programs.
//! Start with the default, [`Heap`]: size-class pools in front of a free list, O(1) for every
//! size, growing through a memory source ([`MmapGrower`] on Linux, [`StaticGrower`] over a
//! buffer anywhere else). As the program's allocator it is one line:
//!
//! ```
//! use bareheap::{Heap, LockedHeap, MmapGrower};
//!
//! #[global_allocator]
//! static HEAP: LockedHeap<MmapGrower> = LockedHeap::new(Heap::new(MmapGrower::new()));
//! # fn main() { assert_eq!(vec![1, 2, 3].iter().sum::<i32>(), 6); }
//! ```
//!
//! **When to choose something else.** [`FixedPool`] when every allocation has one size (O(1),
//! no fragmentation, a hard bound on memory); [`ChunkAllocator`] when a bitmap over a fixed
//! `static` heap with exact, cheap checks of every free matters more than speed on small
//! blocks; [`FreeListAllocator`] alone when nearly every block is large; [`SizeClassPools`]
//! over another allocator of yours when the small requests need O(1) in front of it.
//!
//! **One interface.** Every allocator is a single-threaded value implementing
//! [`RawAllocator`] (allocate, a checked free and resize that report bad input as a
//! [`FreeError`], and the trusted O(1) forms a global allocator uses); [`Locked`] puts any of
//! them behind a lock (any [`lock_api::RawMutex`], `spin`'s by default) and implements
//! [`GlobalAlloc`](core::alloc::GlobalAlloc) and the stable
//! [`allocator_api2::alloc::Allocator`].
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
mod heap;
mod locked;
pub mod pools;
mod raw_allocator;
pub mod sys;
#[cfg(test)]
mod test_checked;

pub use chunk::{ChunkAllocator, ChunkAllocatorError, GlobalChunkAllocator, PageAligned};
pub use error::{FreeError, OutOfMemory, ResizeError};
pub use fixed::{FixedBlocks, FixedPool, FixedSizeAllocator, LockedFixedSizeAllocator};
pub use free_list::{FreeListAllocator, LockedFreeListAllocator};
pub use grower::{HeapGrower, MmapGrower, Region, StaticGrower};
pub use heap::{Heap, LockedHeap};
pub use locked::{DefaultLock, Locked, LockedGuard};
pub use pools::{LockedSizeClassPools, SizeClassPools};
pub use raw_allocator::RawAllocator;
