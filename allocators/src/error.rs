//! Why a free was refused.
//!
//! All raw allocator APIs in this crate share one catalogue of invalid frees, so a caller can
//! handle them the same way whichever allocator it uses. A refused free leaves the allocator
//! exactly as it was: nothing is released, no statistics change.

use core::fmt;

/// The reason a raw `free` / `deallocate` call was refused.
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
    /// layout that does not match the block): freeing it would corrupt the heap.
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
