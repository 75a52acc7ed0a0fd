//! The global allocator: where every `Box`, `Vec` and `String` of this program gets its memory.
//!
//! The heap is a `static` array in the program's `.bss` segment: the kernel maps it, zeroed,
//! when it loads the executable, so there is nothing to set up at run time and no system call
//! behind an allocation. A [`GlobalChunkAllocator`] manages it, with its bitmap in a second
//! `static`:
//!
//! ```text
//!   .bss ┌──────────────────────────── HEAP: 16 MiB ────────────────────────────┐
//!        │ chunk 0 │ chunk 1 │ chunk 2 │ ...                   │ chunk 65535   │  256 B each
//!        └─────────────────────────────────────────────────────────────────────┘
//!        BITMAP: one bit per chunk (8 KiB) + one summary bit per 64 chunks
//! ```
//!
//! Both are built by a `const` constructor: a heap or bitmap of the wrong size is a compile
//! error, not a failure at start-up.

use core::fmt;

use bareheap::chunk::{ChunkStats, GlobalChunkAllocator, PageAligned, bitmap_len};
use bareheap::{heap, heap_bitmap};

use crate::cli::Named;
use crate::units::Bytes;

/// Bytes per chunk of the demo's chunk allocator.
const CHUNK_SIZE: usize = 256;
/// Chunks in the demo's heap: 16 MiB in all.
const CHUNKS: usize = 65_536;

static mut CHUNK_HEAP: PageAligned<[u8; CHUNKS * CHUNK_SIZE]> =
    heap!(chunks = CHUNKS, chunksize = CHUNK_SIZE);
static mut CHUNK_BITMAP: PageAligned<[u8; bitmap_len(CHUNKS)]> = heap_bitmap!(chunks = CHUNKS);

#[global_allocator]
static CHUNK_ALLOCATOR: GlobalChunkAllocator<CHUNK_SIZE> =
    // SAFETY: CHUNK_HEAP and CHUNK_BITMAP are private to this module and named nowhere else, so
    // this allocator is the only user of both for the whole run.
    unsafe { GlobalChunkAllocator::from_static(&raw mut CHUNK_HEAP, &raw mut CHUNK_BITMAP) };

/// An allocator the command line can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AllocatorChoice {
    /// The bitmap chunk allocator over the static heap.
    Chunk,
}

impl Named for AllocatorChoice {
    const ALL: &'static [Self] = &[Self::Chunk];

    fn name(self) -> &'static str {
        match self {
            Self::Chunk => "chunk",
        }
    }

    fn summary(self) -> &'static str {
        match self {
            Self::Chunk => "bitmap over a 16 MiB static heap, 256-byte chunks",
        }
    }
}

impl AllocatorChoice {
    /// A snapshot of this allocator's statistics.
    pub fn stats(self) -> HeapStats {
        match self {
            Self::Chunk => HeapStats::Chunk {
                stats: CHUNK_ALLOCATOR.stats(),
                largest_free_run: CHUNK_ALLOCATOR.inspect(|chunks| chunks.largest_free_run()),
            },
        }
    }
}

/// Where the second and later lines of a [`HeapStats`] start, under the first line's text
/// ("   heap after:  ").
const STATS_INDENT: &str = "                ";

/// What an allocator reports about its heap at one moment.
#[derive(Debug, Clone, Copy)]
pub enum HeapStats {
    /// The chunk allocator's counters, and its longest run of free chunks.
    Chunk {
        /// The O(1) counters.
        stats: ChunkStats,
        /// The longest run of free chunks (a scan of the bitmap).
        largest_free_run: usize,
    },
}

impl HeapStats {
    /// Bytes held by live blocks, as the allocator counts them.
    pub fn bytes_in_use(&self) -> usize {
        match self {
            Self::Chunk { stats, .. } => stats.used_bytes,
        }
    }
}

impl fmt::Display for HeapStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chunk {
                stats,
                largest_free_run,
            } => {
                writeln!(
                    f,
                    "{} of {} chunks in use ({} held, {} asked for), peak {}",
                    stats.used_chunks,
                    stats.chunk_count,
                    Bytes(stats.used_bytes),
                    Bytes(stats.requested_bytes),
                    Bytes(stats.peak_used_bytes),
                )?;
                write!(
                    f,
                    "{STATS_INDENT}{} live blocks, {} allocations so far, largest free run {} chunks",
                    stats.live_allocations, stats.total_allocations, largest_free_run,
                )
            }
        }
    }
}
