//! The free list behind a lock: [`LockedFreeListAllocator`], a name for
//! [`Locked`]`<`[`FreeListAllocator`]`>`, for `#[global_allocator]` and `allocator_api2`.
//!
//! With [`MmapGrower`] the kernel's page size is only known at run time; the static is built
//! with [`MmapGrower::new`] and the program calls
//! [`set_page_size`](Locked::set_page_size) with `AT_PAGESZ` before its first allocation:
//!
//! ```no_run
//! use bareheap::{LockedFreeListAllocator, MmapGrower};
//!
//! static HEAP: LockedFreeListAllocator<MmapGrower> =
//!     LockedFreeListAllocator::with_grower(MmapGrower::new());
//!
//! # fn page_size_from_auxv() -> usize { 4096 }
//! HEAP.set_page_size(page_size_from_auxv()).expect("AT_PAGESZ is a power of two");
//! ```

use core::mem::MaybeUninit;

use lock_api::RawMutex;

use super::heap::FreeListAllocator;
use crate::OutOfMemory;
#[cfg(target_os = "linux")]
use crate::grower::{BadPageSize, MmapGrower};
use crate::grower::{HeapGrower, NoGrowth, Region};
use crate::locked::{DefaultLock, Locked};

/// A [`FreeListAllocator`] behind a lock (spin's by default): usable as `#[global_allocator]`
/// with no run-time initialisation, and as an [`allocator_api2::alloc::Allocator`].
pub type LockedFreeListAllocator<G, R = DefaultLock> = Locked<FreeListAllocator<G>, R>;

impl<G: HeapGrower, R: RawMutex> Locked<FreeListAllocator<G>, R> {
    /// A free list growing through `grower`, behind a new lock: the one-step form of
    /// `Locked::new(FreeListAllocator::new(grower))`. O(1), `const`.
    #[must_use]
    pub const fn with_grower(grower: G) -> Self {
        Self::new(FreeListAllocator::new(grower))
    }

    /// [`FreeListAllocator::claim`] under the lock: memory known only at run time joins the
    /// heap. O(1) plus the lock.
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    ///
    /// # Safety
    /// As for [`FreeListAllocator::claim`].
    pub unsafe fn claim(&self, memory: Region) -> Result<(), OutOfMemory> {
        let mut heap = self.lock();
        // SAFETY: the heap stays in place, only gaining memory; `memory` as the caller
        // promises.
        unsafe { heap.get_mut().claim(memory) }
    }

    /// [`FreeListAllocator::claim_static`] under the lock: the usual start-up of a heap built
    /// with [`FreeListAllocator::empty`]. O(1) plus the lock.
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    pub fn claim_static(&self, memory: &'static mut [MaybeUninit<u8>]) -> Result<(), OutOfMemory> {
        let mut heap = self.lock();
        // SAFETY: the heap stays in place, only gaining memory.
        unsafe { heap.get_mut() }.claim_static(memory)
    }

    /// [`FreeListAllocator::extend`] under the lock. O(1) plus the lock.
    ///
    /// # Errors
    /// [`OutOfMemory`] when the memory is too small to hold a block; nothing changes then.
    ///
    /// # Safety
    /// As for [`FreeListAllocator::extend`].
    pub unsafe fn extend(&self, memory: Region) -> Result<(), OutOfMemory> {
        let mut heap = self.lock();
        // SAFETY: as for `claim`.
        unsafe { heap.get_mut().extend(memory) }
    }
}

impl<R: RawMutex> Locked<FreeListAllocator<NoGrowth>, R> {
    /// [`FreeListAllocator::empty`] behind a new lock: all zero bits, for memory handed over
    /// with [`claim_static`](Self::claim_static). O(1), `const`.
    #[must_use]
    pub const fn empty() -> Self {
        Self::new(FreeListAllocator::empty())
    }
}

#[cfg(target_os = "linux")]
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

/// Seed 002's name (`basic_allocator::UnixAllocator`), kept so that its one-line set-up still
/// works: the free list growing through `mmap`, behind the default lock, built with no
/// arguments. A thin shim that dereferences to the
/// [`LockedFreeListAllocator`]`<`[`MmapGrower`]`>` it holds; new code can use that directly.
/// Every call costs what the locked free list's costs.
///
/// ```
/// use bareheap::UnixAllocator;
///
/// #[global_allocator]
/// static ALLOCATOR: UnixAllocator = UnixAllocator::new();
///
/// fn main() {
///     let squares: Vec<u64> = (0..100).map(|i| i * i).collect();
///     assert_eq!(squares[99], 9801);
///     assert!(ALLOCATOR.contains(squares.as_ptr().cast()));
/// }
/// ```
#[cfg(target_os = "linux")]
pub struct UnixAllocator(LockedFreeListAllocator<MmapGrower>);

#[cfg(target_os = "linux")]
impl UnixAllocator {
    /// An empty heap; no memory is mapped until the first allocation. O(1), `const`.
    #[must_use]
    pub const fn new() -> Self {
        Self(Locked::new(FreeListAllocator::new(MmapGrower::new())))
    }
}

#[cfg(target_os = "linux")]
impl Default for UnixAllocator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(target_os = "linux")]
impl core::ops::Deref for UnixAllocator {
    type Target = LockedFreeListAllocator<MmapGrower>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

// SAFETY: every call is the locked free list's, which upholds `GlobalAlloc`'s contract.
#[cfg(target_os = "linux")]
unsafe impl core::alloc::GlobalAlloc for UnixAllocator {
    unsafe fn alloc(&self, layout: core::alloc::Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: core::alloc::Layout) {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(
        &self,
        ptr: *mut u8,
        layout: core::alloc::Layout,
        new_size: usize,
    ) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}
