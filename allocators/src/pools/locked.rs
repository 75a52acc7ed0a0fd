//! The pools behind a lock: [`LockedSizeClassPools`], a name for
//! [`Locked`]`<`[`SizeClassPools`]`>`, usable as `#[global_allocator]` and as an
//! `allocator_api2` allocator.
//!
//! ```text
//!   GlobalAlloc / Allocator ──lock──► SizeClassPools ──► class pools | fallback (no lock)
//! ```
//!
//! One lock covers the pools and their fallback together: pools over a free list take it once
//! per call, and the fallback needs no lock of its own. The fallback's settings (a chunk heap's
//! placement, an `mmap` grower's page size) are safe calls on the pools and their locked form.

use lock_api::RawMutex;

use super::SizeClassPools;
#[cfg(target_os = "linux")]
use crate::FreeListAllocator;
use crate::RawAllocator;
use crate::chunk::{ChunkAllocator, Placement};
#[cfg(target_os = "linux")]
use crate::grower::{BadPageSize, MmapGrower};
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

impl<F: RawAllocator, R: RawMutex> Locked<SizeClassPools<F>, R> {
    /// [`SizeClassPools::trim`] under the lock: safe, since only blocks and slabs no caller
    /// holds go back. Its cost plus the lock.
    pub fn trim(&self) -> bool {
        let mut pools = self.lock();
        // SAFETY: the pools stay in place; a trim gives back only what no caller holds.
        unsafe { pools.get_mut() }.trim()
    }
}

impl<const CHUNK_SIZE: usize> SizeClassPools<ChunkAllocator<CHUNK_SIZE>> {
    /// Changes where the chunk heap behind the pools searches from now on, as
    /// [`ChunkAllocator::set_placement`]: safe, since only the setting changes. O(1).
    pub const fn set_placement(&mut self, placement: Placement) {
        // SAFETY: the fallback stays in place; only its placement changes.
        unsafe { self.fallback_mut() }.set_placement(placement);
    }
}

impl<const CHUNK_SIZE: usize, R: RawMutex> Locked<SizeClassPools<ChunkAllocator<CHUNK_SIZE>>, R> {
    /// [`SizeClassPools::set_placement`] under the lock. O(1) plus the lock.
    pub fn set_placement(&self, placement: Placement) {
        let mut pools = self.lock();
        // SAFETY: only the placement changes; the pools stay in place.
        unsafe { pools.get_mut() }.set_placement(placement);
    }
}

#[cfg(target_os = "linux")]
impl SizeClassPools<FreeListAllocator<MmapGrower>> {
    /// Tells the free list's grower the page size, as [`FreeListAllocator::set_page_size`]:
    /// safe, since only the setting changes. O(1).
    ///
    /// # Errors
    /// [`BadPageSize`] when `page_size` is not a valid page size (see
    /// [`MmapGrower::set_page_size`]); nothing changes then.
    pub const fn set_page_size(&mut self, page_size: usize) -> Result<(), BadPageSize> {
        // SAFETY: the fallback stays in place; only its grower's page size changes.
        unsafe { self.fallback_mut() }.set_page_size(page_size)
    }
}

#[cfg(target_os = "linux")]
impl<R: RawMutex> Locked<SizeClassPools<FreeListAllocator<MmapGrower>>, R> {
    /// [`SizeClassPools::set_page_size`] under the lock. O(1) plus the lock.
    ///
    /// # Errors
    /// [`BadPageSize`] when `page_size` is not a valid page size (see
    /// [`MmapGrower::set_page_size`]); nothing changes then.
    pub fn set_page_size(&self, page_size: usize) -> Result<(), BadPageSize> {
        let mut pools = self.lock();
        // SAFETY: only the page size changes; the pools stay in place.
        unsafe { pools.get_mut() }.set_page_size(page_size)
    }
}
