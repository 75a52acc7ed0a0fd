//! Macros that size the `static` memory of a chunk allocator at compile time.
//!
//! A heap of `chunks` chunks of `chunksize` bytes needs `chunks * chunksize` heap bytes and
//! [`bitmap_len`](crate::chunk::bitmap_len)`(chunks)` bitmap bytes. The macros compute those
//! lengths and build zeroed, page-aligned arrays, so a `static` needs no run-time set-up:
//!
//! ```text
//!   heap!()                              -> [0u8; DEFAULT_CHUNK_AMOUNT * DEFAULT_CHUNK_SIZE]
//!   heap!(chunks = A)                    -> [0u8; A * DEFAULT_CHUNK_SIZE]
//!   heap!(chunks = A, chunksize = B)     -> [0u8; A * B]
//!   heap_bitmap!()                       -> [0u8; bitmap_len(DEFAULT_CHUNK_AMOUNT)]
//!   heap_bitmap!(chunks = A)             -> [0u8; bitmap_len(A)]
//! ```
//!
//! (each wrapped in [`PageAligned`](crate::chunk::PageAligned)). The arguments are constant
//! expressions: literals, `const` items or paths to them.

/// A zeroed, page-aligned heap array for a chunk allocator, to initialise a `static`.
///
/// `heap!()` has [`DEFAULT_CHUNK_AMOUNT`](crate::chunk::DEFAULT_CHUNK_AMOUNT) chunks of
/// [`DEFAULT_CHUNK_SIZE`](crate::chunk::DEFAULT_CHUNK_SIZE) bytes; `heap!(chunks = A)` and
/// `heap!(chunks = A, chunksize = B)` override them. Evaluated at compile time.
///
/// ```
/// use bareheap::chunk::PageAligned;
/// static mut HEAP: PageAligned<[u8; 64 * 128]> = bareheap::heap!(chunks = 64, chunksize = 128);
/// ```
#[macro_export]
macro_rules! heap {
    () => {
        $crate::heap!(chunks = $crate::chunk::DEFAULT_CHUNK_AMOUNT)
    };
    (chunks = $chunks:expr $(,)?) => {
        $crate::heap!(
            chunks = $chunks,
            chunksize = $crate::chunk::DEFAULT_CHUNK_SIZE
        )
    };
    (chunks = $chunks:expr, chunksize = $chunk_size:expr $(,)?) => {
        $crate::chunk::PageAligned::new([0u8; ($chunks) * ($chunk_size)])
    };
}

/// A zeroed, page-aligned bitmap array for a heap of `chunks` chunks, to initialise a
/// `static`; its length is [`bitmap_len`](crate::chunk::bitmap_len)`(chunks)`.
///
/// `heap_bitmap!()` is for [`DEFAULT_CHUNK_AMOUNT`](crate::chunk::DEFAULT_CHUNK_AMOUNT)
/// chunks. Evaluated at compile time.
///
/// ```
/// use bareheap::chunk::{PageAligned, bitmap_len};
/// static mut BITMAP: PageAligned<[u8; bitmap_len(64)]> = bareheap::heap_bitmap!(chunks = 64);
/// ```
#[macro_export]
macro_rules! heap_bitmap {
    () => {
        $crate::heap_bitmap!(chunks = $crate::chunk::DEFAULT_CHUNK_AMOUNT)
    };
    (chunks = $chunks:expr $(,)?) => {
        $crate::chunk::PageAligned::new([0u8; $crate::chunk::bitmap_len($chunks)])
    };
}
