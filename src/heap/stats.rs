//! What each allocator reports about its heap, formatted for the run's report.

use core::fmt;

use bareheap::LockedSizeClassPools;
use bareheap::chunk::{ChunkStats, GlobalChunkAllocator};
use bareheap::pools::{ClassStats, PoolStats};

use super::instances::CHUNK_SIZE;
use crate::units::Bytes;

/// Where each line of a report starts.
const INDENT: &str = "     ";

/// A snapshot of one allocator's statistics.
#[derive(Debug, Clone, Copy)]
#[expect(
    clippy::large_enum_variant,
    reason = "a short-lived snapshot on the stack; boxing it would allocate on the heap it measures"
)]
pub enum HeapStats {
    /// The chunk allocator's counters, and its longest run of free chunks.
    Chunk {
        /// The O(1) counters.
        stats: ChunkStats,
        /// The longest run of free chunks (a scan of the bitmap).
        largest_free_run: usize,
    },
    /// The pools' counters, and those of the chunk allocator behind them.
    Pools {
        /// Blocks per class, slabs, fallback blocks.
        pools: PoolStats,
        /// The backing chunk allocator.
        backing: ChunkStats,
    },
}

impl HeapStats {
    /// Reads a chunk allocator's statistics.
    pub fn of_chunks(chunks: &GlobalChunkAllocator<CHUNK_SIZE>) -> Self {
        Self::Chunk {
            stats: chunks.stats(),
            largest_free_run: chunks.inspect(|chunks| chunks.largest_free_run()),
        }
    }

    /// Reads the pools' statistics and their backing allocator's.
    pub fn of_pools<F: core::alloc::GlobalAlloc>(
        pools: &LockedSizeClassPools<F>,
        backing: &GlobalChunkAllocator<CHUNK_SIZE>,
    ) -> Self {
        Self::Pools {
            pools: pools.stats(),
            backing: backing.stats(),
        }
    }

    /// Bytes handed to callers and not yet freed, as the allocator counts them (chunk-rounded
    /// for the chunk allocator, class-rounded for the pools).
    pub fn bytes_in_use(&self) -> usize {
        match self {
            Self::Chunk { stats, .. } => stats.used_bytes,
            Self::Pools { pools, .. } => {
                let pooled: usize = pools
                    .classes
                    .iter()
                    .map(|class| class.blocks_in_use * class.block_size)
                    .sum();
                pooled + pools.fallback_bytes
            }
        }
    }
}

impl fmt::Display for HeapStats {
    /// One labelled line per fact, each starting with a newline and [`INDENT`], so the report
    /// reads as a small table under its heading.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Chunk {
                stats,
                largest_free_run,
            } => {
                write_chunks(f, "chunks", stats)?;
                write!(f, "\n{INDENT}largest free run: {largest_free_run} chunks")
            }
            Self::Pools { pools, backing } => write_pools(f, pools, backing),
        }
    }
}

fn write_chunks(f: &mut fmt::Formatter<'_>, label: &str, stats: &ChunkStats) -> fmt::Result {
    write!(
        f,
        "\n{INDENT}{label:<8} {}/{} chunks used ({} held, {} asked), peak {}",
        stats.used_chunks,
        stats.chunk_count,
        Bytes(stats.used_bytes),
        Bytes(stats.requested_bytes),
        Bytes(stats.peak_used_bytes),
    )?;
    write!(
        f,
        "\n{INDENT}{:<8} {} live, {} allocated so far",
        "blocks", stats.live_allocations, stats.total_allocations,
    )
}

fn write_pools(f: &mut fmt::Formatter<'_>, pools: &PoolStats, backing: &ChunkStats) -> fmt::Result {
    write!(
        f,
        "\n{INDENT}{:<8} {} ({}) taken; {} large blocks ({}) beside them",
        "slabs",
        pools.slabs,
        Bytes(pools.slab_bytes),
        pools.fallback_blocks,
        Bytes(pools.fallback_bytes),
    )?;
    write_class_row(f, "class", pools, |class| class.block_size)?;
    write_class_row(f, "used", pools, |class| class.blocks_in_use)?;
    write_class_row(f, "free", pools, |class| class.blocks_free)?;
    write_chunks(f, "backing", backing)
}

/// One row of the per-class table: a label, then one right-aligned column per class.
fn write_class_row(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    pools: &PoolStats,
    column: impl Fn(&ClassStats) -> usize,
) -> fmt::Result {
    write!(f, "\n{INDENT}{label:<8}")?;
    for class in &pools.classes {
        write!(f, " {:>6}", column(class))?;
    }
    Ok(())
}
