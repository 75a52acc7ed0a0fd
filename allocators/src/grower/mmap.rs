//! [`MmapGrower`]: regions are anonymous memory mappings from the kernel.
//!
//! Every growth is one `mmap` call through [`crate::sys`]. To keep the number of calls (and of
//! regions the allocator must track) logarithmic in the heap size, a request is rounded up to a
//! *growth step* that doubles after each growth, up to a cap:
//!
//! ```text
//!   grow #   1      2      3       4       ...     step = 16 pages · 2^(n-1), capped
//!   bytes   64K   128K   256K    512K     ...     (with 4 KiB pages)
//! ```
//!
//! So a heap of `H` bytes costs about `log2(H / 64K)` mappings until the cap (64 Ki pages,
//! 256 MiB with 4 KiB pages) is reached, and one per cap-sized step after that. Dedicated
//! regions for large blocks are rounded to pages only and do not advance the step. Each region
//! given back halves the step, so the step follows the heap's size down as well as up; and a
//! step the kernel refuses (under `ulimit -v`, say) falls back to the size actually needed.
//!
//! The page size is the kernel's (`AT_PAGESZ` in the auxiliary vector). Since a
//! `#[global_allocator]` static is built before the program can read it, the grower can start
//! with [`FALLBACK_PAGE_SIZE`] and learn the real value through
//! [`set_page_size`](MmapGrower::set_page_size) before the first allocation.

use core::fmt;

use super::{HeapGrower, Region, ReleaseError};
use crate::sys::{self, Errno};

/// The page size assumed by [`MmapGrower::new`] when the caller knows nothing better: 4 KiB,
/// the smallest page size of x86_64 Linux. A larger real page size still works (the kernel
/// rounds every mapping up), it only makes the rounding here less exact.
pub const FALLBACK_PAGE_SIZE: usize = 4096;

/// The first growth step, in pages.
const INITIAL_STEP_PAGES: usize = 16;

/// The largest growth step, in pages: past this the heap grows linearly.
const MAX_STEP_PAGES: usize = 1 << 16;

/// The smallest page size accepted: 256 bytes (no kernel uses less).
pub const MIN_PAGE_SIZE: usize = 1 << 8;

/// The largest page size accepted: 1 GiB (the largest huge page of x86_64 and aarch64), and
/// far below what would make a growth step (up to 65,536 pages) overflow on 64-bit targets.
/// On 32-bit targets the step is computed with checked arithmetic, so a large page size only
/// makes a growth fail with `ENOMEM`.
pub const MAX_PAGE_SIZE: usize = if usize::BITS >= 64 { 1 << 30 } else { 1 << 20 };

/// A page size that is not a power of two between [`MIN_PAGE_SIZE`] and [`MAX_PAGE_SIZE`] (the
/// value is kept for the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadPageSize(pub usize);

impl fmt::Display for BadPageSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "page size {} is not a power of two from {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}",
            self.0
        )
    }
}

/// Whether `page_size` is one a grower accepts.
const fn valid_page_size(page_size: usize) -> bool {
    page_size.is_power_of_two() && page_size >= MIN_PAGE_SIZE && page_size <= MAX_PAGE_SIZE
}

impl core::error::Error for BadPageSize {}

/// A [`HeapGrower`] that maps anonymous memory with `mmap` and gives it back with `munmap`.
///
/// Counts the regions it mapped and released and the bytes currently mapped (all O(1)).
#[derive(Debug)]
pub struct MmapGrower {
    page_size: usize,
    step_pages: usize,
    mapped_regions: usize,
    released_regions: usize,
    mapped_bytes: usize,
}

impl MmapGrower {
    /// A grower that assumes [`FALLBACK_PAGE_SIZE`] until told the real page size through
    /// [`set_page_size`](Self::set_page_size). Usable in a `static`. O(1).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            page_size: FALLBACK_PAGE_SIZE,
            step_pages: INITIAL_STEP_PAGES,
            mapped_regions: 0,
            released_regions: 0,
            mapped_bytes: 0,
        }
    }

    /// A grower for the kernel's page size `page_size` (from `AT_PAGESZ`). O(1).
    ///
    /// # Errors
    /// [`BadPageSize`] when `page_size` is not a power of two from [`MIN_PAGE_SIZE`] to
    /// [`MAX_PAGE_SIZE`].
    pub const fn with_page_size(page_size: usize) -> Result<Self, BadPageSize> {
        if !valid_page_size(page_size) {
            return Err(BadPageSize(page_size));
        }
        let mut grower = Self::new();
        grower.page_size = page_size;
        Ok(grower)
    }

    /// Sets the kernel's page size; meant to be called once at start-up, before the first
    /// allocation (regions mapped earlier stay valid either way). O(1).
    ///
    /// # Errors
    /// [`BadPageSize`] when `page_size` is not a power of two from [`MIN_PAGE_SIZE`] to
    /// [`MAX_PAGE_SIZE`]; nothing changes then.
    pub const fn set_page_size(&mut self, page_size: usize) -> Result<(), BadPageSize> {
        if !valid_page_size(page_size) {
            return Err(BadPageSize(page_size));
        }
        self.page_size = page_size;
        Ok(())
    }

    /// The page size the grower rounds to. O(1).
    #[must_use]
    pub const fn page_size(&self) -> usize {
        self.page_size
    }

    /// How many regions were mapped so far. O(1).
    #[must_use]
    pub const fn mapped_regions(&self) -> usize {
        self.mapped_regions
    }

    /// How many regions were unmapped so far. O(1).
    #[must_use]
    pub const fn released_regions(&self) -> usize {
        self.released_regions
    }

    /// Bytes currently mapped (mapped and not yet released). O(1).
    #[must_use]
    pub const fn mapped_bytes(&self) -> usize {
        self.mapped_bytes
    }

    /// `size` rounded up to whole pages, or `None` on overflow.
    fn round_to_pages(&self, size: usize) -> Option<usize> {
        size.checked_next_multiple_of(self.page_size)
    }

    /// Maps `len` bytes (already page-rounded) and counts the region.
    fn map(&mut self, len: usize) -> Result<Region, Errno> {
        let ptr = sys::map_anonymous(len)?;
        self.mapped_regions += 1;
        self.mapped_bytes += len;
        Ok(Region::new(ptr, len))
    }
}

impl Default for MmapGrower {
    fn default() -> Self {
        Self::new()
    }
}

// SAFETY: every region is a fresh anonymous mapping of exactly `len` bytes (the kernel chose an
// address no other mapping uses); it stays mapped until `release` unmaps it, whatever happens to
// the grower, so regions are valid, disjoint, and outlive the grower.
unsafe impl HeapGrower for MmapGrower {
    type Err = Errno;

    /// Maps `max(min_size, step)` rounded up to pages, then doubles the step (up to its cap).
    /// When the kernel refuses the step (an address-space limit, overcommit rules), maps just
    /// `min_size` rounded up to pages instead, so that a growing step never turns memory the
    /// kernel would still give into a failed allocation. One `mmap` system call, two when the
    /// step is refused.
    fn grow(&mut self, min_size: usize) -> Result<Region, Errno> {
        let needed = self.round_to_pages(min_size).ok_or(Errno::ENOMEM)?;
        let stepped = self
            .step_pages
            .checked_mul(self.page_size)
            .and_then(|step| self.round_to_pages(min_size.max(step)))
            .unwrap_or(needed);
        match self.map(stepped) {
            Ok(region) => {
                self.step_pages = (self.step_pages * 2).min(MAX_STEP_PAGES);
                Ok(region)
            }
            Err(_) if stepped > needed => self.map(needed),
            Err(errno) => Err(errno),
        }
    }

    /// Maps `size` rounded up to pages, leaving the growth step as it is. One `mmap` call.
    fn grow_dedicated(&mut self, size: usize) -> Result<Region, Errno> {
        let len = self.round_to_pages(size).ok_or(Errno::ENOMEM)?;
        self.map(len)
    }

    fn can_release(&self) -> bool {
        true
    }

    /// Gives back the whole pages inside `memory` (`madvise(MADV_DONTNEED)`, one system call),
    /// when there is at least one; a failure changes nothing and is ignored, as a hint's may
    /// be.
    unsafe fn discard(&mut self, memory: Region) {
        let start = memory.ptr().addr().get();
        let Some(first) = start.checked_next_multiple_of(self.page_size) else {
            return;
        };
        let end = (start + memory.len()) & !(self.page_size - 1);
        if first < end {
            // SAFETY: whole pages inside a region this grower mapped (the caller's promise),
            // whose contents are dead; `first` lies inside `memory`, as `first < end`.
            let _ = unsafe { sys::discard(memory.ptr().byte_add(first - start), end - first) };
        }
    }

    /// Unmaps the region. One `munmap` system call.
    unsafe fn release(&mut self, region: Region) -> Result<(), ReleaseError<Errno>> {
        // SAFETY: the caller hands back a region this grower mapped (with its exact length) and
        // no longer uses it, which is what `unmap` requires.
        unsafe { sys::unmap(region.ptr(), region.len()) }.map_err(ReleaseError::Failed)?;
        self.released_regions += 1;
        self.mapped_bytes -= region.len();
        // The heap shrank: so does the next step, or a heap that grows and shrinks in turn
        // would double its step on every cycle and soon ask for a cap-sized region to hold a
        // few blocks.
        self.step_pages = (self.step_pages / 2).max(INITIAL_STEP_PAGES);
        Ok(())
    }
}

#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;

    #[test]
    fn page_size_must_be_a_power_of_two() {
        assert_eq!(
            MmapGrower::with_page_size(3000).err(),
            Some(BadPageSize(3000))
        );
        assert!(MmapGrower::with_page_size(0).is_err());
        let mut grower = MmapGrower::new();
        assert_eq!(grower.page_size(), FALLBACK_PAGE_SIZE);
        for bad in [
            12288,
            1 << (usize::BITS - 2),
            usize::MAX,
            MAX_PAGE_SIZE * 2,
            MIN_PAGE_SIZE / 2,
        ] {
            assert_eq!(grower.set_page_size(bad), Err(BadPageSize(bad)));
            assert_eq!(grower.page_size(), FALLBACK_PAGE_SIZE);
        }
        assert!(grower.set_page_size(16384).is_ok());
        assert_eq!(grower.page_size(), 16384);
        assert!(grower.set_page_size(MAX_PAGE_SIZE).is_ok());
    }

    #[test]
    fn growth_steps_double_and_are_page_rounded() {
        let mut grower = MmapGrower::with_page_size(4096).unwrap();
        let first = grower.grow(10).unwrap();
        let second = grower.grow(10).unwrap();
        let big = grower.grow(1_000_001).unwrap();
        assert_eq!(first.len(), 16 * 4096);
        assert_eq!(second.len(), 32 * 4096);
        assert_eq!(big.len(), 1_000_001usize.next_multiple_of(4096));
        assert_eq!(grower.mapped_regions(), 3);
        assert_eq!(
            grower.mapped_bytes(),
            first.len() + second.len() + big.len()
        );
        for region in [first, second, big] {
            // SAFETY: the memory is a fresh private mapping of `region.len()` bytes.
            unsafe { region.ptr().as_ptr().add(region.len() - 1).write(7) };
            // SAFETY: each region came from this grower and is released once, then unused.
            unsafe { grower.release(region) }.unwrap();
        }
        assert_eq!(grower.released_regions(), 3);
        assert_eq!(grower.mapped_bytes(), 0);
    }

    #[test]
    fn a_released_region_halves_the_step() {
        let mut grower = MmapGrower::with_page_size(4096).unwrap();
        let regions = [(); 3].map(|()| grower.grow(1).unwrap());
        assert_eq!(regions.map(|r| r.len() / 4096), [16, 32, 64]);
        for region in regions {
            // SAFETY: each region came from this grower and is released once, then unused.
            unsafe { grower.release(region) }.unwrap();
        }
        // The step went 128 pages, then 64, 32, 16 with the three releases: a heap that grows
        // and shrinks in turn does not see its step double on every cycle.
        let again = grower.grow(1).unwrap();
        assert_eq!(again.len(), 16 * 4096);
        // SAFETY: as above.
        unsafe { grower.release(again) }.unwrap();
    }

    #[test]
    fn dedicated_regions_do_not_advance_the_step() {
        let mut grower = MmapGrower::with_page_size(4096).unwrap();
        let dedicated = grower.grow_dedicated(5000).unwrap();
        assert_eq!(dedicated.len(), 8192);
        let general = grower.grow(1).unwrap();
        assert_eq!(general.len(), 16 * 4096);
        for region in [dedicated, general] {
            // SAFETY: each region came from this grower and is released once, then unused.
            unsafe { grower.release(region) }.unwrap();
        }
    }

    #[test]
    fn impossible_sizes_are_errors() {
        let mut grower = MmapGrower::new();
        assert_eq!(grower.grow(usize::MAX).err(), Some(Errno::ENOMEM));
        assert_eq!(
            grower.grow_dedicated(usize::MAX - 10).err(),
            Some(Errno::ENOMEM)
        );
        assert_eq!(grower.mapped_regions(), 0);
    }

    #[test]
    fn the_largest_step_of_the_largest_page_does_not_overflow() {
        let mut grower = MmapGrower::with_page_size(MAX_PAGE_SIZE).unwrap();
        grower.step_pages = MAX_STEP_PAGES;
        match MAX_STEP_PAGES.checked_mul(MAX_PAGE_SIZE) {
            // 32-bit: the step does not fit a `usize`, so the grower maps just the page that
            // was needed, as it does when the kernel refuses a step.
            None => {
                let region = grower.grow(1).unwrap();
                assert_eq!(region.len(), MAX_PAGE_SIZE);
                // SAFETY: the region came from this grower and is released once, unused.
                unsafe { grower.release(region) }.unwrap();
            }
            // 64-bit: it fits, and so does its rounding.
            Some(step) => assert!(step.checked_next_multiple_of(MAX_PAGE_SIZE).is_some()),
        }
    }
}
