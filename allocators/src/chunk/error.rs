//! Why a chunk allocator could not be built.
//!
//! Construction checks the caller's memory once and reports every problem as a value, so a bad
//! `static` is a compile error (through [`ChunkAllocator::new_const`](super::ChunkAllocator::new_const))
//! and a bad runtime region is an `Err`, never a panic at run time. Once built, the allocator
//! speaks the crate's common vocabulary: [`OutOfMemory`](crate::OutOfMemory) when a request
//! cannot be served, [`FreeError`](crate::FreeError) for a refused free.

use core::fmt;

/// The reason a [`ChunkAllocator`](super::ChunkAllocator) could not be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkAllocatorError {
    /// The heap is empty, not a multiple of the chunk size, or not aligned to the chunk size.
    BadHeapMemory,
    /// The bitmap does not have exactly [`bitmap_len`](super::bitmap_len)`(chunks)` bytes, or
    /// is not aligned to 8 bytes (the bitmap is read one 64-bit word at a time).
    BadBitmapMemory,
    /// The chunk size is zero or not a power of two.
    BadChunkSize,
    /// A buffer to carve heap and bitmap from is too small for even one chunk with its bitmap.
    BufferTooSmall,
}

impl ChunkAllocatorError {
    /// Panics with a message naming the error; a `const fn` so that a bad `static` fails to
    /// compile.
    pub(crate) const fn panic_const(self) -> ! {
        match self {
            Self::BadHeapMemory => {
                panic!("bad heap memory: empty, not a multiple of the chunk size, or misaligned")
            }
            Self::BadBitmapMemory => {
                panic!("bad bitmap memory: length is not bitmap_len(chunks) or not 8-byte aligned")
            }
            Self::BadChunkSize => panic!("bad chunk size: not a non-zero power of two"),
            Self::BufferTooSmall => panic!("buffer too small for one chunk and its bitmap"),
        }
    }
}

impl fmt::Display for ChunkAllocatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadHeapMemory => {
                f.write_str("heap memory is empty, not a multiple of the chunk size, or misaligned")
            }
            Self::BadBitmapMemory => {
                f.write_str("bitmap memory has the wrong length or is not 8-byte aligned")
            }
            Self::BadChunkSize => f.write_str("chunk size is not a non-zero power of two"),
            Self::BufferTooSmall => f.write_str("buffer too small for one chunk and its bitmap"),
        }
    }
}

impl core::error::Error for ChunkAllocatorError {}
