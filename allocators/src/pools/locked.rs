//! The pools behind a lock: [`LockedSizeClassPools`], a name for
//! [`Locked`]`<`[`SizeClassPools`]`>`, usable as `#[global_allocator]` and as an
//! `allocator_api2` allocator.
//!
//! ```text
//!   GlobalAlloc / Allocator ──lock──► SizeClassPools ──► class pools | fallback (no lock)
//! ```
//!
//! One lock covers the pools and their fallback together: pools over a free list take it once
//! per call, and the fallback needs no lock of its own.

use super::SizeClassPools;
use crate::locked::{DefaultLock, Locked};

/// [`SizeClassPools`] behind a lock (spin's by default).
///
/// ```
/// use core::mem::MaybeUninit;
/// use bareheap::{FreeListAllocator, LockedSizeClassPools, SizeClassPools, StaticGrower};
///
/// static mut MEMORY: [MaybeUninit<u8>; 128 * 1024] = [MaybeUninit::uninit(); 128 * 1024];
/// static POOLS: LockedSizeClassPools<FreeListAllocator<StaticGrower<'static>>> =
///     // SAFETY: MEMORY is named nowhere else: this heap is its only user.
///     LockedSizeClassPools::new(SizeClassPools::new(FreeListAllocator::new(unsafe {
///         StaticGrower::from_raw(&raw mut MEMORY)
///     })));
///
/// let mut numbers = allocator_api2::vec::Vec::new_in(&POOLS);
/// numbers.extend([1u32, 2, 3]);
/// // 12 bytes: the 16-byte class.
/// assert_eq!(POOLS.inspect(|pools| pools.stats().classes[0].blocks_in_use), 1);
/// ```
pub type LockedSizeClassPools<F, R = DefaultLock> = Locked<SizeClassPools<F>, R>;
