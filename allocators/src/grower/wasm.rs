//! [`WasmGrower`]: a WebAssembly module's own memory, grown with `memory.grow`.
//!
//! A module's linear memory is one array of 64 KiB pages that only ever grows: `memory.grow(n)`
//! appends `n` pages and returns the old size. So each region the grower hands out starts where
//! the last one ended, and the heap joins them into one region:
//!
//! ```text
//!   linear memory: [ stack | data | (rest of the first pages) | region 1 | region 2 | ... ]
//!                                                              ▲ memory.grow, 64 KiB pages
//! ```
//!
//! WebAssembly has no way to give pages back, so the grower never takes regions back, and a
//! heap over it contains no code for releasing or discarding memory. Pages are asked for as
//! needed, rounded up to whole pages: the module's memory grows by what the program uses, not
//! in doubling steps.
//!
//! **Provenance.** Grown pages lie outside every allocation Rust knows of, so the grower makes
//! its pointers from their addresses ([`core::ptr::with_exposed_provenance_mut`]), as Rust's own
//! WebAssembly allocator (dlmalloc) does; every block the heap hands out is derived from them.

use core::ptr::{self, NonNull};

use super::{HeapGrower, Region};

/// The size of a WebAssembly page: 64 KiB.
pub const WASM_PAGE_SIZE: usize = 64 * 1024;

/// `memory.grow` failed: the module's memory cannot grow any further (its maximum, or the
/// host's limit, is reached).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryFull;

/// A [`HeapGrower`] over the module's linear memory (`memory.grow` on memory 0). Zero-sized,
/// `const`, so a `static` heap over it costs nothing in the module's data.
///
/// ```no_run
/// # #[cfg(target_arch = "wasm32")] {
/// use bareheap::{Heap, LockedHeap, WasmGrower};
///
/// #[global_allocator]
/// static HEAP: LockedHeap<WasmGrower> = LockedHeap::new(Heap::new(WasmGrower::new()));
/// # }
/// ```
#[derive(Debug, Default)]
pub struct WasmGrower;

impl WasmGrower {
    /// The grower. O(1), `const`.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

// SAFETY: every region is a run of pages `memory.grow` has just added to the module's memory:
// used by nothing else, valid for reads and writes for the rest of the module's life (pages are
// never taken away), as long as asked. Regions follow each other in one linear memory, and all
// pointers into it are made from addresses alike, so each region's pointer serves them all.
unsafe impl HeapGrower for WasmGrower {
    type Err = MemoryFull;

    const SHARES_PROVENANCE: bool = true;

    /// Grows the memory by `min_size` rounded up to whole pages (at least one). One
    /// `memory.grow`.
    fn grow(&mut self, min_size: usize) -> Result<Region, MemoryFull> {
        let pages = min_size.div_ceil(WASM_PAGE_SIZE).max(1);
        let len = pages.checked_mul(WASM_PAGE_SIZE).ok_or(MemoryFull)?;
        let previous = core::arch::wasm32::memory_grow(0, pages);
        if previous == usize::MAX {
            return Err(MemoryFull);
        }
        let start = previous.checked_mul(WASM_PAGE_SIZE).ok_or(MemoryFull)?;
        // The pages at `start` belong to no Rust allocation: their pointer comes from the
        // address (see the module docs).
        let ptr = NonNull::new(ptr::with_exposed_provenance_mut(start)).ok_or(MemoryFull)?;
        Ok(Region::new(ptr, len))
    }
}
