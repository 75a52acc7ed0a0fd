//! The free list behind a lock: [`LockedFreeListAllocator`], a name for
//! [`Locked`]`<`[`FreeListAllocator`]`>`, for `#[global_allocator]` and `allocator_api2`.
//!
//! With [`MmapGrower`] the kernel's page size is only known at run time; the static is built
//! with [`MmapGrower::new`] and the program calls
//! [`set_page_size`](Locked::set_page_size) with `AT_PAGESZ` before its first allocation:
//!
//! ```no_run
//! use bareheap::{FreeListAllocator, LockedFreeListAllocator, MmapGrower};
//!
//! static HEAP: LockedFreeListAllocator<MmapGrower> =
//!     LockedFreeListAllocator::new(FreeListAllocator::new(MmapGrower::new()));
//!
//! # fn page_size_from_auxv() -> usize { 4096 }
//! HEAP.set_page_size(page_size_from_auxv()).expect("AT_PAGESZ is a power of two");
//! ```

use lock_api::RawMutex;

use super::heap::FreeListAllocator;
use crate::grower::{BadPageSize, MmapGrower};
use crate::locked::{DefaultLock, Locked};

/// A [`FreeListAllocator`] behind a lock (spin's by default): usable as `#[global_allocator]`
/// with no run-time initialisation, and as an [`allocator_api2::alloc::Allocator`].
pub type LockedFreeListAllocator<G, R = DefaultLock> = Locked<FreeListAllocator<G>, R>;

impl<R: RawMutex> Locked<FreeListAllocator<MmapGrower>, R> {
    /// Tells the grower the kernel's page size (`AT_PAGESZ`); call it before the first
    /// allocation. O(1) plus the lock.
    ///
    /// # Errors
    /// [`BadPageSize`] when `page_size` is not a power of two; nothing changes then.
    pub fn set_page_size(&self, page_size: usize) -> Result<(), BadPageSize> {
        let mut heap = self.lock();
        // SAFETY: only the grower's page size changes; the allocator stays in place.
        unsafe { heap.get_mut() }.set_page_size(page_size)
    }
}
