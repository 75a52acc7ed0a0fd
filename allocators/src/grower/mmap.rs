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
//! The page size is the kernel's, learned at the first growth ([`sys::page_size`]: no libc and
//! no auxiliary vector needed). A program may ask for a coarser rounding
//! ([`with_page_size`](MmapGrower::with_page_size), e.g. 2 MiB steps), never a finer one, and
//! giving pages back ([`discard`](HeapGrower::discard)) always works in the kernel's pages:
//! `madvise` rounds its length up to them, so any other unit could zero live bytes.

use core::fmt;

use super::{HeapGrower, Region, ReleaseError};
use crate::sys::{self, Errno};

/// The page size a grower rounds to when the kernel's cannot be learned (a sandbox that
/// refuses `madvise`): 4 KiB, the smallest page of x86_64 Linux. Mappings stay correct with any
/// real page size (the kernel rounds every mapping up); only the rounding is less exact, and
/// pages are then never discarded.
pub const FALLBACK_PAGE_SIZE: usize = 4096;

/// The first growth step, in pages.
const INITIAL_STEP_PAGES: usize = 16;

/// How often the growth step doubles at most: to 65,536 pages, past which the heap grows
/// linearly.
const MAX_STEP_DOUBLINGS: u32 = 12;

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
/// Counts the regions it mapped and released and the bytes currently mapped (all O(1)). Every
/// field of a new grower is zero, so a `static` heap over it costs no initialised data.
#[derive(Debug)]
pub struct MmapGrower {
    /// The rounding a program asked for; 0 for the kernel's page.
    page_size: usize,
    /// The growth step is [`INITIAL_STEP_PAGES`] doubled this many times (capped).
    doublings: u32,
    mapped_regions: usize,
    released_regions: usize,
    mapped_bytes: usize,
}

impl MmapGrower {
    /// A grower that rounds to the kernel's page size, learned at the first growth. Usable in a
    /// `static`. O(1).
    #[must_use]
    pub const fn new() -> Self {
        Self {
            page_size: 0,
            doublings: 0,
            mapped_regions: 0,
            released_regions: 0,
            mapped_bytes: 0,
        }
    }

    /// A grower that rounds its regions to `page_size` bytes, or to the kernel's page when that
    /// is larger (a coarser rounding: huge pages, say; the kernel's page size is learned by the
    /// grower itself, so there is no need to pass `AT_PAGESZ`). O(1).
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

    /// Sets the rounding of later regions, as [`with_page_size`](Self::with_page_size) does
    /// (regions mapped earlier stay valid either way). O(1).
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

    /// The page size the grower rounds regions to: the configured one or the kernel's,
    /// whichever is larger. O(1) (the kernel's is learned once per process).
    #[must_use]
    pub fn page_size(&self) -> usize {
        let kernel = sys::page_size().unwrap_or(FALLBACK_PAGE_SIZE);
        self.page_size.max(kernel)
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

    /// The current growth step in pages.
    fn step_pages(&self) -> usize {
        INITIAL_STEP_PAGES << self.doublings.min(MAX_STEP_DOUBLINGS)
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

    const RELEASES: bool = true;
    const DISCARDS: bool = true;

    /// Maps `max(min_size, step)` rounded up to pages, then doubles the step (up to its cap).
    /// When the kernel refuses the step (an address-space limit, overcommit rules), maps just
    /// `min_size` rounded up to pages instead, so that a growing step never turns memory the
    /// kernel would still give into a failed allocation. One `mmap` system call, two when the
    /// step is refused.
    fn grow(&mut self, min_size: usize) -> Result<Region, Errno> {
        let page = self.page_size();
        let needed = min_size
            .checked_next_multiple_of(page)
            .ok_or(Errno::ENOMEM)?;
        let stepped = self
            .step_pages()
            .checked_mul(page)
            .and_then(|step| min_size.max(step).checked_next_multiple_of(page))
            .unwrap_or(needed);
        match self.map(stepped) {
            Ok(region) => {
                self.doublings = (self.doublings + 1).min(MAX_STEP_DOUBLINGS);
                Ok(region)
            }
            Err(_) if stepped > needed => self.map(needed),
            Err(errno) => Err(errno),
        }
    }

    /// Maps `size` rounded up to pages, leaving the growth step as it is. One `mmap` call.
    fn grow_dedicated(&mut self, size: usize) -> Result<Region, Errno> {
        let len = size
            .checked_next_multiple_of(self.page_size())
            .ok_or(Errno::ENOMEM)?;
        self.map(len)
    }

    /// Gives back the kernel's whole pages inside `memory` (`madvise(MADV_DONTNEED)`, one
    /// system call), when there is at least one; a failure changes nothing and is ignored, as a
    /// hint's may be. Never a byte outside `memory`: the start is rounded up and the end down
    /// to the kernel's pages, which is exactly what `madvise` then acts on.
    unsafe fn discard(&mut self, memory: Region) {
        let Some(page) = sys::page_size() else {
            return;
        };
        let start = memory.ptr().addr().get();
        if let Some((first, len)) = whole_pages(start, memory.len(), page) {
            // SAFETY: whole kernel pages inside a region this grower mapped (the caller's
            // promise), whose contents are dead; `first` lies inside `memory`.
            let _ = unsafe { sys::discard(memory.ptr().byte_add(first - start), len) };
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
        self.doublings = self.doublings.saturating_sub(1);
        Ok(())
    }
}

/// The whole pages of `page` bytes inside the `len` bytes at `start`, as (first page's address,
/// their length), or `None` when there is none: the start rounded up, the end rounded down.
/// `madvise` acts on its address rounded down (it refuses one that is not page-aligned) and on
/// its length rounded up, so with the kernel's page size this range is exactly what it
/// touches, and it lies inside `start..start + len`. O(1); no overflow on any input.
fn whole_pages(start: usize, len: usize, page: usize) -> Option<(usize, usize)> {
    let first = start.checked_next_multiple_of(page)?;
    let end = start.checked_add(len)? & !(page - 1);
    (first < end).then(|| (first, end - first))
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
        let kernel = sys::page_size().expect("the kernel's page size");
        let mut grower = MmapGrower::new();
        assert_eq!(grower.page_size(), kernel);
        for bad in [
            12288,
            1 << (usize::BITS - 2),
            usize::MAX,
            MAX_PAGE_SIZE * 2,
            MIN_PAGE_SIZE / 2,
        ] {
            assert_eq!(grower.set_page_size(bad), Err(BadPageSize(bad)));
            assert_eq!(grower.page_size(), kernel);
        }
        assert!(grower.set_page_size(kernel * 4).is_ok());
        assert_eq!(grower.page_size(), kernel * 4);
        // A finer rounding than the kernel's page is never used.
        assert!(grower.set_page_size(MIN_PAGE_SIZE).is_ok());
        assert_eq!(grower.page_size(), kernel);
        assert!(grower.set_page_size(MAX_PAGE_SIZE).is_ok());
    }

    #[test]
    fn the_kernel_page_size_is_the_auxiliary_vectors() {
        // glibc's answer comes from AT_PAGESZ; the probe must agree with it.
        // SAFETY: `getpagesize` has no preconditions.
        let glibc = unsafe { getpagesize() };
        assert_eq!(sys::page_size(), usize::try_from(glibc).ok());
    }

    unsafe extern "C" {
        /// The C library's page size (from the auxiliary vector), to check ours against.
        fn getpagesize() -> core::ffi::c_int;
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
        grower.doublings = MAX_STEP_DOUBLINGS;
        match grower.step_pages().checked_mul(MAX_PAGE_SIZE) {
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

    proptest::proptest! {
        /// Whatever the range and the page size, `madvise` on the range `whole_pages` gives
        /// (length rounded up to pages by the kernel) touches only bytes of the range, and
        /// misses no whole page of it.
        #[test]
        fn whole_pages_never_reach_outside_the_range(
            start in 0..usize::MAX / 2,
            len in 0..usize::MAX / 4,
            shift in MIN_PAGE_SIZE.trailing_zeros()..=MAX_PAGE_SIZE.trailing_zeros(),
        ) {
            let page = 1usize << shift;
            match whole_pages(start, len, page) {
                Some((first, length)) => {
                    proptest::prop_assert!(first % page == 0 && first >= start);
                    let touched = length.next_multiple_of(page);
                    proptest::prop_assert!(first + touched <= start + len);
                    proptest::prop_assert!(first - start < page);
                    proptest::prop_assert!(start + len - (first + touched) < page);
                }
                None => proptest::prop_assert!(
                    start.next_multiple_of(page) + page > start + len
                ),
            }
        }
    }
}
