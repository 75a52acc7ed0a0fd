//! What each allocator reports about its heap, formatted for the run's report.

use core::fmt;

use bareheap::chunk::{ChunkAllocator, ChunkStats, GlobalChunkAllocator};
use bareheap::free_list::Stats as FreeListStats;
use bareheap::pools::{ClassStats, PoolStats, SLAB_SIZE};
use bareheap::{CacheStats, FutexLock, LockedFreeListAllocator, LockedSizeClassPools, MmapGrower};

use super::instances::{CHUNK_SIZE, CachedPools};
use crate::units::Bytes;

/// Where each line of a report starts.
const INDENT: &str = "     ";

/// A snapshot of one allocator's statistics.
#[derive(Debug, Clone, Copy)]
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
    /// The pools behind the caches, their backing allocator, and all caches together.
    Cached {
        /// Blocks per class (cached blocks count as in use here), slabs, fallback blocks.
        pools: PoolStats,
        /// The backing chunk allocator.
        backing: ChunkStats,
        /// The caches' counters, added up.
        caches: CacheStats,
    },
    /// The free list's counters, and its grower's.
    FreeList {
        /// Blocks, bytes and regions.
        stats: FreeListStats,
        /// Free blocks (counted in the bins).
        free_blocks: usize,
        /// `mmap` calls so far.
        mapped_regions: usize,
        /// `munmap` calls so far.
        released_regions: usize,
    },
}

impl HeapStats {
    /// Reads a chunk allocator's statistics.
    pub fn of_chunks(chunks: &GlobalChunkAllocator<CHUNK_SIZE, FutexLock>) -> Self {
        chunks.inspect(|chunks| Self::Chunk {
            stats: chunks.stats(),
            largest_free_run: chunks.largest_free_run(),
        })
    }

    /// Reads the pools' statistics and their backing allocator's.
    pub fn of_pools(pools: &LockedSizeClassPools<ChunkAllocator<CHUNK_SIZE>, FutexLock>) -> Self {
        pools.inspect(|pools| Self::Pools {
            pools: pools.stats(),
            backing: pools.fallback().stats(),
        })
    }

    /// Reads the cached pools' statistics: the shared pools', then the caches' (each cache is
    /// read on its own, so a thread running meanwhile can make the two disagree by a batch).
    pub fn of_cached(cached: &CachedPools) -> Self {
        let (pools, backing) = cached.inspect(|pools| (pools.stats(), pools.fallback().stats()));
        Self::Cached {
            pools,
            backing,
            caches: cached.total_stats(),
        }
    }

    /// Reads the free-list allocator's statistics and its grower's counters.
    pub fn of_free_list(free_list: &LockedFreeListAllocator<MmapGrower, FutexLock>) -> Self {
        free_list.inspect(|free_list| Self::FreeList {
            stats: free_list.stats(),
            free_blocks: free_list.free_block_count(),
            mapped_regions: free_list.grower().mapped_regions(),
            released_regions: free_list.grower().released_regions(),
        })
    }

    /// The longest run of free chunks, for the chunk allocator (the largest block it could
    /// still hand out); `None` for the others.
    pub const fn largest_free_run(&self) -> Option<usize> {
        match self {
            Self::Chunk {
                largest_free_run, ..
            } => Some(*largest_free_run),
            Self::Pools { .. } | Self::Cached { .. } | Self::FreeList { .. } => None,
        }
    }

    /// Bytes handed to callers and not yet freed, as the allocator counts them (chunk-rounded
    /// for the chunk allocator, class-rounded for the pools).
    pub fn bytes_in_use(&self) -> usize {
        match self {
            Self::Chunk { stats, .. } => stats.used_bytes,
            Self::Pools { pools, backing } => pooled_bytes(pools) + large_bytes(pools, backing),
            Self::Cached {
                pools,
                backing,
                caches,
            } => pooled_bytes(pools) - caches.cached_bytes + large_bytes(pools, backing),
            Self::FreeList { stats, .. } => stats.in_use_bytes,
        }
    }
}

/// Bytes of the pools' class blocks in use.
fn pooled_bytes(pools: &PoolStats) -> usize {
    pools
        .classes
        .iter()
        .map(|class| class.blocks_in_use * class.block_size)
        .sum()
}

/// Bytes of the large blocks the pools' backing chunk allocator serves directly: what it holds
/// beyond the slabs (each a whole 32 KiB of chunks) and the slab table.
fn large_bytes(pools: &PoolStats, backing: &ChunkStats) -> usize {
    let slabs = pools.slabs * SLAB_SIZE;
    backing.used_bytes - slabs - pools.slab_table_bytes.next_multiple_of(CHUNK_SIZE)
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
            Self::Cached {
                pools,
                backing,
                caches,
            } => {
                write_pools(f, pools, backing)?;
                write_caches(f, caches)
            }
            Self::FreeList {
                stats,
                free_blocks,
                mapped_regions,
                released_regions,
            } => write_free_list(f, stats, *free_blocks, *mapped_regions, *released_regions),
        }
    }
}

fn write_chunks(f: &mut fmt::Formatter<'_>, label: &str, stats: &ChunkStats) -> fmt::Result {
    write!(
        f,
        "\n{INDENT}{label:<8} {}/{} used, peak {}",
        stats.used_chunks,
        stats.chunk_count,
        Bytes(stats.peak_used_bytes),
    )?;
    write!(
        f,
        "\n{INDENT}{:<8} {} held",
        "bytes",
        Bytes(stats.used_bytes),
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
        "\n{INDENT}{:<8} {} held ({}), {} given back; {} large blocks ({})",
        "slabs",
        pools.slabs,
        Bytes(pools.slab_bytes),
        pools.slabs_released,
        pools.fallback_blocks,
        Bytes(large_bytes(pools, backing)),
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

/// The caches' line: what they hold, and how often they went to the shared heap.
fn write_caches(f: &mut fmt::Formatter<'_>, caches: &CacheStats) -> fmt::Result {
    write!(
        f,
        "\n{INDENT}{:<8} {} blocks held ({}), {} allocations, {} frees",
        "caches",
        caches.cached_blocks,
        Bytes(caches.cached_bytes),
        caches.allocations,
        caches.frees,
    )?;
    write!(
        f,
        "\n{INDENT}{:<8} {} refills, {} drains, {} bypassed",
        "", caches.refills, caches.drains, caches.bypassed,
    )
}

fn write_free_list(
    f: &mut fmt::Formatter<'_>,
    stats: &FreeListStats,
    free_blocks: usize,
    mapped_regions: usize,
    released_regions: usize,
) -> fmt::Result {
    write!(
        f,
        "\n{INDENT}{:<8} {} mapped, {} released; {} held ({})",
        "regions",
        mapped_regions,
        released_regions,
        stats.regions,
        Bytes(stats.mapped_bytes),
    )?;
    write!(
        f,
        "\n{INDENT}{:<8} {} in use, {} free, peak {}",
        "bytes",
        Bytes(stats.in_use_bytes),
        Bytes(stats.free_bytes),
        Bytes(stats.peak_in_use_bytes),
    )?;
    write!(
        f,
        "\n{INDENT}{:<8} {} live, {} free",
        "blocks", stats.allocated_blocks, free_blocks,
    )
}
