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
    /// The allocator's metadata for this block is inconsistent (an overwritten boundary tag, a
    /// layout that does not fit the block): freeing it would corrupt the heap.
    CorruptedBlock,
}

impl fmt::Display for FreeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NullPtrFree => "free of a null pointer",
            Self::FreeOutOfBounds => "free of a pointer outside the heap",
            Self::UnalignedFree => "free of a pointer that is not the start of a block",
            Self::DoubleFree => "free of a block that is not allocated (double free)",
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
