//! The chunk allocator under test: [`RawChunk`] (the raw [`ChunkAllocator`]) and
//! [`LockedChunk`] (the [`GlobalChunkAllocator`]), both over a page-aligned arena.
//!
//! The model predicts the held bytes exactly: a block of `size` bytes holds
//! `max(1, ceil(size / CHUNK_SIZE))` chunks, and a reallocation holds the chunks of its new
//! size (a shrink frees the tail: the seed crate leaked it).

use std::alloc::Layout;
use std::ptr::NonNull;

use bareheap::chunk::{ChunkStats, bitmap_len};
use bareheap::{ChunkAllocator, FreeError, GlobalChunkAllocator};

use crate::{Accounting, Arena, CheckedFree, Inspect, LockedForm, Subject};

/// The chunk size of the allocators under test: small, so small heaps have many chunks.
pub const CHUNK_SIZE: usize = 64;

/// The heap alignment: a page, so alignments up to 4096 are all satisfiable.
const HEAP_ALIGN: usize = 4096;

/// A chunk allocator over a fresh arena of `chunks` chunks, and its heap and bitmap arenas.
fn build(chunks: usize) -> (ChunkAllocator<CHUNK_SIZE>, Arena, Arena) {
    let heap = Arena::new(chunks * CHUNK_SIZE, HEAP_ALIGN);
    let bitmap = Arena::new(bitmap_len(chunks), 8);
    // SAFETY: both arenas are owned by the adapter that keeps this allocator, live as long as
    // it (declared after it), do not overlap, and nothing else touches them.
    let allocator = unsafe {
        ChunkAllocator::from_raw_parts(heap.start(), heap.len(), bitmap.start(), bitmap.len())
    };
    (allocator.expect("valid arenas"), heap, bitmap)
}

fn accounting(stats: ChunkStats) -> Accounting {
    Accounting {
        live_blocks: stats.live_allocations,
        requested_bytes: Some(stats.requested_bytes),
        held_bytes: Some(stats.used_bytes),
    }
}

fn held_bytes(layout: Layout) -> usize {
    layout.size().div_ceil(CHUNK_SIZE).max(1) * CHUNK_SIZE
}

/// The counters against the bitmap.
fn consistency(allocator: &ChunkAllocator<CHUNK_SIZE>) -> Result<(), String> {
    let stats = allocator.stats();
    let counted = allocator.used_chunks_in(0..stats.chunk_count);
    if counted != stats.used_chunks || stats.used_chunks + stats.free_chunks != stats.chunk_count {
        return Err(format!(
            "bitmap has {counted} used chunks, stats say {stats:?}"
        ));
    }
    if allocator.largest_free_run() > stats.free_chunks {
        return Err(format!("free run longer than the free chunks: {stats:?}"));
    }
    Ok(())
}

/// Every chunk free, in one run.
fn all_free(allocator: &ChunkAllocator<CHUNK_SIZE>) -> Result<(), String> {
    let stats = allocator.stats();
    let whole = allocator.largest_free_run() == stats.chunk_count;
    if stats.used_chunks != 0 || stats.requested_bytes != 0 || !whole {
        return Err(format!(
            "chunks still held after freeing everything: {stats:?}"
        ));
    }
    Ok(())
}

/// The raw chunk allocator, driven through `allocate` / `deallocate` / `realloc`.
pub struct RawChunk {
    allocator: ChunkAllocator<CHUNK_SIZE>,
    heap: Arena,
    _bitmap: Arena,
}

impl RawChunk {
    /// An allocator of `chunks` chunks of [`CHUNK_SIZE`] bytes. O(chunks) for the arenas.
    #[must_use]
    pub fn new(chunks: usize) -> Self {
        let (allocator, heap, bitmap) = build(chunks);
        Self {
            allocator,
            heap,
            _bitmap: bitmap,
        }
    }

    /// The allocator itself, for calls outside the [`Subject`] interface. O(1).
    pub fn raw(&mut self) -> &mut ChunkAllocator<CHUNK_SIZE> {
        &mut self.allocator
    }
}

impl Inspect for RawChunk {
    const NAME: &'static str = "chunk (raw)";
    const RETURNS_ALL_MEMORY: bool = true;

    fn capacity(&self) -> usize {
        self.allocator.capacity()
    }

    fn supports(&self, layout: Layout) -> bool {
        layout.size() <= self.capacity()
    }

    fn accounting(&self) -> Accounting {
        accounting(self.allocator.stats())
    }

    fn held_bytes(&self, layout: Layout) -> Option<usize> {
        Some(held_bytes(layout))
    }

    fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
        self.heap.holds(ptr, len)
    }

    fn check_consistency(&self) -> Result<(), String> {
        consistency(&self.allocator)
    }

    fn check_all_free(&self) -> Result<(), String> {
        all_free(&self.allocator)
    }
}

impl Subject for RawChunk {
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.allocator.allocate(layout).ok().map(NonNull::cast)
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        self.allocator.deallocate(ptr.as_ptr(), layout)
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let new = Layout::from_size_align(new_size, layout.align()).ok()?;
        let block = self.allocator.realloc(ptr.as_ptr(), layout, new).ok()?;
        Some(block.cast())
    }
}

impl CheckedFree for RawChunk {
    unsafe fn checked_free(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        self.allocator.deallocate(ptr, layout)
    }
}

/// The locked chunk allocator over an arena.
pub struct LockedChunk {
    allocator: GlobalChunkAllocator<CHUNK_SIZE>,
    heap: Arena,
    _bitmap: Arena,
}

impl LockedChunk {
    /// A locked allocator of `chunks` chunks of [`CHUNK_SIZE`] bytes. O(chunks).
    #[must_use]
    pub fn new(chunks: usize) -> Self {
        let (allocator, heap, bitmap) = build(chunks);
        Self {
            allocator: GlobalChunkAllocator::from_allocator(allocator),
            heap,
            _bitmap: bitmap,
        }
    }
}

impl Inspect for LockedChunk {
    const NAME: &'static str = "chunk (locked)";
    const RETURNS_ALL_MEMORY: bool = true;

    fn capacity(&self) -> usize {
        self.allocator.inspect(ChunkAllocator::capacity)
    }

    fn supports(&self, layout: Layout) -> bool {
        layout.size() <= self.capacity()
    }

    fn accounting(&self) -> Accounting {
        accounting(self.allocator.stats())
    }

    fn held_bytes(&self, layout: Layout) -> Option<usize> {
        Some(held_bytes(layout))
    }

    fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
        self.heap.holds(ptr, len)
    }

    fn check_consistency(&self) -> Result<(), String> {
        self.allocator.inspect(consistency)
    }

    fn check_all_free(&self) -> Result<(), String> {
        self.allocator.inspect(all_free)
    }
}

impl LockedForm for LockedChunk {
    type Allocator = GlobalChunkAllocator<CHUNK_SIZE>;

    fn allocator(&self) -> &Self::Allocator {
        &self.allocator
    }
}
