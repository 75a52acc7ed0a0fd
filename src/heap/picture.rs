//! Each allocator's heap as a picture (see [`crate::picture`] for the glyphs).
//!
//! - **chunk**: the bitmap, 64 cells a row, each cell a group of chunks shaded by how many of
//!   them are used.
//! - **pools** and **cached**: one bar per size class: blocks in use out of the blocks the
//!   class holds (for `cached`, blocks waiting in the caches count as in use), then the
//!   backing chunk heap.
//! - **freelist**: one row per region (as many as fit), each cell a stretch of the region
//!   shaded by the bytes of allocated blocks in it.
//!
//! Drawing takes the allocator's lock and reads its state without allocating, so the picture
//! is a consistent snapshot and does not disturb what it shows.

use core::fmt;

use bareheap::free_list::{FreeListAllocator, RegionInfo, RegionKind};
use bareheap::pools::PoolStats;
use bareheap::{ChunkAllocator, MmapGrower, SizeClassPools};

use super::AllocatorChoice;
use super::instances::{CACHED, CHUNK, CHUNK_SIZE, FREE_LIST, POOLS};
use crate::picture::{LEGEND, STRIP_WIDTH, Strip, overlap};
use crate::units::{Bytes, Padded};

/// Rows of the chunk allocator's picture.
const CHUNK_ROWS: usize = 16;
/// Rows of the picture of the pools' backing heap.
const BACKING_ROWS: usize = 8;
/// Regions drawn at most; the rest are counted.
const MAX_REGIONS: usize = 12;
/// Cells in one region's row: narrower than the others, to leave room for the region's size.
const REGION_CELLS: usize = 60;
/// Cells in one pool bar.
const BAR_WIDTH: usize = 48;

/// A picture of one allocator's heap, drawn when displayed.
pub struct HeapPicture(pub AllocatorChoice);

impl fmt::Display for HeapPicture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            AllocatorChoice::Chunk => {
                write!(f, "     ")?;
                CHUNK.inspect(|chunks| draw_chunks(f, chunks, CHUNK_ROWS))
            }
            AllocatorChoice::Pools => POOLS.inspect(|pools| draw_pools_and_backing(f, pools)),
            AllocatorChoice::Cached => CACHED.inspect(|pools| draw_pools_and_backing(f, pools)),
            AllocatorChoice::FreeList => FREE_LIST.inspect(|heap| draw_free_list(f, heap)),
        }?;
        write!(f, "     legend: {LEGEND}")
    }
}

/// The pools' bars, then their backing chunk heap.
fn draw_pools_and_backing(
    f: &mut fmt::Formatter<'_>,
    pools: &SizeClassPools<ChunkAllocator<CHUNK_SIZE>>,
) -> fmt::Result {
    draw_pools(f, &pools.stats())?;
    write!(f, "     backing heap: ")?;
    draw_chunks(f, pools.fallback(), BACKING_ROWS)
}

fn draw_chunks(
    f: &mut fmt::Formatter<'_>,
    chunks: &ChunkAllocator<CHUNK_SIZE>,
    rows: usize,
) -> fmt::Result {
    let count = chunks.chunk_count();
    let per_cell = count.div_ceil(rows * STRIP_WIDTH).max(1);
    let per_row = per_cell * STRIP_WIDTH;
    writeln!(
        f,
        "chunk bitmap, {count} chunks, one cell = {per_cell} chunks ({})",
        Bytes(per_cell * CHUNK_SIZE)
    )?;
    for row in 0..count.div_ceil(per_row) {
        let row_start = row * per_row;
        let cell = |index: usize| {
            let start = (row_start + index * per_cell).min(count);
            let end = (start + per_cell).min(count);
            (chunks.used_chunks_in(start..end), end - start)
        };
        writeln!(
            f,
            "     {}",
            Strip {
                cells: STRIP_WIDTH,
                cell
            }
        )?;
    }
    Ok(())
}

fn draw_pools(f: &mut fmt::Formatter<'_>, pools: &PoolStats) -> fmt::Result {
    writeln!(f, "     size classes: blocks in use / blocks held")?;
    for class in &pools.classes {
        let held = class.blocks_in_use + class.blocks_free;
        let per_cell = held.div_ceil(BAR_WIDTH).max(1);
        let cell = |index: usize| {
            let (start, end) = (index * per_cell, (index + 1) * per_cell);
            (
                overlap(0, class.blocks_in_use, start, end),
                overlap(0, held, start, end),
            )
        };
        writeln!(
            f,
            "     {:>7} {} {}/{}",
            Padded(format_args!("{}", Bytes(class.block_size))),
            Strip {
                cells: BAR_WIDTH,
                cell
            },
            class.blocks_in_use,
            held,
        )?;
    }
    Ok(())
}

fn draw_free_list(f: &mut fmt::Formatter<'_>, heap: &FreeListAllocator<MmapGrower>) -> fmt::Result {
    let regions = heap.regions().count();
    writeln!(
        f,
        "     free-list regions: {regions}, one row each, newest first"
    )?;
    for region in heap.regions().take(MAX_REGIONS) {
        let per_cell = region.len.div_ceil(REGION_CELLS).max(1);
        let used = allocated_bytes_per_cell(heap, &region, per_cell);
        let cell = |index: usize| (used[index], per_cell);
        let kind = if region.kind == RegionKind::Dedicated {
            " one large block"
        } else {
            ""
        };
        writeln!(
            f,
            "     {} {:>9}{kind}",
            Strip {
                cells: REGION_CELLS,
                cell
            },
            Padded(format_args!("{}", Bytes(region.len)))
        )?;
    }
    if regions > MAX_REGIONS {
        writeln!(f, "     ... and {} more regions", regions - MAX_REGIONS)?;
    }
    Ok(())
}

/// Bytes of allocated blocks in each of the [`REGION_CELLS`] cells of `region`, in one pass
/// over the heap's blocks.
fn allocated_bytes_per_cell(
    heap: &FreeListAllocator<MmapGrower>,
    region: &RegionInfo,
    per_cell: usize,
) -> [usize; REGION_CELLS] {
    let mut used = [0; REGION_CELLS];
    let region_end = region.start + region.len;
    let blocks = heap.blocks().filter(|block| block.allocated);
    for block in blocks.filter(|block| (region.start..region_end).contains(&block.payload)) {
        let first_cell = (block.payload - region.start) / per_cell;
        for (index, cell) in used.iter_mut().enumerate().skip(first_cell) {
            let cell_start = region.start + index * per_cell;
            if cell_start >= block.payload + block.size {
                break;
            }
            *cell += overlap(block.payload, block.size, cell_start, cell_start + per_cell);
        }
    }
    used
}
