//! A wrapper that places its contents on a page boundary.
//!
//! A `static` byte array has alignment 1, but a chunk allocator needs its heap aligned to the
//! chunk size, and large alignments are only available where the heap itself is aligned.
//! Wrapping the array in [`PageAligned`] fixes its alignment at 4096 in the type, so the
//! constructors can check it at compile time:
//!
//! ```text
//!   address  0x...000                      0x...000 + size_of::<T>()
//!            |<---------------- T ------------------>|
//!            ^ a multiple of 4096 (PAGE_SIZE)
//! ```

use core::ops::{Deref, DerefMut};

/// The alignment of [`PageAligned`]: the x86_64 base page size.
pub const PAGE_SIZE: usize = 4096;

/// A value stored at an address that is a multiple of [`PAGE_SIZE`].
///
/// Costs nothing at run time; the value may be padded up to a multiple of 4096 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[repr(C, align(4096))]
pub struct PageAligned<T>(T);

impl<T> PageAligned<T> {
    /// Wraps `value`; usable in `const` and `static` initialisers. O(1).
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// A shared reference to the wrapped value. O(1).
    pub const fn get(&self) -> &T {
        &self.0
    }

    /// An exclusive reference to the wrapped value; usable in `const` contexts. O(1).
    pub const fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }

    /// Unwraps the value. O(size of `T`) for the move.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for PageAligned<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> DerefMut for PageAligned<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_page_aligned_and_gives_access() {
        let mut page = PageAligned::new([7u8; 3]);
        assert_eq!(core::mem::align_of_val(&page), PAGE_SIZE);
        assert_eq!((&raw const page).addr() % PAGE_SIZE, 0);
        page.get_mut()[1] = 9;
        assert_eq!(page.get(), &[7, 9, 7]);
        assert_eq!(page[2], 7);
        assert_eq!(page.into_inner(), [7, 9, 7]);
    }
}
