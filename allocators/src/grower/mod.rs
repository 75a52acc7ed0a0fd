//! Heap growers: where a growing allocator gets its memory from, and where it gives it back.
//!
//! A growing allocator such as [`FreeListAllocator`](crate::FreeListAllocator) does not own a
//! fixed heap. When no free block fits a request it asks a *grower* for a fresh [`Region`] of at
//! least a given size; when a whole region becomes free again it may hand the region back.
//!
//! ```text
//!        allocator                          grower
//!   ┌─────────────────┐   grow(min_size)   ┌──────────────────────────────┐
//!   │ no block fits → │ ─────────────────► │ mmap / a slice of a buffer   │
//!   │                 │ ◄───────────────── │ Region { ptr, len >= min }   │
//!   │ region empty  → │   release(region)  │ munmap / piece taken back    │
//!   └─────────────────┘ ─────────────────► └──────────────────────────────┘
//! ```
//!
//! Three growers ship with the crate: `MmapGrower` on Linux (anonymous mappings from the
//! kernel, sized in geometrically growing steps so the number of system calls stays logarithmic
//! in the heap size), `WasmGrower` on WebAssembly (`memory.grow`), and [`StaticGrower`]
//! (pieces of a caller-supplied buffer, for firmware, tests, Miri and any target).

mod buffer;
#[cfg(target_os = "linux")]
mod mmap;
#[cfg(target_arch = "wasm32")]
mod wasm;

use core::mem::MaybeUninit;
use core::ptr::NonNull;

pub use buffer::{Exhausted, StaticGrower};
#[cfg(target_os = "linux")]
pub use mmap::{BadPageSize, FALLBACK_PAGE_SIZE, MAX_PAGE_SIZE, MIN_PAGE_SIZE, MmapGrower};
#[cfg(target_arch = "wasm32")]
pub use wasm::{MemoryFull, WASM_PAGE_SIZE, WasmGrower};

/// A contiguous range of memory handed out by a [`HeapGrower`]: `len` bytes starting at `ptr`.
///
/// The pointer carries the provenance of the grower's memory (a mapping, a buffer), so an
/// allocator may derive every pointer it hands out from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
}

impl Region {
    /// Describes the `len` bytes starting at `ptr`. O(1); claims nothing about the memory.
    #[must_use]
    pub const fn new(ptr: NonNull<u8>, len: usize) -> Self {
        Self { ptr, len }
    }

    /// The first byte of the region. O(1).
    #[must_use]
    pub const fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    /// The length of the region in bytes. O(1).
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the region has no bytes at all. O(1).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `addr` lies inside the region. O(1).
    #[must_use]
    pub fn contains_addr(&self, addr: usize) -> bool {
        addr.wrapping_sub(self.ptr.addr().get()) < self.len
    }
}

/// The region of a slice (a `static` buffer's `&'static mut`, say): its pointer carries the
/// slice's provenance. O(1).
impl From<&mut [MaybeUninit<u8>]> for Region {
    fn from(memory: &mut [MaybeUninit<u8>]) -> Self {
        let len = memory.len();
        Self::new(NonNull::from(memory).cast(), len)
    }
}

/// Why a grower did not take a region back. Either way the caller still owns the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseError<E> {
    /// This grower never gives memory back (see [`HeapGrower::RELEASES`]).
    Unsupported,
    /// Giving the memory back failed (e.g. `munmap` returned an error).
    Failed(E),
}

/// A source of memory for a growing allocator.
///
/// What a grower can do beyond growing is told by constants, so that an allocator over a grower
/// that cannot give memory back contains no code for it: for [`StaticGrower`], no dedicated
/// regions, no release of empty regions and no page discard are compiled at all.
///
/// # Safety
/// Implementors promise that every [`Region`] returned by [`grow`](Self::grow) or
/// [`grow_dedicated`](Self::grow_dedicated) is valid for reads and writes for its whole length,
/// is at least as long as asked, and overlaps no other memory in use (in particular no region
/// handed out earlier and not yet released), until it is passed back to
/// [`release`](Self::release). Dropping the grower must not end that validity: a grower either
/// leaves its memory in place ([`MmapGrower`]: mappings persist) or borrows it for a lifetime
/// that the borrow checker makes outlive every user ([`StaticGrower`]). When
/// [`SHARES_PROVENANCE`](Self::SHARES_PROVENANCE) is `true`, every region's pointer must be
/// valid for every other region too.
pub unsafe trait HeapGrower {
    /// What goes wrong when the grower cannot provide memory.
    type Err;

    /// Whether [`grow`](Self::grow) can ever hand out memory. `false` for [`NoGrowth`]: a heap
    /// whose memory all comes from `claim` then contains no growth code. `true` by default.
    const GROWS: bool = true;

    /// Whether [`release`](Self::release) takes regions back (to give them to the system).
    /// Only then does a growing allocator give empty regions back and give very large blocks
    /// regions of their own. `false` by default.
    const RELEASES: bool = false;

    /// Whether [`discard`](Self::discard) does anything. Only then does a growing allocator
    /// count the bytes freed into large free blocks and call it. `false` by default.
    const DISCARDS: bool = false;

    /// Whether the regions this grower hands out are pieces of one allocation, each one's
    /// pointer valid for all of them (a buffer cut in pieces): then a region that starts where
    /// the previous one ends may be joined to it, and a block may span both. `false` by
    /// default: separate mappings are separate allocations, even when they touch.
    const SHARES_PROVENANCE: bool = false;

    /// Hands out a new region of at least `min_size` bytes. A grower may return more than
    /// asked (rounded to pages, or a growth step), and the caller should use all of it.
    ///
    /// # Errors
    /// The grower's error when it has no memory left.
    fn grow(&mut self, min_size: usize) -> Result<Region, Self::Err>;

    /// Hands out a region meant for one large block: as close to `size` as the grower can make
    /// it, without the extra a growth step would add. By default the same as
    /// [`grow`](Self::grow). Called only when [`RELEASES`](Self::RELEASES) is `true`.
    ///
    /// # Errors
    /// The grower's error when it has no memory left.
    fn grow_dedicated(&mut self, size: usize) -> Result<Region, Self::Err> {
        self.grow(size)
    }

    /// Told that the bytes of `memory`, inside a region this grower handed out, are free and
    /// their contents dead: the grower may give their whole pages back to the system while
    /// the region stays valid (those bytes may read as zeros afterwards). A hint, never
    /// required to do anything; by default it does nothing. [`MmapGrower`] uses
    /// `madvise(MADV_DONTNEED)`. Called only when [`DISCARDS`](Self::DISCARDS) is `true`.
    ///
    /// # Safety
    /// `memory` must lie inside a region this grower handed out and has not released, and
    /// nothing may read its bytes before writing them again.
    unsafe fn discard(&mut self, memory: Region) {
        let _ = memory;
    }

    /// Takes back a region this grower handed out. By default refuses with
    /// [`ReleaseError::Unsupported`]. Called only when [`RELEASES`](Self::RELEASES) is `true`.
    ///
    /// # Errors
    /// [`ReleaseError`] when the region was not taken back; the caller still owns it then.
    ///
    /// # Safety
    /// `region` must be exactly a region this grower returned and that has not been released
    /// since, and nothing may use its memory after the call succeeds.
    unsafe fn release(&mut self, region: Region) -> Result<(), ReleaseError<Self::Err>> {
        let _ = region;
        Err(ReleaseError::Unsupported)
    }
}

/// The grower of a heap that never grows: all its memory is handed over with `claim` (the
/// pattern of `embedded-alloc` and `linked_list_allocator`: an empty heap in a `static`, and
/// its memory given at start-up). Zero-sized, so an empty heap over it is all zero bits: a
/// `static` of it lives in `.bss`, costs no flash, and needs no set-up before `main`. A heap
/// over it contains no growth code at all.
///
/// ```
/// use core::mem::MaybeUninit;
/// use bareheap::{FreeListAllocator, Locked};
///
/// static HEAP: Locked<FreeListAllocator<bareheap::grower::NoGrowth>> =
///     Locked::new(FreeListAllocator::empty());
///
/// static mut MEMORY: [MaybeUninit<u8>; 4096] = [MaybeUninit::uninit(); 4096];
///
/// // SAFETY: MEMORY is named nowhere else: this is its only `&'static mut`.
/// let memory = unsafe { &mut *(&raw mut MEMORY) };
/// HEAP.claim_static(memory).expect("room for a block");
/// let numbers = allocator_api2::vec::Vec::<u32, _>::with_capacity_in(100, &HEAP);
/// assert_eq!(numbers.capacity(), 100);
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct NoGrowth;

// SAFETY: it hands out no region at all.
unsafe impl HeapGrower for NoGrowth {
    type Err = Exhausted;

    const GROWS: bool = false;

    /// Always [`Exhausted`]: a heap over it has only the memory it was given.
    fn grow(&mut self, _min_size: usize) -> Result<Region, Exhausted> {
        Err(Exhausted)
    }
}
