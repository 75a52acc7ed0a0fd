//! The allocation policy: which chunks a request gets, and the bookkeeping around it.
//!
//! A request of `size` bytes takes `max(1, ceil(size / CHUNK_SIZE))` consecutive chunks. The
//! search is next-fit: it starts at a roving cursor just past the previous allocation and, if
//! nothing fits before the end of the heap, wraps around once to the start:
//!
//! ```text
//!   heap:    [###.....####..##########.......###...]
//!                             cursor ^
//!   pass 1:                          [cursor .. end)
//!   pass 2:  [0 .. cursor + n - 1)   (runs that start before the cursor)
//! ```
//!
//! Alignments up to the chunk size hold for every chunk because the heap is chunk-aligned.
//! A larger alignment allows only every `align / CHUNK_SIZE`-th chunk, counted from the first
//! chunk whose address has that alignment; the bitmap search honours such a
//! [`StartRule`]. Any power of two is honoured as long as some address in the heap has it.
//!
//! Statistics are counters updated by each operation, so reading them is O(1).

use core::alloc::Layout;
use core::ptr::NonNull;

use super::bitmap::{Bitmap, StartRule, bitmap_words};
use super::{ChunkAllocatorError, PAGE_SIZE, PageAligned, bitmap_len};
use crate::FreeError;

/// A snapshot of a [`ChunkAllocator`]'s statistics, taken in O(1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChunkStats {
    /// Bytes per chunk.
    pub chunk_size: usize,
    /// Chunks in the heap.
    pub chunk_count: usize,
    /// Chunks held by live blocks.
    pub used_chunks: usize,
    /// Chunks not held by any block.
    pub free_chunks: usize,
    /// Bytes held by live blocks, rounded up to whole chunks (`used_chunks * chunk_size`).
    pub used_bytes: usize,
    /// Bytes the callers asked for in the layouts of live blocks.
    pub requested_bytes: usize,
    /// The highest `used_bytes` ever reached.
    pub peak_used_bytes: usize,
    /// Blocks currently allocated.
    pub live_allocations: usize,
    /// Successful `allocate` calls since construction (reallocations not counted).
    pub total_allocations: u64,
}

/// The running counters behind [`ChunkStats`].
#[derive(Debug, Clone, Copy)]
struct Counters {
    used_chunks: usize,
    peak_used_chunks: usize,
    requested_bytes: usize,
    live_allocations: usize,
    total_allocations: u64,
}

/// A bitmap allocator that hands out runs of `CHUNK_SIZE`-byte chunks from memory the caller
/// supplies, with one bit of bookkeeping per chunk.
///
/// The single-threaded raw form: every mutating call takes `&mut self` and reports failures
/// as values. [`GlobalChunkAllocator`](super::GlobalChunkAllocator) wraps it in a lock.
///
/// Costs (n = chunks of the request, C = chunks in the heap):
/// allocation O(C/4096 + visited non-full words), at most O(C/64) word steps, plus O(n/64)
/// to mark; free O(n/64 + 1); queries O(1) except where stated.
pub struct ChunkAllocator<const CHUNK_SIZE: usize = { super::DEFAULT_CHUNK_SIZE }> {
    /// The start of the heap, carrying the provenance of the whole heap memory.
    heap: NonNull<u8>,
    /// Number of chunks in the heap.
    chunks: usize,
    bitmap: Bitmap,
    /// Where the next search starts (next-fit).
    cursor: usize,
    counters: Counters,
}

// SAFETY: the allocator exclusively owns its heap and bitmap memory (a constructor
// requirement); its raw pointers are not shared with anything that stays behind on the
// sending thread, so moving it to another thread moves that ownership with it.
unsafe impl<const CHUNK_SIZE: usize> Send for ChunkAllocator<CHUNK_SIZE> {}

impl<const CHUNK_SIZE: usize> ChunkAllocator<CHUNK_SIZE> {
    /// Builds an allocator over a page-aligned `static` heap and bitmap (see
    /// [`heap!`](crate::heap) and [`heap_bitmap!`](crate::heap_bitmap)), checking every
    /// requirement; usable in `const` and `static` initialisers. O(1): the bitmap is cleared
    /// on first use, so its initial contents do not matter.
    ///
    /// The page alignment of [`PageAligned`] is what proves the heap chunk-aligned here (a
    /// pointer's address cannot be read in a `const` context), so a `CHUNK_SIZE` above 4096
    /// is refused as [`BadHeapMemory`](ChunkAllocatorError::BadHeapMemory); use
    /// [`from_raw_parts`](Self::from_raw_parts) for such heaps.
    ///
    /// # Errors
    /// [`BadChunkSize`](ChunkAllocatorError::BadChunkSize) if `CHUNK_SIZE` is not a non-zero
    /// power of two; [`BadHeapMemory`](ChunkAllocatorError::BadHeapMemory) if `HEAP` is zero
    /// or not a multiple of `CHUNK_SIZE`; [`BadBitmapMemory`](ChunkAllocatorError::BadBitmapMemory)
    /// if `BITMAP != bitmap_len(HEAP / CHUNK_SIZE)`.
    pub const fn new<const HEAP: usize, const BITMAP: usize>(
        heap: &'static mut PageAligned<[u8; HEAP]>,
        bitmap: &'static mut PageAligned<[u8; BITMAP]>,
    ) -> Result<Self, ChunkAllocatorError> {
        let chunks = match Self::check(HEAP, CHUNK_SIZE <= PAGE_SIZE, BITMAP, true) {
            Ok(chunks) => chunks,
            Err(error) => return Err(error),
        };
        // SAFETY: pointers taken from references are never null.
        let heap = unsafe { NonNull::new_unchecked(heap.get_mut().as_mut_ptr()) };
        // SAFETY: as above.
        let words = unsafe { NonNull::new_unchecked(bitmap.get_mut().as_mut_ptr()) }.cast::<u64>();
        // SAFETY: the bitmap is page-aligned, exactly `bitmap_words(chunks)` words long (just
        // checked), and the `'static` exclusive borrow hands it to us for good.
        Ok(unsafe { Self::assemble(heap, chunks, words) })
    }

    /// Like [`new`](Self::new), but panics on an error; in a `const` or `static` initialiser
    /// that panic is a compile error, which is the intended use. O(1).
    ///
    /// # Panics
    /// On any error [`new`](Self::new) would return.
    pub const fn new_const<const HEAP: usize, const BITMAP: usize>(
        heap: &'static mut PageAligned<[u8; HEAP]>,
        bitmap: &'static mut PageAligned<[u8; BITMAP]>,
    ) -> Self {
        match Self::new(heap, bitmap) {
            Ok(allocator) => allocator,
            Err(error) => error.panic_const(),
        }
    }

    /// Builds an allocator over arbitrary `'static` slices (e.g. leaked or mapped memory),
    /// checking alignment at run time. O(1).
    ///
    /// # Errors
    /// As [`new`](Self::new), plus [`BadHeapMemory`](ChunkAllocatorError::BadHeapMemory) if
    /// the heap is not aligned to `CHUNK_SIZE` and
    /// [`BadBitmapMemory`](ChunkAllocatorError::BadBitmapMemory) if the bitmap is not 8-byte
    /// aligned.
    pub fn from_slices(
        heap: &'static mut [u8],
        bitmap: &'static mut [u8],
    ) -> Result<Self, ChunkAllocatorError> {
        let (heap_len, bitmap_len) = (heap.len(), bitmap.len());
        // SAFETY: the `'static` exclusive borrows give us both regions, valid and unaliased,
        // for good; `from_raw_parts` checks everything else.
        unsafe {
            Self::from_raw_parts(
                NonNull::from(heap).cast(),
                heap_len,
                NonNull::from(bitmap).cast(),
                bitmap_len,
            )
        }
    }

    /// Builds an allocator over raw memory, checking sizes and alignments at run time. O(1).
    ///
    /// # Errors
    /// As [`from_slices`](Self::from_slices).
    ///
    /// # Safety
    /// `heap` must be valid for reads and writes of `heap_len` bytes and `bitmap` of
    /// `bitmap_len` bytes, both for as long as the allocator or any block it hands out is in
    /// use, the two regions must not overlap, and nothing else may access them meanwhile
    /// (except through the blocks handed out).
    pub unsafe fn from_raw_parts(
        heap: NonNull<u8>,
        heap_len: usize,
        bitmap: NonNull<u8>,
        bitmap_len: usize,
    ) -> Result<Self, ChunkAllocatorError> {
        let heap_aligned =
            CHUNK_SIZE.is_power_of_two() && heap.addr().get().is_multiple_of(CHUNK_SIZE);
        let bitmap_aligned = bitmap.addr().get().is_multiple_of(align_of::<u64>());
        let chunks = Self::check(heap_len, heap_aligned, bitmap_len, bitmap_aligned)?;
        // SAFETY: the caller hands us both regions exclusively; the bitmap is 8-byte aligned
        // and exactly `bitmap_words(chunks)` words long (just checked).
        Ok(unsafe { Self::assemble(heap, chunks, bitmap.cast()) })
    }

    /// Validates the memory and returns the number of chunks.
    const fn check(
        heap_len: usize,
        heap_aligned: bool,
        bitmap_bytes: usize,
        bitmap_aligned: bool,
    ) -> Result<usize, ChunkAllocatorError> {
        if !CHUNK_SIZE.is_power_of_two() {
            return Err(ChunkAllocatorError::BadChunkSize);
        }
        if heap_len == 0 || !heap_len.is_multiple_of(CHUNK_SIZE) || !heap_aligned {
            return Err(ChunkAllocatorError::BadHeapMemory);
        }
        let chunks = heap_len / CHUNK_SIZE;
        if bitmap_bytes != bitmap_len(chunks) || !bitmap_aligned {
            return Err(ChunkAllocatorError::BadBitmapMemory);
        }
        Ok(chunks)
    }

    /// Puts the checked parts together.
    ///
    /// # Safety
    /// `words` is 8-byte aligned, valid for `bitmap_words(chunks)` words and exclusively ours.
    const unsafe fn assemble(heap: NonNull<u8>, chunks: usize, words: NonNull<u64>) -> Self {
        debug_assert!(bitmap_words(chunks) * 8 == bitmap_len(chunks));
        Self {
            heap,
            chunks,
            // SAFETY: forwarded from this function's contract.
            bitmap: unsafe { Bitmap::new(words, chunks) },
            cursor: 0,
            counters: Counters {
                used_chunks: 0,
                peak_used_chunks: 0,
                requested_bytes: 0,
                live_allocations: 0,
                total_allocations: 0,
            },
        }
    }

    /// Allocates a block for `layout` and returns its whole chunk span (at least
    /// `layout.size()` bytes, at least one chunk). The contents are unspecified.
    ///
    /// O(C/4096 + visited non-full words) to search, at most O(C/64); O(n/64) to mark.
    ///
    /// # Errors
    /// [`OutOfMemory`](ChunkAllocatorError::OutOfMemory) if no suitable run of free chunks
    /// exists; [`BadAlignment`](ChunkAllocatorError::BadAlignment) if no address in the heap
    /// has the alignment. Nothing changes on error.
    pub fn allocate(&mut self, layout: Layout) -> Result<NonNull<[u8]>, ChunkAllocatorError> {
        let (index, chunks) = self.claim(layout)?;
        self.counters.requested_bytes += layout.size();
        self.counters.live_allocations += 1;
        self.counters.total_allocations += 1;
        Ok(self.span(index, chunks))
    }

    /// Frees the block at `ptr` that was allocated with `layout` (any layout whose size needs
    /// the same number of chunks and whose alignment `ptr` meets is accepted). O(n/64 + 1).
    ///
    /// # Errors
    /// Checked in this order, each leaving the allocator unchanged:
    /// [`NullPtrFree`](FreeError::NullPtrFree); [`FreeOutOfBounds`](FreeError::FreeOutOfBounds)
    /// if `ptr` is outside the heap; [`UnalignedFree`](FreeError::UnalignedFree) if `ptr` is
    /// not on a chunk boundary or not aligned to `layout.align()`;
    /// [`DoubleFree`](FreeError::DoubleFree) if the chunk at `ptr` is free;
    /// [`CorruptedBlock`](FreeError::CorruptedBlock) if the span `layout` implies runs past the
    /// heap or over a free chunk.
    ///
    /// Not detectable with one bit per chunk: a pointer to a chunk boundary inside a live
    /// multi-chunk block, or a layout smaller than the block's, when all chunks of the implied
    /// span are in use; such a free releases those chunks only.
    pub fn deallocate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        let (index, chunks) = self.locate(ptr, layout)?;
        self.release(index, chunks);
        self.counters.requested_bytes = self.counters.requested_bytes.saturating_sub(layout.size());
        self.counters.live_allocations -= 1;
        Ok(())
    }

    /// Resizes the block at `ptr` (allocated with `old`) to `new`, keeping its first
    /// `min(old.size(), new.size())` bytes, and returns its new chunk span.
    ///
    /// In place when `ptr` meets `new.align()` and either the held chunks suffice (a smaller
    /// block frees its tail chunks) or the chunks right after the block are free (it grows
    /// into them): O(n/64 + 1). Otherwise the block moves: an allocation, a copy and a free.
    ///
    /// # Errors
    /// [`InvalidBlock`](ChunkAllocatorError::InvalidBlock) with the reason
    /// [`deallocate`](Self::deallocate) would give; otherwise as [`allocate`](Self::allocate).
    /// On error the old block is untouched and still allocated.
    pub fn realloc(
        &mut self,
        ptr: *mut u8,
        old: Layout,
        new: Layout,
    ) -> Result<NonNull<[u8]>, ChunkAllocatorError> {
        let (index, old_chunks) = self
            .locate(ptr, old)
            .map_err(ChunkAllocatorError::InvalidBlock)?;
        let new_chunks = self.chunks_for(new.size())?;
        let resized = if ptr.addr().is_multiple_of(new.align()) {
            self.resize_in_place(index, old_chunks, new_chunks)
        } else {
            false
        };
        let index = if resized {
            index
        } else {
            self.move_block(index, old_chunks, old.size().min(new.size()), new)?
        };
        let kept = self.counters.requested_bytes.saturating_sub(old.size());
        self.counters.requested_bytes = kept + new.size();
        Ok(self.span(index, new_chunks))
    }

    /// Shrinks or grows the block at `index` without moving it, if the chunks allow.
    fn resize_in_place(&mut self, index: usize, old_chunks: usize, new_chunks: usize) -> bool {
        if new_chunks < old_chunks {
            self.release(index + new_chunks, old_chunks - new_chunks);
            return true;
        }
        if new_chunks == old_chunks {
            return true;
        }
        let (tail, end) = (index + old_chunks, index + new_chunks);
        if end > self.chunks || !self.bitmap.all_free(tail, end) {
            return false;
        }
        self.bitmap.set_range(tail, end);
        self.note_claimed(end - tail);
        true
    }

    /// Moves a block to a fresh span for `new`, copying `keep` bytes; returns the new index.
    fn move_block(
        &mut self,
        index: usize,
        old_chunks: usize,
        keep: usize,
        new: Layout,
    ) -> Result<usize, ChunkAllocatorError> {
        let (target, _) = self.claim(new)?;
        let source = self.chunk_ptr(index);
        let destination = self.chunk_ptr(target);
        // SAFETY: both spans lie in the heap (their chunks were checked or just found), they
        // are distinct live blocks so they do not overlap, and `keep` fits in both since it
        // is at most each layout's size, which each span covers.
        unsafe { core::ptr::copy_nonoverlapping(source.as_ptr(), destination.as_ptr(), keep) };
        self.release(index, old_chunks);
        Ok(target)
    }

    /// Finds and marks chunks for `layout`; returns the first chunk index and the count.
    fn claim(&mut self, layout: Layout) -> Result<(usize, usize), ChunkAllocatorError> {
        let chunks = self.chunks_for(layout.size())?;
        let rule = self.start_rule(layout.align())?;
        self.bitmap.ensure_ready();
        let index = self
            .find(chunks, rule)
            .ok_or(ChunkAllocatorError::OutOfMemory)?;
        self.bitmap.set_range(index, index + chunks);
        self.cursor = (index + chunks) % self.chunks;
        self.note_claimed(chunks);
        Ok((index, chunks))
    }

    /// Next-fit: from the cursor to the end, then from the start to just past the cursor.
    fn find(&self, chunks: usize, rule: StartRule) -> Option<usize> {
        let cursor = self.cursor;
        self.bitmap
            .find_run(cursor, self.chunks, chunks, rule)
            .or_else(|| {
                let wrap_end = self.chunks.min(cursor + chunks - 1);
                self.bitmap.find_run(0, wrap_end, chunks, rule)
            })
    }

    /// Frees chunks `index..index + chunks` (known to be in use).
    fn release(&mut self, index: usize, chunks: usize) {
        self.bitmap.clear_range(index, index + chunks);
        self.counters.used_chunks -= chunks;
    }

    /// Counts newly used chunks and raises the peak.
    fn note_claimed(&mut self, chunks: usize) {
        self.counters.used_chunks += chunks;
        self.counters.peak_used_chunks = self
            .counters
            .peak_used_chunks
            .max(self.counters.used_chunks);
    }

    /// Chunks needed for `size` bytes (one for zero bytes).
    fn chunks_for(&self, size: usize) -> Result<usize, ChunkAllocatorError> {
        let chunks = size.div_ceil(CHUNK_SIZE).max(1);
        if chunks > self.chunks {
            return Err(ChunkAllocatorError::OutOfMemory);
        }
        Ok(chunks)
    }

    /// Which chunk indices may start a block with alignment `align`.
    fn start_rule(&self, align: usize) -> Result<StartRule, ChunkAllocatorError> {
        if align <= CHUNK_SIZE {
            return Ok(StartRule::ANY);
        }
        // Bytes from the heap start to the first address with this alignment; a multiple of
        // the chunk size because both the heap start and `align` are.
        let lead = self.heap.addr().get().wrapping_neg() & (align - 1);
        let rule = StartRule::new(align / CHUNK_SIZE, lead / CHUNK_SIZE);
        if rule.first_at_or_after(0) >= self.chunks {
            return Err(ChunkAllocatorError::BadAlignment);
        }
        Ok(rule)
    }

    /// Checks that `ptr` and `layout` describe a live block; returns its index and chunk count.
    fn locate(&mut self, ptr: *mut u8, layout: Layout) -> Result<(usize, usize), FreeError> {
        if ptr.is_null() {
            return Err(FreeError::NullPtrFree);
        }
        let offset = ptr.addr().wrapping_sub(self.heap.addr().get());
        if offset >= self.capacity() {
            return Err(FreeError::FreeOutOfBounds);
        }
        if !offset.is_multiple_of(CHUNK_SIZE) || !ptr.addr().is_multiple_of(layout.align()) {
            return Err(FreeError::UnalignedFree);
        }
        let index = offset / CHUNK_SIZE;
        self.bitmap.ensure_ready();
        if !self.bitmap.is_used(index) {
            return Err(FreeError::DoubleFree);
        }
        let chunks = layout.size().div_ceil(CHUNK_SIZE).max(1);
        if chunks > self.chunks - index || !self.bitmap.all_used(index, index + chunks) {
            return Err(FreeError::CorruptedBlock);
        }
        Ok((index, chunks))
    }

    /// The address of chunk `index` (at most `chunks`), with the heap's provenance.
    fn chunk_ptr(&self, index: usize) -> NonNull<u8> {
        debug_assert!(index <= self.chunks);
        // SAFETY: `index * CHUNK_SIZE` is at most the heap length, so the result stays within
        // (or one past) the heap allocation the pointer came from.
        unsafe { self.heap.byte_add(index * CHUNK_SIZE) }
    }

    /// The block of `chunks` chunks starting at chunk `index`.
    fn span(&self, index: usize, chunks: usize) -> NonNull<[u8]> {
        NonNull::slice_from_raw_parts(self.chunk_ptr(index), chunks * CHUNK_SIZE)
    }

    /// The share of chunks in use, in percent (0.0 to 100.0). O(1).
    pub fn usage(&self) -> f32 {
        self.counters.used_chunks as f32 * 100.0 / self.chunks as f32
    }

    /// A snapshot of the statistics. O(1).
    pub fn stats(&self) -> ChunkStats {
        let c = self.counters;
        ChunkStats {
            chunk_size: CHUNK_SIZE,
            chunk_count: self.chunks,
            used_chunks: c.used_chunks,
            free_chunks: self.chunks - c.used_chunks,
            used_bytes: c.used_chunks * CHUNK_SIZE,
            requested_bytes: c.requested_bytes,
            peak_used_bytes: c.peak_used_chunks * CHUNK_SIZE,
            live_allocations: c.live_allocations,
            total_allocations: c.total_allocations,
        }
    }

    /// The longest run of free chunks, i.e. the largest block that could be allocated now
    /// (with alignment up to the chunk size). O(C/64): it scans the bitmap, unlike
    /// [`stats`](Self::stats).
    pub fn largest_free_run(&self) -> usize {
        self.bitmap.largest_free_run()
    }

    /// The heap size in bytes. O(1).
    pub fn capacity(&self) -> usize {
        self.chunks * CHUNK_SIZE
    }

    /// The number of chunks in the heap. O(1).
    pub fn chunk_count(&self) -> usize {
        self.chunks
    }

    /// The chunk size in bytes. O(1).
    pub const fn chunk_size(&self) -> usize {
        CHUNK_SIZE
    }

    /// The alignment every block has whatever its layout asks: the chunk size. O(1).
    pub const fn min_alignment(&self) -> usize {
        CHUNK_SIZE
    }

    /// Whether `ptr`'s address lies inside the heap (whether or not it is allocated). O(1).
    pub fn contains(&self, ptr: *const u8) -> bool {
        ptr.addr().wrapping_sub(self.heap.addr().get()) < self.capacity()
    }

    /// Whether chunk `index` is in use; `false` past the end. O(1).
    pub fn is_chunk_used(&self, index: usize) -> bool {
        index < self.chunks && self.bitmap.is_used(index)
    }

    /// How many chunks of `range` (clamped to the heap) are in use, e.g. to draw one cell of
    /// a picture of the heap per group of chunks. O(range length / 64 + 1).
    pub fn used_chunks_in(&self, range: core::ops::Range<usize>) -> usize {
        let end = range.end.min(self.chunks);
        if range.start >= end {
            return 0;
        }
        self.bitmap.count_used(range.start, end)
    }
}
