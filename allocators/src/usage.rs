//! [`Usage`] and [`Inspect`]: the same questions, with the same names, for every allocator.
//!
//! Each design keeps statistics of its own shape (chunks and runs, slabs per class, regions
//! and bins), and those stay available (`stats()` on each). The questions a program asks most
//! (how much is in use, how many blocks are live, what is free, how large a block could be
//! had now) and the consistency check have one answer everywhere:
//!
//! ```text
//!   allocator (or Locked<allocator>, or Cached)
//!     .usage()     ──► Usage { live_blocks, in_use_bytes, free_bytes, largest_free_block }
//!     .validate()  ──► Ok(()) | Err(HeapCorruption { what, addr })
//!
//!   in_use_bytes + free_bytes = every byte of the memory the allocator manages
//!   (less the free list's region headers): nothing is counted twice or left out
//! ```
//!
//! Both are always there, whatever the features; each implementation states its cost (a
//! counter read, or a walk of the blocks).

use core::fmt;

use lock_api::RawMutex;

use crate::Locked;

/// What an allocator's memory holds now: the four answers of [`Inspect::usage`].
///
/// Bytes are counted as the allocator holds them, not as they were asked for: a block counts
/// with its rounding (to a chunk, a size class, a granule) and its per-block overhead (the free
/// list's tag word), and the allocator's own bookkeeping inside its memory (a slab's header and
/// bitmap, the pools' slab table) counts as in use. So `in_use_bytes + free_bytes` is all the
/// memory the allocator manages, and stays the same from one call to the next until the heap
/// grows or gives memory back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Blocks handed out and not freed yet: a leak check compares it before and after.
    pub live_blocks: usize,
    /// Bytes of the managed memory that are not free: live blocks, with their rounding and
    /// overhead, and the allocator's metadata kept in that memory.
    pub in_use_bytes: usize,
    /// Bytes ready for new blocks without asking the memory source for more.
    pub free_bytes: usize,
    /// The largest free block, in bytes as [`free_bytes`](Self::free_bytes) counts them: no
    /// request larger than this can be served without growing (a request needs its overhead
    /// and alignment on top, so one this large may not fit either).
    pub largest_free_block: usize,
}

impl Usage {
    /// The share of the managed memory in use, in percent (0.0 to 100.0; 0.0 for an allocator
    /// with no memory yet): seed 001's `usage()` of the chunk allocator. O(1).
    #[must_use]
    pub fn percent_in_use(&self) -> f32 {
        let total = self.in_use_bytes.saturating_add(self.free_bytes);
        if total == 0 {
            0.0
        } else {
            self.in_use_bytes as f32 * 100.0 / total as f32
        }
    }
}

/// What a consistency check ([`Inspect::validate`]) found wrong, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapCorruption {
    /// What is inconsistent.
    pub what: &'static str,
    /// The address concerned (a block's tag, a region's start), or 0 for a global counter.
    pub addr: usize,
}

impl fmt::Display for HeapCorruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at {:#x}", self.what, self.addr)
    }
}

impl core::error::Error for HeapCorruption {}

/// `Err` with `what` at `addr` when `bad`: the one line of every consistency check.
pub(crate) fn corrupt_if(bad: bool, what: &'static str, addr: usize) -> Result<(), HeapCorruption> {
    if bad {
        Err(HeapCorruption { what, addr })
    } else {
        Ok(())
    }
}

/// The statistics and the check every allocator of this crate answers, with the same names:
/// on the allocator itself, on its [`Locked`] form (under the lock) and on `Cached`.
pub trait Inspect {
    /// Live blocks, bytes in use and free, and the largest free block. The cost is each
    /// implementation's: O(1) where counters are kept, a walk of the blocks otherwise.
    fn usage(&self) -> Usage;

    /// Checks the allocator's metadata for consistency (tags, bins, bitmaps, counters against
    /// what a walk finds), reading only; what each implementation checks, and its cost, is on
    /// its impl.
    ///
    /// # Errors
    /// The first inconsistency found.
    fn validate(&self) -> Result<(), HeapCorruption>;
}

impl<A: Inspect, R: RawMutex> Locked<A, R> {
    /// [`Inspect::usage`] of the allocator, under the lock: its cost plus the lock. Copy what
    /// you need out of the answer before allocating again.
    pub fn usage(&self) -> Usage {
        self.inspect(A::usage)
    }

    /// [`Inspect::validate`] of the allocator, under the lock: its cost plus the lock.
    ///
    /// # Errors
    /// The first inconsistency found.
    pub fn validate(&self) -> Result<(), HeapCorruption> {
        self.inspect(A::validate)
    }
}

#[cfg(test)]
mod tests {
    use core::alloc::Layout;
    use std::boxed::Box;
    use std::vec::Vec;

    use super::*;
    use crate::chunk::test_support::Arena;
    use crate::fixed::{FixedBlocks, FixedPool};
    use crate::{FreeListAllocator, Heap, RawAllocator, StaticGrower};

    /// Allocates blocks of many sizes, frees every other one, then the rest, checking after
    /// each step that `usage` counts the live blocks, that in use and free bytes add up to the
    /// same memory throughout (none of these allocators grows after its first block), and that
    /// `validate` passes.
    fn usage_follows_the_blocks<A: RawAllocator + Inspect>(
        mut allocator: A,
        sizes: &[usize],
    ) -> Usage {
        let check = |allocator: &A, live: usize, total: Option<usize>| {
            let usage = allocator.usage();
            assert_eq!(usage.live_blocks, live, "{usage:?}");
            assert!(usage.largest_free_block <= usage.free_bytes, "{usage:?}");
            if let Some(total) = total {
                assert_eq!(usage.in_use_bytes + usage.free_bytes, total, "{usage:?}");
            }
            allocator.validate().unwrap();
            usage.in_use_bytes + usage.free_bytes
        };
        let mut blocks = Vec::new();
        let mut total = None;
        for &size in sizes {
            let layout = Layout::from_size_align(size, 8).unwrap();
            blocks.push((allocator.allocate(layout).unwrap().cast::<u8>(), layout));
            total = Some(check(&allocator, blocks.len(), total));
        }
        for half in [0, 1] {
            for (ptr, layout) in blocks.iter().skip(half).step_by(2) {
                // SAFETY: each block is live and freed once, with its layout.
                unsafe { allocator.deallocate_trusted(*ptr, *layout) };
            }
            let live = if half == 0 { blocks.len() / 2 } else { 0 };
            check(&allocator, live, total);
        }
        allocator.usage()
    }

    const SIZES: [usize; 8] = [8, 24, 100, 16, 700, 3000, 40, 256];

    #[test]
    fn every_allocator_counts_its_blocks_and_memory_the_same_way() {
        let arena = Arena::new(256, 64);
        usage_follows_the_blocks(arena.allocator::<64>().unwrap(), &SIZES);

        let mut fixed = FixedBlocks::<16, 64>::new(false);
        usage_follows_the_blocks(FixedPool::new(&mut fixed), &[8; 8]);

        let mut memory = Box::<[u8]>::new_uninit_slice(64 * 1024);
        usage_follows_the_blocks(
            FreeListAllocator::new(StaticGrower::new(&mut memory)),
            &SIZES,
        );

        let mut memory = Box::<[u8]>::new_uninit_slice(64 * 1024);
        usage_follows_the_blocks(Heap::new(StaticGrower::new(&mut memory)), &SIZES);
    }

    #[test]
    fn a_free_list_with_no_memory_yet_has_nothing_in_use_or_free() {
        assert_eq!(Heap::empty().usage(), Usage::default());
        Heap::empty().validate().unwrap();
    }

    #[test]
    fn validate_finds_a_bitmap_that_disagrees_with_the_counters() {
        let arena = Arena::new(256, 64);
        let mut chunks = arena.allocator::<64>().unwrap();
        let block = chunks
            .allocate(Layout::from_size_align(200, 8).unwrap())
            .unwrap();
        chunks.validate().unwrap();
        // SAFETY: the bitmap's first word is in the arena; the allocator reads it only in
        // `validate` below, before the word is restored.
        let word = unsafe { arena.bitmap_ptr().cast::<u64>().replace(0) };
        assert!(chunks.validate().is_err());
        // SAFETY: as above.
        unsafe { arena.bitmap_ptr().cast::<u64>().write(word) };
        chunks.validate().unwrap();
        // SAFETY: the block is live, freed once with its layout.
        unsafe {
            chunks.deallocate_trusted(block.cast(), Layout::from_size_align(200, 8).unwrap())
        };
    }
}
