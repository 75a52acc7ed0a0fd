//! The fixed-size pool under test: [`RawFixed`] (a pinned, boxed [`FixedSizeAllocator`]) and
//! [`LockedFixed`] (a boxed [`LockedFixedSizeAllocator`]). The blocks live inside the pool
//! value, so "inside the allocator's memory" means inside that value's bytes.
//!
//! A pool serves a layout only if it fits one block (size at most [`FIXED_BLOCK`], alignment at
//! most the block alignment); everything else must fail. A reallocation keeps the block when the
//! new size still fits, and fails otherwise.

use std::alloc::Layout;
use std::pin::Pin;
use std::ptr::NonNull;

use bareheap::{FixedSizeAllocator, FreeError, LockedFixedSizeAllocator};

use crate::{Accounting, CheckedFree, Inspect, LockedForm, Subject};

/// The block size of the pools under test.
pub const FIXED_BLOCK: usize = 256;
/// The number of blocks of the pools under test. Fewer under Miri, which retags the whole pool
/// (blocks included) each time a method borrows it.
pub const FIXED_BLOCKS: usize = if cfg!(miri) { 16 } else { 128 };

/// The raw pool type under test.
pub type FixedPool = FixedSizeAllocator<FIXED_BLOCK, FIXED_BLOCKS>;
/// The locked pool type under test.
type LockedPool = LockedFixedSizeAllocator<FIXED_BLOCK, FIXED_BLOCKS>;

fn supports(layout: Layout) -> bool {
    layout.size() <= FIXED_BLOCK && layout.align() <= FixedPool::BLOCK_ALIGN
}

fn accounting(allocated_blocks: usize, total_allocated: usize) -> Accounting {
    Accounting {
        live_blocks: allocated_blocks,
        requested_bytes: None,
        held_bytes: Some(total_allocated),
    }
}

/// Whether `[ptr, ptr + len)` lies inside the `size` bytes at address `start`. The address is
/// taken once at construction: a reference to the whole pool on every check would cost Miri a
/// retag of all its bytes.
fn inside(start: usize, size: usize, ptr: NonNull<u8>, len: usize) -> bool {
    let offset = ptr.addr().get().wrapping_sub(start);
    offset <= size && len <= size - offset
}

fn counts_agree(free: usize, allocated: usize, total_free: usize) -> Result<(), String> {
    if free + allocated != FIXED_BLOCKS || total_free != free * FIXED_BLOCK {
        return Err(format!(
            "{free} free + {allocated} allocated blocks, {total_free} free bytes"
        ));
    }
    Ok(())
}

fn none_allocated(allocated: usize) -> Result<(), String> {
    if allocated != 0 {
        return Err(format!("{allocated} blocks still allocated"));
    }
    Ok(())
}

/// The inspection both pool forms share: the same queries, on the pool they hold in `pool`
/// (raw or locked), whose value is `$pool` bytes long starting at `start`.
macro_rules! impl_inspect {
    ($subject:ty, $name:literal, $pool:ty) => {
        impl Inspect for $subject {
            const NAME: &'static str = $name;
            const RETURNS_ALL_MEMORY: bool = true;

            fn capacity(&self) -> usize {
                self.pool.heap_size()
            }

            fn supports(&self, layout: Layout) -> bool {
                supports(layout)
            }

            fn accounting(&self) -> Accounting {
                accounting(self.pool.allocated_blocks(), self.pool.total_allocated())
            }

            fn held_bytes(&self, _layout: Layout) -> Option<usize> {
                Some(FIXED_BLOCK)
            }

            fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
                inside(self.start, size_of::<$pool>(), ptr, len)
            }

            fn check_consistency(&self) -> Result<(), String> {
                let pool = &self.pool;
                counts_agree(
                    pool.free_blocks(),
                    pool.allocated_blocks(),
                    pool.total_free(),
                )
            }

            fn check_all_free(&self) -> Result<(), String> {
                none_allocated(self.pool.allocated_blocks())
            }
        }
    };
}

/// The raw pool, pinned in a box.
pub struct RawFixed {
    pool: Pin<Box<FixedPool>>,
    start: usize,
}

impl RawFixed {
    /// A pool of [`FIXED_BLOCKS`] blocks of [`FIXED_BLOCK`] bytes. O(1).
    #[must_use]
    pub fn new() -> Self {
        let pool = FixedPool::new(false);
        let start = std::ptr::from_ref(pool.as_ref().get_ref()).addr();
        Self { pool, start }
    }

    /// The pool itself, for calls outside the [`Subject`] interface. O(1).
    pub fn raw(&mut self) -> Pin<&mut FixedPool> {
        self.pool.as_mut()
    }
}

impl Default for RawFixed {
    fn default() -> Self {
        Self::new()
    }
}

impl_inspect!(RawFixed, "fixed (raw)", FixedPool);

impl Subject for RawFixed {
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        if !supports(layout) {
            return None;
        }
        self.pool.as_mut().alloc_untyped()
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, _layout: Layout) -> Result<(), FreeError> {
        self.pool.as_mut().free_nonnull(ptr)
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let new = Layout::from_size_align(new_size, layout.align()).ok()?;
        supports(new).then_some(ptr)
    }
}

impl CheckedFree for RawFixed {
    unsafe fn checked_free(&mut self, ptr: *mut u8, _layout: Layout) -> Result<(), FreeError> {
        self.pool.as_mut().free(ptr)
    }
}

/// The locked pool, boxed so that it never moves while blocks are out.
pub struct LockedFixed {
    pool: Box<LockedPool>,
    start: usize,
}

impl LockedFixed {
    /// A locked pool of [`FIXED_BLOCKS`] blocks of [`FIXED_BLOCK`] bytes. O(1).
    #[must_use]
    pub fn new() -> Self {
        let pool = Box::new(LockedPool::new(false));
        let start = std::ptr::from_ref(&*pool).addr();
        Self { pool, start }
    }
}

impl Default for LockedFixed {
    fn default() -> Self {
        Self::new()
    }
}

impl_inspect!(LockedFixed, "fixed (locked)", LockedPool);

impl LockedForm for LockedFixed {
    type Allocator = LockedPool;

    fn allocator(&self) -> &Self::Allocator {
        &self.pool
    }
}
