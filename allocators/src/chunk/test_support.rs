//! Test-only memory for chunk allocators.
//!
//! An [`Arena`] takes a heap and a bitmap from the test's own allocator and returns them on
//! drop, so tests need neither `static mut` nor leaked memory (Miri reports leaks). The
//! bitmap starts full of garbage, to show that its initial contents do not matter.
//!
//! ```text
//!   Arena ── heap:   [ chunks * CHUNK_SIZE bytes, aligned to HEAP_ALIGN ]
//!         └─ bitmap: [ bitmap_len(chunks) bytes of 0xA5, 8-byte aligned ]
//! ```

use core::alloc::Layout;
use core::ptr::NonNull;

use super::{ChunkAllocator, ChunkAllocatorError, bitmap_len};

/// The alignment of every test heap: a page, as `PageAligned` gives.
pub(crate) const HEAP_ALIGN: usize = 4096;

/// A heap and a bitmap owned by a test; allocators built on it must not outlive it.
pub(crate) struct Arena {
    heap: NonNull<u8>,
    heap_layout: Layout,
    bitmap: NonNull<u8>,
    bitmap_layout: Layout,
}

impl Arena {
    /// Memory for `chunks` chunks of `chunk_size` bytes.
    pub(crate) fn new(chunks: usize, chunk_size: usize) -> Self {
        Self::with_lengths(chunks * chunk_size, bitmap_len(chunks))
    }

    /// Memory with the given lengths (both non-zero), for constructor tests.
    pub(crate) fn with_lengths(heap_len: usize, bitmap_len: usize) -> Self {
        let heap_layout = Layout::from_size_align(heap_len, HEAP_ALIGN).unwrap();
        let bitmap_layout = Layout::from_size_align(bitmap_len, 8).unwrap();
        // SAFETY: both layouts have a non-zero size (the callers pass non-zero lengths).
        let (heap, bitmap) = unsafe {
            (
                std::alloc::alloc_zeroed(heap_layout),
                std::alloc::alloc(bitmap_layout),
            )
        };
        let heap = NonNull::new(heap).expect("test heap");
        let bitmap = NonNull::new(bitmap).expect("test bitmap");
        // SAFETY: the bitmap was just allocated with `bitmap_len` bytes.
        unsafe { bitmap.write_bytes(0xA5, bitmap_len) };
        Self {
            heap,
            heap_layout,
            bitmap,
            bitmap_layout,
        }
    }

    /// The heap's start address.
    pub(crate) fn heap_addr(&self) -> usize {
        self.heap.addr().get()
    }

    /// A pointer `offset` bytes into the heap, with the heap's provenance.
    pub(crate) fn heap_ptr(&self, offset: usize) -> *mut u8 {
        self.heap.as_ptr().wrapping_add(offset)
    }

    /// A pointer to the bitmap's first byte, with the bitmap's provenance (to corrupt it).
    pub(crate) fn bitmap_ptr(&self) -> *mut u8 {
        self.bitmap.as_ptr()
    }

    /// An allocator over the whole arena.
    pub(crate) fn allocator<const CHUNK_SIZE: usize>(
        &self,
    ) -> Result<ChunkAllocator<CHUNK_SIZE>, ChunkAllocatorError> {
        self.allocator_at(0, self.heap_layout.size(), 0, self.bitmap_layout.size())
    }

    /// An allocator over parts of the arena, for constructor tests.
    pub(crate) fn allocator_at<const CHUNK_SIZE: usize>(
        &self,
        heap_offset: usize,
        heap_len: usize,
        bitmap_offset: usize,
        bitmap_len: usize,
    ) -> Result<ChunkAllocator<CHUNK_SIZE>, ChunkAllocatorError> {
        assert!(heap_offset + heap_len <= self.heap_layout.size());
        assert!(bitmap_offset + bitmap_len <= self.bitmap_layout.size());
        // SAFETY: both parts lie inside this arena's two separate allocations, which outlive
        // the allocator (the tests drop the allocator first), and only it uses them.
        unsafe {
            ChunkAllocator::from_raw_parts(
                self.heap.byte_add(heap_offset),
                heap_len,
                self.bitmap.byte_add(bitmap_offset),
                bitmap_len,
            )
        }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: both pointers came from the system allocator with these layouts.
        unsafe {
            std::alloc::dealloc(self.heap.as_ptr(), self.heap_layout);
            std::alloc::dealloc(self.bitmap.as_ptr(), self.bitmap_layout);
        }
    }
}
