//! The locked form of the chunk allocator, for `#[global_allocator]` and `Vec::new_in`.
//!
//! [`GlobalChunkAllocator`] is a [`ChunkAllocator`] behind a `spin::Mutex`: every call takes
//! the lock, runs the raw operation, and turns its result into what the interface expects:
//!
//! ```text
//!   GlobalAlloc::alloc ──lock──► ChunkAllocator::allocate ──► pointer, or null on any error
//!   Allocator::allocate ─lock──► ChunkAllocator::allocate ──► span, or AllocError
//!   dealloc / deallocate ─lock─► ChunkAllocator::deallocate ─► an invalid free is ignored
//! ```
//!
//! No path panics or unwinds. An invalid free cannot be reported through these interfaces
//! (they return nothing), so it is ignored; because the raw allocator refuses it without any
//! change, ignoring it is safe. Callers that want the reason use the raw API.

use core::alloc::{GlobalAlloc, Layout};
use core::ptr::{self, NonNull};

use allocator_api2::alloc::{AllocError, Allocator};
use spin::Mutex;

use super::{ChunkAllocator, ChunkAllocatorError, ChunkStats, PageAligned};

/// A [`ChunkAllocator`] behind a spin lock: `Sync`, const-constructible in a `static`, and
/// usable as `#[global_allocator]` or as an [`Allocator`] (`Vec::new_in(&ALLOCATOR)`).
///
/// Every operation costs what the raw operation costs, plus one uncontended lock.
pub struct GlobalChunkAllocator<const CHUNK_SIZE: usize = { super::DEFAULT_CHUNK_SIZE }> {
    inner: Mutex<ChunkAllocator<CHUNK_SIZE>>,
}

impl<const CHUNK_SIZE: usize> GlobalChunkAllocator<CHUNK_SIZE> {
    /// Builds the allocator over a page-aligned `static` heap and bitmap, as
    /// [`ChunkAllocator::new_const`]: an invalid pair fails to compile in a `static`. O(1).
    ///
    /// # Panics
    /// On any error [`ChunkAllocator::new`] would return.
    pub const fn new<const HEAP: usize, const BITMAP: usize>(
        heap: &'static mut PageAligned<[u8; HEAP]>,
        bitmap: &'static mut PageAligned<[u8; BITMAP]>,
    ) -> Self {
        Self::from_allocator(ChunkAllocator::new_const(heap, bitmap))
    }

    /// Builds the allocator from raw pointers to page-aligned `static`s (`&raw mut HEAP`), as
    /// [`ChunkAllocator::from_static`]; an invalid pair fails to compile in a `static`. O(1).
    ///
    /// # Panics
    /// On any error [`ChunkAllocator::new`] would return.
    ///
    /// # Safety
    /// As [`ChunkAllocator::from_static`]: both regions belong to this allocator alone, for
    /// the rest of the program.
    pub const unsafe fn from_static<const HEAP: usize, const BITMAP: usize>(
        heap: *mut PageAligned<[u8; HEAP]>,
        bitmap: *mut PageAligned<[u8; BITMAP]>,
    ) -> Self {
        // SAFETY: forwarded from this function's contract.
        match unsafe { ChunkAllocator::from_static(heap, bitmap) } {
            Ok(allocator) => Self::from_allocator(allocator),
            Err(error) => error.panic_const(),
        }
    }

    /// Builds the allocator over a page-aligned `static` heap and bitmap. O(1).
    ///
    /// # Errors
    /// As [`ChunkAllocator::new`].
    pub const fn try_new<const HEAP: usize, const BITMAP: usize>(
        heap: &'static mut PageAligned<[u8; HEAP]>,
        bitmap: &'static mut PageAligned<[u8; BITMAP]>,
    ) -> Result<Self, ChunkAllocatorError> {
        match ChunkAllocator::new(heap, bitmap) {
            Ok(allocator) => Ok(Self::from_allocator(allocator)),
            Err(error) => Err(error),
        }
    }

    /// Wraps an existing raw allocator (e.g. one built with
    /// [`ChunkAllocator::from_raw_parts`]). O(1).
    pub const fn from_allocator(allocator: ChunkAllocator<CHUNK_SIZE>) -> Self {
        Self {
            inner: Mutex::new(allocator),
        }
    }

    /// The share of chunks in use, in percent. O(1) plus the lock.
    pub fn usage(&self) -> f32 {
        self.inner.lock().usage()
    }

    /// A snapshot of the statistics. O(1) plus the lock.
    pub fn stats(&self) -> ChunkStats {
        self.inner.lock().stats()
    }

    /// Whether `ptr`'s address lies inside the heap. O(1) plus the lock.
    pub fn contains(&self, ptr: *const u8) -> bool {
        self.inner.lock().contains(ptr)
    }

    /// Runs `inspect` on the raw allocator under the lock, e.g. to read the occupancy with
    /// [`ChunkAllocator::used_chunks_in`]. The lock is held for the whole call, so `inspect`
    /// must not allocate from this allocator (that would spin forever).
    pub fn inspect<R>(&self, inspect: impl FnOnce(&ChunkAllocator<CHUNK_SIZE>) -> R) -> R {
        inspect(&self.inner.lock())
    }
}

// SAFETY: blocks come from the raw allocator, which hands out disjoint spans of at least
// `layout.size()` bytes with the layout's alignment, inside memory it owns; the lock makes
// the calls from several threads one after another; no method panics.
unsafe impl<const CHUNK_SIZE: usize> GlobalAlloc for GlobalChunkAllocator<CHUNK_SIZE> {
    /// A block, or null when no run of chunks fits. Costs as [`ChunkAllocator::allocate`].
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.inner.lock().allocate(layout) {
            Ok(block) => block.cast::<u8>().as_ptr(),
            Err(_) => ptr::null_mut(),
        }
    }

    /// A zeroed block, or null. Zeroing costs O(`layout.size()`) after the lock is released.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: `layout` comes from our caller, who upholds `alloc`'s contract.
        let block = unsafe { self.alloc(layout) };
        if !block.is_null() {
            // SAFETY: a non-null block is ours to write for at least `layout.size()` bytes.
            unsafe { block.write_bytes(0, layout.size()) };
        }
        block
    }

    /// Frees the block; an invalid free is ignored (the raw allocator refused it without any
    /// change). Costs as [`ChunkAllocator::deallocate`].
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let _refused = self.inner.lock().deallocate(ptr, layout);
    }

    /// Resizes in place when possible, else moves; null (old block untouched) on failure or
    /// when `new_size` with the old alignment is not a valid layout.
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return ptr::null_mut();
        };
        match self.inner.lock().realloc(ptr, layout, new_layout) {
            Ok(block) => block.cast::<u8>().as_ptr(),
            Err(_) => ptr::null_mut(),
        }
    }
}

impl<const CHUNK_SIZE: usize> GlobalChunkAllocator<CHUNK_SIZE> {
    /// The raw `realloc` under the lock, with the error collapsed.
    fn resize(
        &self,
        ptr: NonNull<u8>,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.inner
            .lock()
            .realloc(ptr.as_ptr(), old, new)
            .map_err(|_| AllocError)
    }
}

// SAFETY: a returned block stays valid until it is passed to `deallocate`, `grow` or
// `shrink` (the raw allocator never reuses a live block's chunks); the spans satisfy the
// layouts; the lock serialises calls through any reference to the same allocator, so clones
// of `&GlobalChunkAllocator` all refer to one heap.
unsafe impl<const CHUNK_SIZE: usize> Allocator for GlobalChunkAllocator<CHUNK_SIZE> {
    fn allocate(&self, layout: Layout) -> Result<NonNull<[u8]>, AllocError> {
        self.inner.lock().allocate(layout).map_err(|_| AllocError)
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        let _refused = self.inner.lock().deallocate(ptr.as_ptr(), layout);
    }

    unsafe fn grow(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.resize(ptr, old_layout, new_layout)
    }

    unsafe fn grow_zeroed(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        let block = self.resize(ptr, old_layout, new_layout)?;
        let fresh = block.len() - old_layout.size();
        // SAFETY: the block is ours for `block.len()` bytes, and `old_layout.size()` is at
        // most `new_layout.size()`, which the block covers.
        unsafe {
            block
                .cast::<u8>()
                .byte_add(old_layout.size())
                .write_bytes(0, fresh)
        };
        Ok(block)
    }

    unsafe fn shrink(
        &self,
        ptr: NonNull<u8>,
        old_layout: Layout,
        new_layout: Layout,
    ) -> Result<NonNull<[u8]>, AllocError> {
        self.resize(ptr, old_layout, new_layout)
    }
}

#[cfg(test)]
mod tests {
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
            assert!(allocator.alloc(layout(64, 1 << 62)).is_null());
            allocator.dealloc(big.wrapping_add(1), layout(8, 1));
            allocator.dealloc(big.wrapping_add(64 * 3), layout(8, 1));
            assert_eq!(allocator.stats().live_allocations, 1);
            allocator.dealloc(big, layout(3 * 64, 8));
            assert_eq!(allocator.usage(), 0.0);
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
