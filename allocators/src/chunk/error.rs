//! Why a chunk allocator could not be built, or could not serve a request.
//!
//! Construction checks the caller's memory once and reports every problem as a value, so a bad
//! `static` is a compile error (through [`ChunkAllocator::new_const`](super::ChunkAllocator::new_const))
//! and a bad runtime region is an `Err`, never a panic at run time.

use core::fmt;

use crate::FreeError;

/// The reason a [`ChunkAllocator`](super::ChunkAllocator) could not be built or could not
/// serve a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkAllocatorError {
    /// The heap is empty, not a multiple of the chunk size, or not aligned to the chunk size.
    BadHeapMemory,
    /// The bitmap does not have exactly [`bitmap_len`](super::bitmap_len)`(chunks)` bytes, or
    /// is not aligned to 8 bytes (the bitmap is read one 64-bit word at a time).
    BadBitmapMemory,
    /// The chunk size is zero or not a power of two.
    BadChunkSize,
    /// No run of free chunks is long enough (and suitably aligned) for the request.
    OutOfMemory,
    /// No address inside the heap has the requested alignment, so no amount of freeing could
    /// serve the request.
    BadAlignment,
    /// `realloc` was given a block the allocator did not hand out; the reason is the same one
    /// `deallocate` would report. Nothing was changed.
    InvalidBlock(FreeError),
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
            Self::OutOfMemory => panic!("out of memory"),
            Self::BadAlignment => panic!("no address in the heap has the requested alignment"),
            Self::InvalidBlock(_) => panic!("invalid block"),
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
            Self::OutOfMemory => f.write_str("no free run of chunks is large enough"),
            Self::BadAlignment => f.write_str("no address in the heap has the requested alignment"),
            Self::InvalidBlock(reason) => write!(f, "invalid block passed to realloc: {reason}"),
        }
    }
}

impl core::error::Error for ChunkAllocatorError {}
