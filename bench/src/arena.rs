//! Arenas: one page-aligned, pre-touched buffer per workload, on which each subject in turn is
//! built, so all subjects manage the same memory and no page fault lands inside a timing.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::ptr::NonNull;

use crate::subjects::Subject;

/// A page-aligned buffer of `len` bytes, zeroed (and so touched) once.
pub struct Arena {
    base: NonNull<u8>,
    len: usize,
}

impl Arena {
    /// Allocates and touches `len` bytes (a multiple of 4096).
    pub fn new(len: usize) -> Self {
        let layout = Layout::from_size_align(len, 4096).expect("arena layout");
        // SAFETY: `len` is non-zero for every workload.
        let base = NonNull::new(unsafe { alloc_zeroed(layout) }).expect("arena memory");
        // SAFETY: `base` is valid for `len` bytes; writing touches every page now, so later
        // timings see no first-touch faults (calloc may have mapped fresh zero pages).
        unsafe { base.as_ptr().write_bytes(0, len) };
        Self { base, len }
    }

    /// The length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Builds a fresh subject over the whole arena. The workloads drop each subject before
    /// building the next one, and the arena outlives them all (each workload owns its arena
    /// for its whole run), so one subject at a time uses the memory.
    pub fn build<S: Subject>(&self) -> Option<S> {
        // SAFETY: the arena is valid and used by one subject at a time (see above).
        unsafe { S::init(self.base, self.len) }
    }

    /// Whether `[ptr, ptr + size)` lies inside the arena.
    pub fn holds(&self, ptr: NonNull<u8>, size: usize) -> bool {
        let offset = ptr.addr().get().wrapping_sub(self.base.addr().get());
        offset < self.len && size <= self.len - offset
    }
}

impl Drop for Arena {
    fn drop(&mut self) {
        let layout = Layout::from_size_align(self.len, 4096).expect("arena layout");
        // SAFETY: allocated in `new` with this very layout.
        unsafe { dealloc(self.base.as_ptr(), layout) };
    }
}
