//! # bareheap: heap allocators for programs that have no operating system's malloc
//!
//! A `#![no_std]` crate of heap allocators for kernels, firmware and freestanding programs.
//! Start with the default, [`Heap`]: size-class pools in front of a free list, O(1) for every
//! size, growing through a memory source ([`MmapGrower`] on Linux, [`StaticGrower`] over a
//! buffer anywhere else). As the allocator of a Linux program with threads, behind a lock
//! that sleeps in the kernel while another thread holds it, it is one line:
//!
//! ```
//! use bareheap::{FutexLock, LockedHeap, MmapGrower};
//!
//! #[global_allocator]
//! static HEAP: LockedHeap<MmapGrower, FutexLock> = LockedHeap::with_grower(MmapGrower::new());
//! # fn main() { assert_eq!(vec![1, 2, 3].iter().sum::<i32>(), 6); }
//! ```
//!
//! Leave the lock out (`LockedHeap<MmapGrower>`) for `spin`'s, the default; on bare metal,
//! `static HEAP: LockedHeap<NoGrowth> = LockedHeap::empty();` and, first thing in `main`,
//! `HEAP.claim_static(memory)` (see [`Heap::empty`]).
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
//! **Many threads.** `Cached` puts a cache of small blocks per thread (or per CPU) in front of
//! any of them: most small allocations and frees then take no shared lock, so threads on
//! several cores scale instead of queueing. The platform says which cache a thread uses through
//! `CacheIndex` (a thread-local number, a CPU id); any answer is sound. (On targets with
//! compare-and-swap: not on the Cortex-M0, which has one core anyway.)
//!
//! **Which lock.** [`Locked`] takes any [`lock_api::RawMutex`]:
//!
//! | lock | use it when | if an interrupt handler allocates |
//! |---|---|---|
//! | [`DefaultLock`] (`spin::Mutex`) | several cores or threads, no allocation in interrupt handlers | deadlock, if it interrupts a holder on its core |
//! | `CriticalSectionLock` (feature `critical-section`) | interrupt handlers allocate (one core, or a `critical-section` implementation covering all cores) | it waits: interrupts are masked while any heap behind this lock is held, whatever order guards are taken and dropped in (a guard must not be returned out of a `critical_section::with`, whose end would unmask them) |
//! | `FutexLock` (Linux) | threads under Linux, especially more threads than cores: a waiter spins briefly, then sleeps in the kernel | (no interrupt handlers in user space) |
//! | your own `RawMutex` | an OS gives you one (an RTOS mutex) | as that lock behaves |
//!
//! **Targets.** With no default features the crate builds for bare-metal targets from the
//! Cortex-M0 (`thumbv6m-none-eabi`, where `spin`'s atomics come from `portable-atomic` over
//! `critical-section`) to `x86_64-unknown-none`; [`MmapGrower`] and the [`sys`] module exist on
//! Linux targets only. Features: `alloc` (default: constructors that build inside a `Box`),
//! `counters` (the free list's usage counters, a few instructions per call), `critical-section`
//! (`CriticalSectionLock`), `std` (`StdThreads`, the cache index of a program with the standard
//! library's threads).
//!
//! Every allocator here keeps raw pointers that carry the provenance of the memory it manages;
//! a pointer it hands out is never derived from a borrow of the allocator itself, nor from the
//! pointer a block was freed or resized with (which may cover less than the block: a `Box`'s
//! covers its value only), so writing through it is sound under Stacked and Tree Borrows. The
//! caches of `Cached` rebase every block freed into them on the shared heap's own pointer
//! before handing it out again. The test suite runs under Miri with both models and strict
//! provenance, including a test that frees through narrowed pointers and reuses the blocks
//! through every layer (`tests/conformance/provenance.rs`). One question stays open, and is
//! about the aliasing models rather than this crate: a `Box` freed while it is still a
//! protected function argument (see the [`free_list`] module docs).
//!
//! **Renamed and replaced** (for code written against earlier versions):
//! `Locked::with_lock(a)` and `Cached::with_lock(a, i)` are now `Locked::new(a)` and
//! `Cached::new(a, i)`, which take any lock; `ChunkAllocator::usage()` and
//! `GlobalChunkAllocator::usage()` (a percentage) are `usage().percent_in_use()`, beside the
//! rest of [`Usage`]; `free_list::HeapCorruption` is [`HeapCorruption`]; a free whose layout
//! does not fit its block is [`FreeError::LayoutMismatch`], no longer `CorruptedBlock`.
//!
//! The library never prints and never panics inside `GlobalAlloc`: exhaustion is a null
//! pointer, an invalid free is a [`FreeError`] from the raw API.

#![no_std]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(test, feature = "std"))]
extern crate std;

#[cfg(target_has_atomic = "ptr")]
pub mod cached;
pub mod chunk;
#[cfg(feature = "critical-section")]
mod critical_section_lock;
mod error;
pub mod fixed;
pub mod free_list;
#[cfg(target_os = "linux")]
mod futex_lock;
pub mod grower;
mod heap;
mod locked;
pub mod pools;
mod raw_allocator;
#[cfg(target_os = "linux")]
pub mod sys;
#[cfg(test)]
mod test_checked;
#[cfg(test)]
mod test_lock;
#[cfg(test)]
mod test_pattern;
#[cfg(test)]
mod test_proptest;
mod usage;

/// The README's code blocks, compiled and run as doc tests (`cargo test -p bareheap --features
/// std --doc`, in `make test`), so that the tutorial's examples cannot drift from the library.
/// Only with `std`: section 11 shows `StdThreads`.
#[cfg(all(doctest, feature = "std"))]
#[doc = include_str!("../../README.md")]
pub struct ReadmeExamples;

#[cfg(all(target_has_atomic = "ptr", any(test, feature = "std")))]
pub use cached::StdThreads;
#[cfg(target_has_atomic = "ptr")]
pub use cached::{CacheIndex, CacheStats, Cached};
pub use chunk::{ChunkAllocator, ChunkAllocatorError, GlobalChunkAllocator, PageAligned};
#[cfg(feature = "critical-section")]
pub use critical_section_lock::CriticalSectionLock;
pub use error::{FreeError, OutOfMemory, ResizeError};
pub use fixed::{FixedBlocks, FixedPool, FixedSizeAllocator, LockedFixedSizeAllocator};
#[cfg(target_os = "linux")]
pub use free_list::UnixAllocator;
pub use free_list::{FreeListAllocator, LockedFreeListAllocator};
#[cfg(target_os = "linux")]
pub use futex_lock::FutexLock;
#[cfg(target_os = "linux")]
pub use grower::MmapGrower;
#[cfg(target_arch = "wasm32")]
pub use grower::WasmGrower;
pub use grower::{HeapGrower, NoGrowth, Region, StaticGrower};
pub use heap::{Heap, LockedHeap};
pub use locked::{DefaultLock, Locked, LockedGuard};
pub use pools::{LockedSizeClassPools, SizeClassPools};
pub use raw_allocator::RawAllocator;
pub use usage::{HeapCorruption, Inspect, Usage};
