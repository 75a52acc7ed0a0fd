//! The one error vocabulary of every allocator in this crate.
//!
//! Three things can go wrong, and each has its own type, so a caller can tell them apart
//! whatever allocator it uses:
//!
//! ```text
//!   allocate(layout)          ──► Ok(block) | Err(OutOfMemory)
//!   deallocate(ptr, layout)   ──► Ok(())    | Err(FreeError)          (the checked raw API)
//!   resize(ptr, old, new)     ──► Ok(block) | Err(ResizeError::Invalid(FreeError))
//!                                           | Err(ResizeError::OutOfMemory)
//! ```
//!
//! A refused free or resize leaves the allocator exactly as it was: nothing is released, no
//! statistics change. A failed allocation or resize changes nothing either; on a failed resize
//! the old block is still allocated and unchanged.

use core::fmt;

/// The reason a checked `deallocate` or `resize` refused a pointer.
///
/// Variants are checked in the order they are listed, so a null pointer is always reported as
/// [`NullPtrFree`](Self::NullPtrFree), even though it is also outside the heap.
///
/// # What each allocator answers
///
/// Every raw API answers an invalid free with a `FreeError` and changes nothing: the
/// statistics, the allocator's own consistency check and the live blocks' contents are the
/// same afterwards (`allocators/tests/conformance/bad_input.rs` checks all three for every case;
/// `cargo test -p bareheap --test conformance print_catalogue -- --nocapture` prints this table
/// from the allocators' actual answers, on a 64-bit target):
///
/// | case | chunk | fixed | pools | free list | heap |
/// |---|---|---|---|---|---|
/// | free(null) | NullPtrFree | NullPtrFree | NullPtrFree | NullPtrFree | NullPtrFree |
/// | free of a freed block | DoubleFree | DoubleFree | DoubleFree | DoubleFree | DoubleFree |
/// | free of a pointer into another buffer | FreeOutOfBounds | FreeOutOfBounds | FreeOutOfBounds | FreeOutOfBounds | FreeOutOfBounds |
/// | free of block + 16 | UnalignedFree | UnalignedFree | UnalignedFree | UnalignedFree | UnalignedFree |
/// | free of block + 1 | UnalignedFree | UnalignedFree | UnalignedFree | UnalignedFree | UnalignedFree |
/// | free of block + 64 (a chunk boundary inside the block) | UnalignedFree | UnalignedFree | UnalignedFree | UnalignedFree | UnalignedFree |
/// | free with a layout larger than the block's (1024 B) | LayoutMismatch | LayoutMismatch | LayoutMismatch | LayoutMismatch | LayoutMismatch |
/// | free with a smaller layout of another size class (16 B) | LayoutMismatch | Ok (the whole block) | LayoutMismatch | Ok (the whole block) | LayoutMismatch |
/// | allocate a zero-size layout, then free it | Ok: a 64 B chunk | Ok: a 256 B block | Ok: a 16 B block | Ok: a 24 B block | Ok: a 16 B block |
/// | allocate with alignment 2^62 | OutOfMemory | OutOfMemory | OutOfMemory | OutOfMemory | OutOfMemory |
/// | allocate isize::MAX - 7 bytes (align 8) | OutOfMemory | OutOfMemory | OutOfMemory | OutOfMemory | OutOfMemory |
/// | resize of a freed block | Invalid(DoubleFree) | Invalid(DoubleFree) | Invalid(DoubleFree) | Invalid(DoubleFree) | Invalid(DoubleFree) |
/// | resize to isize::MAX - 7 bytes | OutOfMemory (block kept) | OutOfMemory (block kept) | OutOfMemory (block kept) | OutOfMemory (block kept) | OutOfMemory (block kept) |
///
/// How exact each answer is: the chunk allocator's start bits and the fixed pool's index table
/// make their answers exact for any pointer. The pools' raw `deallocate` finds the slab in the
/// slab table and checks the block's class, start and bit in the slab's bitmap, so it is exact
/// too. The free list checks that the pointer lies in one of its regions, that the word before
/// it is a well-formed tag whose neighbours agree, and that the block is allocated: an interior
/// pointer is refused unless the program's own data just before it happens to look like a
/// consistent tag (best effort), and a smaller layout is accepted when the block it names is
/// allocated (the tags do not record the size asked for).
///
/// The `GlobalAlloc` forms cannot report an error: they trust the pointer and layout, as the
/// trait allows, keep only the O(1) checks (the pools' bitmap bit, the free list's allocated
/// flag), and ignore a free they refuse, which is safe because the refusal changed nothing.
/// Constructor arguments are errors too, never panics: [`ChunkAllocatorError`](crate::ChunkAllocatorError)
/// for a chunk heap or bitmap of the wrong shape (compile errors in a `const` initialiser),
/// a compile error for a fixed pool of 0-byte blocks, and [`BadPageSize`](crate::grower::BadPageSize) for a page size that
/// is not a power of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FreeError {
    /// The pointer was null.
    NullPtrFree,
    /// The pointer lies outside every region the allocator manages (a foreign pointer).
    FreeOutOfBounds,
    /// The pointer lies inside the heap but not at the start of a block the allocator could
    /// have handed out (an interior or misaligned pointer).
    UnalignedFree,
    /// The block at this pointer is not currently allocated: it was freed already, or never
    /// handed out.
    DoubleFree,
    /// The pointer is a live block, but the layout given with it does not fit the block (a
    /// larger size than the block holds, or another size class): the caller's layout is wrong,
    /// the heap is fine.
    LayoutMismatch,
    /// The allocator's metadata for this block is inconsistent (an overwritten boundary tag):
    /// freeing it would corrupt the heap.
    CorruptedBlock,
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NullPtrFree => "free of a null pointer",
            Self::FreeOutOfBounds => "free of a pointer outside the heap",
            Self::UnalignedFree => "free of a pointer that is not the start of a block",
            Self::DoubleFree => "free of a block that is not allocated (double free)",
            Self::LayoutMismatch => "free of a live block with a layout that does not fit it",
            Self::CorruptedBlock => "free of a block whose metadata is corrupted",
        })
    }
}

impl core::error::Error for FreeError {}

/// An allocation (or the new block of a resize) could not be served: no free memory fits the
/// layout, the memory source has nothing more to give, or the layout can never be served by
/// this allocator (larger or more aligned than anything it holds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutOfMemory;

impl fmt::Display for OutOfMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("out of memory")
    }
}

impl core::error::Error for OutOfMemory {}

/// Why a checked `resize` failed; the old block is still allocated and unchanged either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResizeError {
    /// The pointer or its layout was refused, as a checked `deallocate` would refuse it.
    Invalid(FreeError),
    /// No memory for the new layout.
    OutOfMemory,
}

impl From<FreeError> for ResizeError {
    fn from(error: FreeError) -> Self {
        Self::Invalid(error)
    }
}

impl From<OutOfMemory> for ResizeError {
    fn from(OutOfMemory: OutOfMemory) -> Self {
        Self::OutOfMemory
    }
}

impl fmt::Display for ResizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Invalid(error) => write!(f, "resize refused: {error}"),
            Self::OutOfMemory => f.write_str("resize failed: out of memory"),
        }
    }
}

impl core::error::Error for ResizeError {}
