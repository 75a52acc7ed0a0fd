//! The locked form of the chunk allocator: [`GlobalChunkAllocator`], a name for
//! [`Locked`]`<`[`ChunkAllocator`]`>`, for `#[global_allocator]` and `Vec::new_in`.
//!
//! ```text
//!   GlobalAlloc::alloc ──lock──► ChunkAllocator::allocate ──► pointer, or null on any error
//!   Allocator::allocate ─lock──► ChunkAllocator::allocate ──► span, or AllocError
//!   dealloc / deallocate ─lock─► the checked free, its refusal ignored (nothing changes)
//! ```
//!
//! The chunk allocator's checks cost no more than its free, so even the trusted path runs them:
//! an invalid free through `GlobalAlloc` changes nothing instead of corrupting the bitmap.
//!
//! The name is the one of `simple-chunk-allocator` (seed 001); its constructor from two
//! `&'static mut` arrays is now [`ChunkAllocator::new_const`] wrapped in [`Locked::new`], and
//! [`from_static`](Locked::from_static) takes the `&raw mut` pointers edition 2024 gives for a
//! `static mut`.

use lock_api::RawMutex;

use super::{ChunkAllocator, ChunkStats, PageAligned, Placement};
use crate::locked::{DefaultLock, Locked};

/// A [`ChunkAllocator`] behind a lock (spin's by default): `Sync`, const-constructible in a
/// `static`, and usable as `#[global_allocator]` or as an `Allocator` (`Vec::new_in(&ALLOCATOR)`).
///
/// Every operation costs what the raw operation costs, plus one uncontended lock.
pub type GlobalChunkAllocator<
    const CHUNK_SIZE: usize = { super::DEFAULT_CHUNK_SIZE },
    R = DefaultLock,
> = Locked<ChunkAllocator<CHUNK_SIZE>, R>;

impl<const CHUNK_SIZE: usize, R: RawMutex> Locked<ChunkAllocator<CHUNK_SIZE>, R> {
    /// Builds the allocator from raw pointers to page-aligned `static`s (`&raw mut HEAP`), as
    /// [`ChunkAllocator::from_static`]; an invalid pair fails to compile in a `static`. O(1).
    ///
    /// # Panics
    /// On any error [`ChunkAllocator::new`] would return (at compile time in a `static`).
    ///
    /// # Safety
    /// As [`ChunkAllocator::from_static`]: both regions belong to this allocator alone, for
    /// the rest of the program.
    pub const unsafe fn from_static<const HEAP: usize, const BITMAP: usize>(
        heap: *mut PageAligned<[u8; HEAP]>,
        bitmap: *mut PageAligned<[u8; BITMAP]>,
    ) -> Self {
        // SAFETY: forwarded from this function's contract.
        Self::new(unsafe { ChunkAllocator::from_static(heap, bitmap) })
    }

    /// Changes where searches start from now on, as [`ChunkAllocator::set_placement`]. O(1)
    /// plus the lock.
    pub fn set_placement(&self, placement: Placement) {
        let mut chunks = self.lock();
        // SAFETY: only the placement changes; the allocator stays in place.
        unsafe { chunks.get_mut() }.set_placement(placement);
    }

    /// A snapshot of the statistics. O(1) plus the lock.
    pub fn stats(&self) -> ChunkStats {
        self.lock().stats()
    }
}
#[cfg(test)]
mod tests {
    use core::alloc::{GlobalAlloc, Layout};

    use allocator_api2::alloc::Allocator;
    use allocator_api2::boxed::Box;
    use allocator_api2::vec::Vec;

    use super::*;
    use crate::chunk::bitmap_len;

    /// A static allocator of `$chunks` chunks of 64 bytes; each test gets its own.
    macro_rules! static_allocator {
        ($chunks:expr) => {{
            static mut HEAP: PageAligned<[u8; $chunks * 64]> =
                crate::heap!(chunks = $chunks, chunksize = 64);
            static mut BITMAP: PageAligned<[u8; bitmap_len($chunks)]> =
                crate::heap_bitmap!(chunks = $chunks);
            static ALLOCATOR: GlobalChunkAllocator<64> =
                // SAFETY: HEAP and BITMAP are private to this block and used only by ALLOCATOR.
                unsafe { GlobalChunkAllocator::from_static(&raw mut HEAP, &raw mut BITMAP) };
            &ALLOCATOR
        }};
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn global_alloc_returns_null_on_exhaustion_and_ignores_invalid_frees() {
        let allocator = static_allocator!(4);
        // SAFETY: every layout has a non-zero size; blocks are freed with their layouts.
        unsafe {
            let big = allocator.alloc(layout(3 * 64, 8));
            assert!(!big.is_null());
            assert!(allocator.alloc(layout(2 * 64, 8)).is_null());
            assert!(
                allocator
                    .alloc(layout(64, 1 << (usize::BITS - 2)))
                    .is_null()
            );
            allocator.dealloc(big.wrapping_add(1), layout(8, 1));
            allocator.dealloc(big.wrapping_add(64 * 3), layout(8, 1));
            assert_eq!(allocator.stats().live_allocations, 1);
            allocator.dealloc(big, layout(3 * 64, 8));
            assert_eq!(allocator.usage().in_use_bytes, 0);
        }
    }

    #[test]
    fn global_realloc_keeps_contents_and_zeroed_allocations_are_zero() {
        let allocator = static_allocator!(8);
        // SAFETY: blocks are used within their sizes and freed with their current layouts.
        unsafe {
            let block = allocator.alloc(layout(64, 8));
            block.write_bytes(0xEE, 64);
            let grown = allocator.realloc(block, layout(64, 8), 200);
            assert_eq!(grown, block, "the following chunks were free");
            assert!(allocator.contains(grown.wrapping_add(199)));
            assert!(allocator.realloc(grown, layout(200, 8), 1000).is_null());
            assert!(
                allocator
                    .realloc(grown, layout(200, 8), usize::MAX)
                    .is_null()
            );
            let shrunk = allocator.realloc(grown, layout(200, 8), 10);
            assert_eq!(*shrunk, 0xEE);
            allocator.dealloc(shrunk, layout(10, 8));
            let zeroed = allocator.alloc_zeroed(layout(100, 8));
            assert!((0..100).all(|i| *zeroed.add(i) == 0));
            allocator.dealloc(zeroed, layout(100, 8));
        }
        assert_eq!(allocator.stats().used_chunks, 0);
        assert_eq!(allocator.inspect(|raw| raw.largest_free_run()), 8);
    }

    #[test]
    fn allocator_api2_collections_work_on_stable() {
        let allocator = static_allocator!(32);
        let mut numbers = Vec::new_in(allocator);
        numbers.extend(0..100u32);
        numbers.shrink_to_fit();
        let boxed = Box::new_in([7u64; 4], allocator);
        assert_eq!(numbers.iter().sum::<u32>(), 4950);
        assert_eq!(boxed[3], 7);
        assert!(allocator.contains(numbers.as_ptr().cast()));
        assert_eq!(allocator.stats().live_allocations, 2);
        drop((numbers, boxed));
        assert_eq!(allocator.stats().used_chunks, 0);
    }

    #[test]
    fn grow_zeroed_zeroes_the_new_part() {
        let allocator = static_allocator!(8);
        let block = allocator.allocate(layout(8, 8)).unwrap().cast::<u8>();
        // SAFETY: the block is live; it is grown and freed with matching layouts.
        unsafe {
            block.write_bytes(0x11, 64);
            let grown = allocator
                .grow_zeroed(block, layout(8, 8), layout(100, 8))
                .unwrap();
            let bytes = core::slice::from_raw_parts(grown.cast::<u8>().as_ptr(), grown.len());
            assert!(bytes[..8].iter().all(|&b| b == 0x11));
            assert!(bytes[8..].iter().all(|&b| b == 0));
            let shrunk = allocator
                .shrink(grown.cast(), layout(100, 8), layout(8, 8))
                .unwrap();
            allocator.deallocate(shrunk.cast(), layout(8, 8));
        }
        assert_eq!(allocator.stats().used_chunks, 0);
    }
}
