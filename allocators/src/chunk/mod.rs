//! # The bitmap chunk allocator
//!
//! The heap is cut into equal chunks of `CHUNK_SIZE` bytes (a power of two, 256 by default).
//! A block is a run of consecutive chunks; one bit per chunk records whether it is used, and
//! a second bit per chunk whether a block starts there:
//!
//! ```text
//!   heap    | c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | ...    (CHUNK_SIZE bytes each)
//!           |<-- block A -->|    |<- B ->|
//!   used       1    1    1    0    1    1    0    0   ...
//!   starts     1    0    0    0    1    0    0    0   ...
//!   summary [ word 0 full? word 1 full? ... ]   one bit per 64 chunks
//!   runs    [ word 0's longest free run, ... ]  one byte per 64 chunks
//! ```
//!
//! Freeing clears bits; allocating searches for a long enough run of zeros. The search works
//! on 64-bit words, not bits, and a summary level (one bit per bitmap word, set when the word
//! is full) lets it skip 64 full words at a time, so a nearly full heap does not cost a walk
//! over every chunk; a record of each word's longest free run (one byte, kept up to date
//! lazily) lets a search for a long run pass a fragmented word with one byte read. The
//! [`Placement`] says where searches begin: first-fit (the default) at the start of the heap,
//! which keeps long-lived blocks packed at the low end; next-fit where the last one ended,
//! wrapping around once. First-fit keeps a hint at or below the lowest free chunk, so its
//! commonest request, a block of one chunk, reads the hint's word (or, when that is full, the
//! next open one through the summary), takes its lowest clear bit and sets the chunk's used
//! and start bits: no run search at all.
//!
//! The start bits make invalid frees exact: a block's extent is read from the bitmap (it ends
//! at the next free chunk or the next start), so a pointer inside a block, a freed block, or
//! a layout of another size than the block's is refused, never half-freed.
//!
//! Costs, for a heap of C chunks and a request of n chunks: allocation O(C/4096 + visited
//! non-full words) word steps, at most O(C/64), plus O(n/64) to mark; free O(n/64 + 1),
//! checks included; statistics O(1). Memory overhead: [`bitmap_len`]`(C)` bytes, about
//! C/4 + C/64 (0.1 % of the heap with 256-byte chunks), plus up to `CHUNK_SIZE - 1` bytes of
//! rounding per block.
//!
//! Split by concern: `bitmap` the words and searches (mechanism), `allocator` the policy
//! and statistics ([`ChunkAllocator`]), `global` the locked form ([`GlobalChunkAllocator`]),
//! `macros` the [`heap!`](crate::heap) and [`heap_bitmap!`](crate::heap_bitmap) helpers.
//!
//! ## A global allocator over `static` memory, with no run-time set-up
//!
//! In edition 2024 a `static mut` is reached through a raw pointer (`&raw mut`, no lint), and
//! [`GlobalChunkAllocator::from_static`] takes exactly that; it runs at compile time, so a
//! heap or bitmap of the wrong size is a compile error. (For memory that already comes as
//! `&'static mut` references, [`ChunkAllocator::new_const`] inside
//! [`Locked::new`](crate::Locked::new) does the same safely; for one buffer of any size,
//! [`ChunkAllocator::from_buffer`] carves the heap and the bitmap out of it.)
//!
//! ```no_run
//! use bareheap::chunk::{GlobalChunkAllocator, PageAligned, bitmap_len};
//! use bareheap::{heap, heap_bitmap};
//!
//! static mut HEAP: PageAligned<[u8; 1 << 20]> = heap!(chunks = 4096, chunksize = 256);
//! static mut BITMAP: PageAligned<[u8; bitmap_len(4096)]> = heap_bitmap!(chunks = 4096);
//!
//! #[global_allocator]
//! static ALLOCATOR: GlobalChunkAllocator =
//!     // SAFETY: HEAP and BITMAP are used by nothing but this allocator, for the whole program.
//!     unsafe { GlobalChunkAllocator::from_static(&raw mut HEAP, &raw mut BITMAP) };
//!
//! fn main() {
//!     let numbers: Vec<u32> = (0..100).collect();
//!     assert!(ALLOCATOR.usage().percent_in_use() > 0.0);
//!     assert!(ALLOCATOR.contains(numbers.as_ptr().cast()));
//! }
//! ```
//!
//! The same pattern with a plain `static` and a collection that allocates from it:
//!
//! ```
//! use allocator_api2::vec::Vec;
//! use bareheap::chunk::{GlobalChunkAllocator, PageAligned, bitmap_len};
//!
//! static mut HEAP: PageAligned<[u8; 64 * 64]> = bareheap::heap!(chunks = 64, chunksize = 64);
//! static mut BITMAP: PageAligned<[u8; bitmap_len(64)]> = bareheap::heap_bitmap!(chunks = 64);
//! static ALLOCATOR: GlobalChunkAllocator<64> =
//!     // SAFETY: HEAP and BITMAP are used by nothing but this allocator.
//!     unsafe { GlobalChunkAllocator::from_static(&raw mut HEAP, &raw mut BITMAP) };
//!
//! let mut squares = Vec::new_in(&ALLOCATOR);
//! squares.extend((0..20u64).map(|i| i * i));
//! assert_eq!(squares[19], 361);
//! assert_eq!(ALLOCATOR.stats().live_allocations, 1);
//! drop(squares);
//! assert_eq!(ALLOCATOR.stats().used_chunks, 0);
//! ```

mod allocator;
mod bitmap;
mod error;
mod global;
mod macros;
mod page_aligned;

#[cfg(test)]
mod model_tests;
#[cfg(test)]
pub(crate) mod test_support;

pub use allocator::{ChunkAllocator, ChunkStats, Placement};
pub use error::ChunkAllocatorError;
pub use global::GlobalChunkAllocator;
pub use page_aligned::{PAGE_SIZE, PageAligned};

/// The chunk size used when none is given: 256 bytes.
pub const DEFAULT_CHUNK_SIZE: usize = 256;

/// The number of chunks [`heap!`](crate::heap) and [`heap_bitmap!`](crate::heap_bitmap) use
/// when none is given: 4096 (a 1 MiB heap with the default chunk size).
pub const DEFAULT_CHUNK_AMOUNT: usize = 4096;

/// The exact bitmap length, in bytes, for a heap of `chunks` chunks: one used bit per chunk,
/// one summary bit per 64 chunks, one start bit per chunk and one run-record byte per 64
/// chunks, each level rounded up to whole 64-bit words, about `chunks / 4 + chunks / 64`
/// bytes. O(1).
///
/// For 4096 chunks that is 64 + 1 + 64 + 8 words, 1096 bytes.
pub const fn bitmap_len(chunks: usize) -> usize {
    bitmap::bitmap_words(chunks) * size_of::<u64>()
}
