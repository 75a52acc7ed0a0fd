//! Looking inside the heap: statistics, iteration over regions and blocks, and a full
//! consistency check.
//!
//! Statistics are counters updated by every operation, so reading them is O(1). Everything
//! else walks memory: iterating blocks or checking the heap is O(blocks + regions), the
//! per-class counts are O(free blocks).

use super::bins::{CLASS_COUNT, class_floor, class_of};
use super::block::{Block, GRANULE, MIN_BLOCK, Prev, WORD};
use super::heap::FreeListAllocator;
use super::region::{RegionKind, RegionView, Regions};
use crate::grower::HeapGrower;
use crate::usage::{HeapCorruption, Inspect, Usage, corrupt_if};

/// A snapshot of the heap's counters (reading them is O(1)).
///
/// The region counters are kept on the slow paths (growing, releasing) and always there. The
/// usage counters (bytes and blocks in use, their peak, free bytes) would cost every allocation
/// and free a few instructions (about 6 per action of the random-actions benchmark, 7 % of the
/// free list's cost), so, as talc's `counters`, they are opt-in: they exist with the crate's
/// `counters` feature only. Byte counts of blocks include their tags; they are exact whatever
/// fitting layout a block is freed with, since they count blocks, not requests.
///
/// Without the feature, the same answers (live blocks, bytes in use, free bytes, and the
/// largest free block) come from [`Inspect::usage`](crate::Inspect::usage), on every allocator
/// and every locked form, by one walk of the blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Bytes of all blocks, allocated and free (the regions less their headers and sentinels).
    pub block_bytes: usize,
    /// Bytes of all regions as they were handed over.
    pub mapped_bytes: usize,
    /// Number of regions currently held.
    pub regions: usize,
    /// How many regions were obtained from the grower so far.
    pub grows: usize,
    /// How many regions were given back to the grower so far.
    pub releases: usize,
    /// Bytes of allocated blocks (requested bytes plus tags, rounding and unsplit tails).
    #[cfg(feature = "counters")]
    pub in_use_bytes: usize,
    /// The largest `in_use_bytes` seen so far.
    #[cfg(feature = "counters")]
    pub peak_in_use_bytes: usize,
    /// Bytes of free blocks.
    #[cfg(feature = "counters")]
    pub free_bytes: usize,
    /// Number of allocated blocks.
    #[cfg(feature = "counters")]
    pub allocated_blocks: usize,
}

impl Stats {
    /// All counters zero.
    pub const ZERO: Self = Self {
        block_bytes: 0,
        mapped_bytes: 0,
        regions: 0,
        grows: 0,
        releases: 0,
        #[cfg(feature = "counters")]
        in_use_bytes: 0,
        #[cfg(feature = "counters")]
        peak_in_use_bytes: 0,
        #[cfg(feature = "counters")]
        free_bytes: 0,
        #[cfg(feature = "counters")]
        allocated_blocks: 0,
    };
}

/// One region of the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegionInfo {
    /// Address of the region's first byte, as it was handed over.
    pub start: usize,
    /// Length of the region in bytes (its pieces together, when adjacent memory joined it).
    pub len: usize,
    /// Where its memory came from, and whether it may go back.
    pub kind: RegionKind,
}

/// One block of the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// Address of the block's payload (what `allocate` returned for an allocated block).
    pub payload: usize,
    /// Size of the block in bytes, tag included.
    pub size: usize,
    /// Whether the block is allocated.
    pub allocated: bool,
}

/// The number of free blocks in one size class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassCount {
    /// The smallest block size of the class.
    pub min_size: usize,
    /// Free blocks in the class.
    pub blocks: usize,
}

/// Iterator over the regions of a heap, newest first.
pub struct RegionIter<'a>(Regions<'a>);

impl Iterator for RegionIter<'_> {
    type Item = RegionInfo;

    fn next(&mut self) -> Option<RegionInfo> {
        self.0.next().map(|region| RegionInfo {
            start: region.memory.ptr().addr().get(),
            len: region.memory.len(),
            kind: region.kind,
        })
    }
}

/// Iterator over the blocks of a heap, region by region (newest first), in address order
/// within a region.
pub struct BlockIter<'a> {
    regions: Regions<'a>,
    cursor: Option<(Block, Block)>,
}

impl Iterator for BlockIter<'_> {
    type Item = BlockInfo;

    fn next(&mut self) -> Option<BlockInfo> {
        loop {
            if let Some((block, sentinel)) = self.cursor
                && block != sentinel
            {
                // SAFETY: walking from a region's first block by tag sizes visits the tags of
                // a consistent heap up to its sentinel (the heap is borrowed, so unchanged).
                let tag = unsafe { block.tag() };
                // SAFETY: as above, the next tag is inside the region.
                self.cursor = Some((unsafe { block.forward(tag.size()) }, sentinel));
                return Some(BlockInfo {
                    payload: block.payload().addr().get(),
                    size: tag.size(),
                    allocated: tag.is_allocated(),
                });
            }
            let region = self.regions.next()?;
            self.cursor = Some((region.first, region.sentinel));
        }
    }
}

impl<G: HeapGrower> FreeListAllocator<G> {
    /// The regions held, newest first. O(1) per step.
    pub fn regions(&self) -> RegionIter<'_> {
        RegionIter(self.region_list().iter())
    }

    /// Every block, allocated or free. O(1) per step, O(blocks + regions) in all.
    pub fn blocks(&self) -> BlockIter<'_> {
        BlockIter {
            regions: self.region_list().iter(),
            cursor: None,
        }
    }

    /// The free blocks. O(blocks + regions) in all.
    pub fn free_blocks(&self) -> impl Iterator<Item = BlockInfo> + '_ {
        self.blocks().filter(|block| !block.allocated)
    }

    /// The number of free blocks, counted in the bins. O(free blocks + classes).
    pub fn free_block_count(&self) -> usize {
        (0..CLASS_COUNT)
            .map(|class| self.bin_list(class).count())
            .sum()
    }

    /// The number of free blocks of each non-empty size class, smallest class first.
    /// O(classes + free blocks).
    pub fn free_class_counts(&self) -> impl Iterator<Item = ClassCount> + '_ {
        (0..CLASS_COUNT).filter_map(|class| {
            let blocks = self.bin_list(class).count();
            (blocks > 0).then(|| ClassCount {
                min_size: class_floor(class),
                blocks,
            })
        })
    }

    /// The blocks listed in bin `class`.
    fn bin_list(&self, class: usize) -> impl Iterator<Item = Block> + '_ {
        core::iter::successors(self.bins().head(class), |block| {
            // SAFETY: binned blocks are free blocks whose payloads hold their links.
            unsafe { (*block.links()).next }
        })
    }

    /// Checks the whole heap: every region walks from its first block to its sentinel through
    /// well-formed tags; flags agree with the neighbours; no two free blocks touch; free blocks
    /// carry matching footers and sit in the bin of their class with consistent links and
    /// bitmaps; regions do not overlap; the counters match what the walk finds.
    /// O(blocks + regions²).
    ///
    /// # Errors
    /// The first inconsistency found.
    pub fn validate(&self) -> Result<(), HeapCorruption> {
        let mut found = Totals::default();
        for region in self.region_list().iter() {
            self.validate_no_overlap(&region)?;
            found.mapped_bytes += region.memory.len();
            found.regions += 1;
            found.general_regions += usize::from(region.kind == RegionKind::General);
            // SAFETY: the region is one of this heap's; the walk checks every size before
            // stepping, so it never leaves the region.
            unsafe { validate_region(&region, &mut found) }?;
        }
        self.validate_bins(&found)?;
        self.validate_counters(&found)
    }

    /// Checks that `region` overlaps no other region.
    fn validate_no_overlap(&self, region: &RegionView) -> Result<(), HeapCorruption> {
        let start = region.memory.ptr().addr().get();
        let end = start + region.memory.len();
        let overlapping = self.region_list().iter().filter(|other| {
            let other_start = other.memory.ptr().addr().get();
            other_start < end && start < other_start + other.memory.len()
        });
        corrupt_if(overlapping.count() != 1, "regions overlap", start)
    }

    /// Checks every bin: each listed block is a free block of the bin's class inside a region,
    /// links point both ways, bitmap bits match, and the bins hold every free block.
    fn validate_bins(&self, found: &Totals) -> Result<(), HeapCorruption> {
        let mut binned = 0;
        for class in 0..CLASS_COUNT {
            // Most classes are empty and unmarked: consistent, and cheap to tell.
            if self.bins().head(class).is_none() && !self.bins().is_marked(class) {
                continue;
            }
            let mut prev = None;
            for block in self.bin_list(class) {
                corrupt_if(
                    self.region_list()
                        .find_payload(block.payload().addr().get())
                        .is_none(),
                    "binned block outside every region",
                    block.addr(),
                )?;
                // SAFETY: the block lies in a region's block area (checked just above).
                let (tag, back) = unsafe { (block.tag(), (*block.links()).prev) };
                corrupt_if(tag.is_allocated(), "allocated block in a bin", block.addr())?;
                corrupt_if(
                    class_of(tag.size()) != class,
                    "block in the wrong bin",
                    block.addr(),
                )?;
                let expected = prev.map_or(Prev::list(class), Prev::block);
                corrupt_if(back != expected, "broken bin back link", block.addr())?;
                prev = Some(block);
                binned += 1;
            }
            corrupt_if(
                self.bins().is_marked(class) != prev.is_some(),
                "bin bitmap disagrees with its list",
                class,
            )?;
        }
        corrupt_if(
            !self.bins().maps_agree(),
            "bin word map disagrees with the class map",
            0,
        )?;
        corrupt_if(
            binned != found.free_blocks,
            "free block missing from the bins",
            0,
        )
    }

    /// Checks the counters against the walk.
    fn validate_counters(&self, found: &Totals) -> Result<(), HeapCorruption> {
        let stats = self.stats();
        corrupt_if(
            stats.block_bytes != found.free_bytes + found.in_use_bytes,
            "block bytes miscounted",
            0,
        )?;
        corrupt_if(
            stats.mapped_bytes != found.mapped_bytes,
            "mapped bytes miscounted",
            0,
        )?;
        corrupt_if(stats.regions != found.regions, "regions miscounted", 0)?;
        // The release policy's count, kept only where the grower takes regions back.
        corrupt_if(
            G::RELEASES && self.general_region_count() != found.general_regions,
            "general regions miscounted",
            0,
        )?;
        #[cfg(feature = "counters")]
        {
            corrupt_if(
                stats.free_bytes != found.free_bytes,
                "free bytes miscounted",
                0,
            )?;
            corrupt_if(
                stats.in_use_bytes != found.in_use_bytes,
                "bytes in use miscounted",
                0,
            )?;
            corrupt_if(
                stats.allocated_blocks != found.allocated_blocks,
                "allocated blocks miscounted",
                0,
            )?;
            corrupt_if(
                stats.peak_in_use_bytes < stats.in_use_bytes,
                "peak below use",
                0,
            )?;
        }
        Ok(())
    }
}

/// What a walk of the heap adds up.
#[derive(Default)]
struct Totals {
    free_bytes: usize,
    free_blocks: usize,
    in_use_bytes: usize,
    allocated_blocks: usize,
    mapped_bytes: usize,
    regions: usize,
    general_regions: usize,
}

/// Walks one region's blocks, checking tags, flags and footers, and adds them up.
///
/// # Safety
/// `region` must be a region of a heap (its header and sentinel in place).
unsafe fn validate_region(region: &RegionView, found: &mut Totals) -> Result<(), HeapCorruption> {
    let mut block = region.first;
    let mut prev_free = false;
    while block != region.sentinel {
        // SAFETY: `block` is before the sentinel (loop condition) and was reached by sizes
        // checked against the sentinel, so its tag is inside the region.
        let tag = unsafe { block.tag() };
        let size = tag.size();
        let at = block.addr();
        corrupt_if(!tag.has_block_shape(), "malformed tag", at)?;
        corrupt_if(
            size > region.sentinel.addr() - at,
            "block runs past its region",
            at,
        )?;
        corrupt_if(tag.prev_free() != prev_free, "wrong previous-free flag", at)?;
        if tag.is_allocated() {
            found.in_use_bytes += size;
            found.allocated_blocks += 1;
        } else {
            corrupt_if(prev_free, "two free blocks touch", at)?;
            // SAFETY: the block lies inside the region; its last word is its footer.
            let footer = unsafe { block.forward(size).prev_size() };
            corrupt_if(footer != size, "footer disagrees with tag", at)?;
            found.free_bytes += size;
            found.free_blocks += 1;
        }
        prev_free = !tag.is_allocated();
        // SAFETY: `size` was checked to end at or before the sentinel.
        block = unsafe { block.forward(size) };
    }
    // SAFETY: the sentinel's tag is inside the region.
    let sentinel = unsafe { region.sentinel.tag() };
    let at = region.sentinel.addr();
    corrupt_if(!sentinel.is_sentinel(), "bad sentinel", at)?;
    corrupt_if(
        sentinel.prev_free() != prev_free,
        "wrong previous-free flag",
        at,
    )?;
    corrupt_if(
        region.first.addr() % GRANULE != GRANULE - WORD,
        "misaligned first block",
        at,
    )?;
    corrupt_if(
        MIN_BLOCK > region.sentinel.addr() - region.first.addr(),
        "tiny region",
        at,
    )
}

/// One walk of every block: O(blocks + regions), with or without the `counters` feature.
impl<G: HeapGrower> Inspect for FreeListAllocator<G> {
    fn usage(&self) -> Usage {
        self.blocks().fold(Usage::default(), |mut usage, block| {
            if block.allocated {
                usage.live_blocks += 1;
                usage.in_use_bytes += block.size;
            } else {
                usage.free_bytes += block.size;
                usage.largest_free_block = usage.largest_free_block.max(block.size);
            }
            usage
        })
    }

    /// [`FreeListAllocator::validate`]: every tag, footer, bin and counter.
    /// O(blocks + regions²).
    fn validate(&self) -> Result<(), HeapCorruption> {
        FreeListAllocator::validate(self)
    }
}
