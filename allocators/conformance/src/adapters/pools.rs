//! The size-class pools under test: [`RawPools`] ([`SizeClassPools`]) and [`LockedPools`]
//! ([`LockedSizeClassPools`]), both in front of a bounded fallback: a chunk allocator over an
//! arena, so that exhaustion is reachable and every block (slab-carved or not) must lie in
//! that arena.
//!
//! ```text
//!   pools ──slabs / large blocks──► Fallback ──► GlobalChunkAllocator ──► arena
//!                                        (a second handle inspects it)
//! ```
//!
//! The model predicts the held bytes exactly: [`usable_size`] per block (the class's block
//! size, or the requested size for fallback blocks). Slabs stay with their class until the
//! pools are dropped, so after freeing everything the check is that every class block and
//! every fallback block is free and the fallback holds the slabs and the slab table, nothing else.

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::NonNull;
use std::sync::Arc;

use bareheap::chunk::bitmap_len;
use bareheap::pools::{MAX_BLOCK_SIZE, PoolStats, SLAB_SIZE, SLAB_TAIL, usable_size};
use bareheap::{
    ChunkAllocator, FreeError, GlobalChunkAllocator, LockedSizeClassPools, SizeClassPools,
};

use crate::{Accounting, Arena, CheckedFree, Inspect, LockedForm, Subject};

/// The chunk size of the fallback heap.
const FALLBACK_CHUNK: usize = 256;

/// The fallback allocator: a shared handle on a locked chunk allocator.
pub struct Fallback(Arc<GlobalChunkAllocator<FALLBACK_CHUNK>>);

// SAFETY: forwards every call to the locked chunk allocator, which upholds the contract.
unsafe impl GlobalAlloc for Fallback {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from our caller.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from our caller.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from our caller.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// The parts every pools adapter owns: the fallback handle and its arenas.
struct Backing {
    fallback: Arc<GlobalChunkAllocator<FALLBACK_CHUNK>>,
    heap: Arena,
    _bitmap: Arena,
}

impl Backing {
    /// A fallback heap of `bytes` (rounded to chunks), slab-aligned.
    fn new(bytes: usize) -> Self {
        let chunks = bytes.div_ceil(FALLBACK_CHUNK);
        let heap = Arena::new(chunks * FALLBACK_CHUNK, SLAB_SIZE);
        let bitmap = Arena::new(bitmap_len(chunks), 8);
        // SAFETY: both arenas are owned by the adapter that keeps the fallback, are freed only
        // after it (declared later, and the pools holding the other handle come first), do not
        // overlap, and nothing else touches them.
        let allocator = unsafe {
            ChunkAllocator::from_raw_parts(heap.start(), heap.len(), bitmap.start(), bitmap.len())
        };
        let allocator = allocator.expect("valid arenas");
        Self {
            fallback: Arc::new(GlobalChunkAllocator::from_allocator(allocator)),
            heap,
            _bitmap: bitmap,
        }
    }

    fn handle(&self) -> Fallback {
        Fallback(Arc::clone(&self.fallback))
    }

    /// The fallback holds exactly the slabs, the fallback blocks and (once there is a slab)
    /// the pools' slab table.
    fn consistency(&self, stats: &PoolStats) -> Result<(), String> {
        let fallback = self.fallback.stats();
        let held = fallback.live_allocations;
        let table = usize::from(stats.slab_table_bytes > 0);
        if held != stats.slabs + stats.fallback_blocks + table
            || table != usize::from(stats.slabs > 0)
            || stats.slab_bytes != stats.slabs * (SLAB_SIZE - SLAB_TAIL)
        {
            return Err(format!("fallback holds {held} blocks; pools say {stats:?}"));
        }
        Ok(())
    }
}

fn accounting(stats: &PoolStats) -> Accounting {
    let classes = stats.classes.iter();
    let live = classes
        .clone()
        .map(|class| class.blocks_in_use)
        .sum::<usize>();
    let held = classes
        .map(|class| class.blocks_in_use * class.block_size)
        .sum::<usize>();
    Accounting {
        live_blocks: live + stats.fallback_blocks,
        requested_bytes: None,
        held_bytes: Some(held + stats.fallback_bytes),
    }
}

fn all_free(stats: &PoolStats) -> Result<(), String> {
    let in_use = stats.classes.iter().any(|class| class.blocks_in_use != 0);
    if in_use || stats.fallback_blocks != 0 || stats.fallback_bytes != 0 {
        return Err(format!(
            "blocks still in use after freeing everything: {stats:?}"
        ));
    }
    Ok(())
}

/// The inspection both pool forms share: the same queries on the pools they hold in `pools`
/// (raw or locked) and on their `backing` heap.
macro_rules! impl_inspect {
    ($subject:ty, $name:literal) => {
        impl Inspect for $subject {
            const NAME: &'static str = $name;
            const RETURNS_ALL_MEMORY: bool = false;

            fn capacity(&self) -> usize {
                self.backing.heap.len()
            }

            fn supports(&self, layout: Layout) -> bool {
                layout.size() <= self.capacity()
            }

            fn accounting(&self) -> Accounting {
                accounting(&self.pools.stats())
            }

            fn held_bytes(&self, layout: Layout) -> Option<usize> {
                Some(usable_size(layout))
            }

            fn holds(&self, ptr: NonNull<u8>, len: usize) -> bool {
                self.backing.heap.holds(ptr, len)
            }

            fn check_consistency(&self) -> Result<(), String> {
                self.backing.consistency(&self.pools.stats())
            }

            fn check_all_free(&self) -> Result<(), String> {
                all_free(&self.pools.stats())
            }
        }
    };
}

/// The raw size-class pools in front of a bounded fallback.
pub struct RawPools {
    pools: SizeClassPools<Fallback>,
    backing: Backing,
}

impl RawPools {
    /// Pools whose fallback heap has `fallback_bytes` bytes (rounded up to 256-byte chunks).
    /// O(fallback_bytes) for the arena.
    #[must_use]
    pub fn new(fallback_bytes: usize) -> Self {
        let backing = Backing::new(fallback_bytes);
        Self {
            pools: SizeClassPools::new(backing.handle()),
            backing,
        }
    }

    /// The pools themselves, for calls outside the [`Subject`] interface. O(1).
    pub fn raw(&mut self) -> &mut SizeClassPools<Fallback> {
        &mut self.pools
    }
}

impl_inspect!(RawPools, "pools (raw)");

impl Subject for RawPools {
    fn allocate(&mut self, layout: Layout) -> Option<NonNull<u8>> {
        self.pools.allocate(layout)
    }

    unsafe fn deallocate(&mut self, ptr: NonNull<u8>, layout: Layout) -> Result<(), FreeError> {
        // SAFETY: the caller passes a live block of these pools with its layout.
        unsafe { self.pools.deallocate(ptr.as_ptr(), layout) }
    }

    unsafe fn reallocate(
        &mut self,
        ptr: NonNull<u8>,
        layout: Layout,
        new_size: usize,
    ) -> Option<NonNull<u8>> {
        let new = Layout::from_size_align(new_size, layout.align()).ok()?;
        // SAFETY: the caller passes a live block of these pools with its layout.
        unsafe { self.pools.reallocate(ptr, layout, new) }
    }
}

impl CheckedFree for RawPools {
    unsafe fn checked_free(&mut self, ptr: *mut u8, layout: Layout) -> Result<(), FreeError> {
        assert!(
            layout.size().max(layout.align()) <= MAX_BLOCK_SIZE,
            "not a class layout"
        );
        // SAFETY: a class-sized layout (asserted), for which the pools check any pointer.
        unsafe { self.pools.deallocate(ptr, layout) }
    }
}

/// The locked size-class pools in front of a bounded fallback.
pub struct LockedPools {
    pools: LockedSizeClassPools<Fallback>,
    backing: Backing,
}

impl LockedPools {
    /// Locked pools whose fallback heap has `fallback_bytes` bytes. O(fallback_bytes).
    #[must_use]
    pub fn new(fallback_bytes: usize) -> Self {
        let backing = Backing::new(fallback_bytes);
        Self {
            pools: LockedSizeClassPools::new(backing.handle()),
            backing,
        }
    }
}

impl_inspect!(LockedPools, "pools (locked)");

impl LockedForm for LockedPools {
    type Allocator = LockedSizeClassPools<Fallback>;

    fn allocator(&self) -> &Self::Allocator {
        &self.pools
    }
}
