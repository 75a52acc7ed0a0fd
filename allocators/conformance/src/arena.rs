//! Owned, aligned, zeroed memory that an allocator under test manages.
//!
//! The allocators take raw memory (a heap, a bitmap, a buffer for a grower). An [`Arena`]
//! gets it from the system allocator with the alignment asked for, hands out only its start
//! pointer (whose provenance covers the whole arena), and frees it on drop. Adapters declare
//! the allocator field before the arena, so the allocator is dropped first.
//!
//! ```text
//!   Arena ─ start ──► [ zeroed bytes .......................... ] len
//!                       ▲ the allocator's heap: every block must lie in here
//! ```

use std::alloc::{Layout, alloc_zeroed, dealloc, handle_alloc_error};
use std::mem::MaybeUninit;
use std::ptr::NonNull;

/// `len` zeroed bytes aligned to `align`, owned until drop.
pub struct Arena {
    start: NonNull<u8>,
    layout: Layout,
}

// SAFETY: the arena only owns its memory; all access to the bytes goes through pointers
// handed to exactly one allocator, which serialises it, so the owner may move between or be
// shared by threads.
unsafe impl Send for Arena {}
// SAFETY: `&Arena` gives out addresses and the start pointer only; see `Send`.
unsafe impl Sync for Arena {}

impl Arena {
    /// A fresh arena of `len` bytes (at least one) aligned to `align`. O(len) for the zeroing.
    ///
    /// # Panics
    /// If `align` is not a power of two; aborts if the system is out of memory.
    #[must_use]
    pub fn new(len: usize, align: usize) -> Self {
        let layout = Layout::from_size_align(len.max(1), align).expect("a valid arena layout");
        // SAFETY: the layout has a non-zero size.
        let start = unsafe { alloc_zeroed(layout) };
        let start = NonNull::new(start).unwrap_or_else(|| handle_alloc_error(layout));
        Self { start, layout }
    }

    /// The first byte, with the provenance of the whole arena. O(1).
    #[must_use]
    pub const fn start(&self) -> NonNull<u8> {
        self.start
    }

    /// The arena's length in bytes. O(1).
    #[must_use]
    pub const fn len(&self) -> usize {
        self.layout.size()
    }

    /// Never true: an arena has at least one byte. O(1).
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// Whether the `len` bytes at `ptr` lie entirely inside the arena. O(1).
    #[must_use]
    pub fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
        let offset = ptr.addr().get().wrapping_sub(self.start.addr().get());
        offset <= self.len() && len <= self.len() - offset
    }

    /// The whole arena as an uninitialised-byte slice that claims to live forever. O(1).
    ///
    /// # Safety
    /// The slice must not be used after the arena is dropped (adapters drop the allocator that
    /// holds it first), and nothing else may access the arena while the slice is in use.
    #[must_use]
    pub unsafe fn as_static_slice(&self) -> &'static mut [MaybeUninit<u8>] {
        // SAFETY: the arena owns `len` initialised bytes at `start`; the caller promises the
        // borrow ends before the memory is freed and is the only access meanwhile.
        unsafe { std::slice::from_raw_parts_mut(self.start.as_ptr().cast(), self.len()) }
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with exactly this layout, freed only here.
        unsafe { dealloc(self.start.as_ptr(), self.layout) };
    }
}
