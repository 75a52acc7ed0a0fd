//! One [`Design`] per allocator of the crate: how to build it over an arena, and how its
//! counters map onto the model's [`Accounting`]. This is everything that differs between the
//! allocators; the rest of the harness is generic over the `RawAllocator` trait.

use std::alloc::Layout;
use std::ptr::NonNull;

use bareheap::chunk::bitmap_len;
use bareheap::fixed::{FixedBlocks, FixedPool};
use bareheap::free_list::{fit_size, max_block_size, region_size};
use bareheap::pools::{self, PoolStats, SLAB_SIZE};
use bareheap::{
    ChunkAllocator, FreeListAllocator, Heap, OutOfMemory, Region, SizeClassPools, StaticGrower,
};

use crate::{Accounting, Arena, Design};

/// [`Design::explain_failure`] for any chunk allocator: a run of free chunks long enough for
/// `layout`, starting at an address its alignment allows, must not exist.
fn explain_chunk_failure<const C: usize>(
    allocator: &ChunkAllocator<C>,
    layout: Layout,
) -> Result<(), String> {
    let needed = layout.size().div_ceil(C).max(1);
    let chunks = allocator.chunk_count();
    let mut run = 0;
    for index in 0..chunks {
        run = if allocator.is_chunk_used(index) {
            0
        } else {
            run + 1
        };
        let start = (index + 1).checked_sub(needed);
        if run >= needed
            && let Some(start) = start
            && (allocator.start_address() + start * C).is_multiple_of(layout.align())
        {
            return Err(format!("chunks {start}..={index} are free"));
        }
    }
    Ok(())
}

/// [`Design::explain_failure`] for any free list: no free block of [`fit_size`] bytes, and no
/// region of [`region_size`] bytes left in the grower (`remaining`).
fn explain_free_list_failure<G: bareheap::HeapGrower>(
    allocator: &FreeListAllocator<G>,
    layout: Layout,
    remaining: usize,
) -> Result<(), String> {
    let (Some(fit), Some(region)) = (fit_size(layout), region_size(layout)) else {
        return Ok(());
    };
    if let Some(block) = allocator.free_blocks().find(|block| block.size >= fit) {
        return Err(format!(
            "the free block at {:#x} has {} bytes (guaranteed from {fit})",
            block.payload, block.size
        ));
    }
    if remaining >= region {
        return Err(format!(
            "the grower has {remaining} bytes left (a region of {region} suffices)"
        ));
    }
    Ok(())
}

/// [`Design::explain_failure`] for pools in front of a fallback: a class-sized request fails
/// only when its class has no free block and the fallback cannot serve the request itself;
/// a larger one only when the fallback cannot.
fn explain_pools_failure<F: bareheap::RawAllocator>(
    pools: &SizeClassPools<F>,
    layout: Layout,
    fallback: impl FnOnce(&F, Layout) -> Result<(), String>,
) -> Result<(), String> {
    if let Some(class) = pools.slab_class(layout) {
        let free = pools.stats().classes[class].blocks_free;
        if free > 0 {
            return Err(format!("class {class} has {free} free blocks"));
        }
    }
    fallback(pools.fallback(), layout)
}

/// The chunk size of the chunk allocators under test: small, so small heaps have many chunks.
pub const CHUNK_SIZE: usize = 64;
/// The block size of the fixed pools under test.
pub const FIXED_BLOCK: usize = 256;
/// The number of blocks of the fixed pools under test.
pub const FIXED_BLOCKS: usize = if cfg!(miri) { 16 } else { 128 };

/// A static grower over a fresh arena of `bytes` bytes.
fn grower(bytes: usize) -> (StaticGrower<'static>, Vec<Arena>) {
    let memory = Arena::new(bytes, SLAB_SIZE);
    // SAFETY: the subject keeps the arena and frees it after the allocator that holds the
    // grower; nothing else uses the arena.
    let grower = StaticGrower::new(unsafe { memory.as_static_slice() });
    (grower, vec![memory])
}

/// The bitmap chunk allocator, [`CHUNK_SIZE`]-byte chunks over a page-aligned arena. The model
/// predicts the held bytes exactly: a block holds `max(1, ceil(size / CHUNK_SIZE))` chunks.
pub struct Chunk;

impl Design for Chunk {
    type Allocator = ChunkAllocator<CHUNK_SIZE>;
    const NAME: &'static str = "chunk";

    fn build(bytes: usize) -> (Self::Allocator, Vec<Arena>) {
        let chunks = bytes / CHUNK_SIZE;
        let heap = Arena::new(chunks * CHUNK_SIZE, 4096);
        let bitmap = Arena::new(bitmap_len(chunks), 8);
        // SAFETY: both arenas are kept by the subject and freed after the allocator; they do
        // not overlap and nothing else touches them.
        let allocator = unsafe {
            ChunkAllocator::from_raw_parts(heap.start(), heap.len(), bitmap.start(), bitmap.len())
        };
        (allocator.expect("valid arenas"), vec![heap, bitmap])
    }

    fn capacity(allocator: &Self::Allocator) -> usize {
        allocator.capacity()
    }

    fn accounting(allocator: &Self::Allocator) -> Accounting {
        let stats = allocator.stats();
        Accounting {
            live_blocks: stats.live_allocations,
            held_bytes: Some(stats.used_bytes),
            in_use_bytes: None,
        }
    }

    fn held_bytes(_: &Self::Allocator, layout: Layout) -> Option<usize> {
        Some(layout.size().div_ceil(CHUNK_SIZE).max(1) * CHUNK_SIZE)
    }

    fn explain_failure(allocator: &Self::Allocator, layout: Layout) -> Result<(), String> {
        explain_chunk_failure(allocator, layout)
    }

    fn check_consistency(allocator: &Self::Allocator) -> Result<(), String> {
        Self::check_consistency_of(allocator)?;
        let stats = allocator.stats();
        if stats.used_chunks + stats.free_chunks != stats.chunk_count
            || allocator.largest_free_run() > stats.free_chunks
        {
            return Err(format!("free run longer than the free chunks: {stats:?}"));
        }
        Ok(())
    }

    fn check_all_free(allocator: &mut Self::Allocator) -> Result<(), String> {
        let stats = allocator.stats();
        if stats.used_chunks != 0 || allocator.largest_free_run() != stats.chunk_count {
            return Err(format!(
                "chunks still held after freeing everything: {stats:?}"
            ));
        }
        Ok(())
    }
}

/// The fixed pool: [`FIXED_BLOCKS`] blocks of [`FIXED_BLOCK`] bytes over boxed blocks. It
/// serves a layout only if it fits one block; everything else must fail.
pub struct Fixed;

impl Design for Fixed {
    type Allocator = FixedPool<'static, FIXED_BLOCK, FIXED_BLOCKS>;
    const NAME: &'static str = "fixed";

    fn build(_bytes: usize) -> (Self::Allocator, Vec<Arena>) {
        let memory = Arena::new(size_of::<FixedBlocks<FIXED_BLOCK, FIXED_BLOCKS>>(), 16);
        let blocks = memory
            .start()
            .cast::<FixedBlocks<FIXED_BLOCK, FIXED_BLOCKS>>();
        // SAFETY: the arena is large and aligned enough for the blocks (which are only
        // `MaybeUninit` bytes, so any contents are valid); the subject keeps it and frees it
        // after the pool; nothing else touches it.
        let pool = unsafe { FixedPool::from_raw(blocks.as_ptr()) };
        (pool, vec![memory])
    }

    fn capacity(allocator: &Self::Allocator) -> usize {
        allocator.heap_size()
    }

    fn supports(_: &Self::Allocator, layout: Layout, _: usize) -> bool {
        layout.size() <= FIXED_BLOCK && layout.align() <= Self::Allocator::BLOCK_ALIGN
    }

    fn accounting(allocator: &Self::Allocator) -> Accounting {
        Accounting {
            live_blocks: allocator.allocated_blocks(),
            held_bytes: Some(allocator.total_allocated()),
            in_use_bytes: None,
        }
    }

    fn held_bytes(_: &Self::Allocator, _: Layout) -> Option<usize> {
        Some(FIXED_BLOCK)
    }

    fn explain_failure(allocator: &Self::Allocator, _: Layout) -> Result<(), String> {
        match allocator.free_blocks() {
            0 => Ok(()),
            free => Err(format!("{free} blocks are free")),
        }
    }

    fn check_consistency(allocator: &Self::Allocator) -> Result<(), String> {
        let (free, used) = (allocator.free_blocks(), allocator.allocated_blocks());
        if free + used != FIXED_BLOCKS || allocator.total_free() != free * FIXED_BLOCK {
            return Err(format!("{free} free + {used} allocated blocks"));
        }
        Ok(())
    }

    fn check_all_free(allocator: &mut Self::Allocator) -> Result<(), String> {
        match allocator.allocated_blocks() {
            0 => Ok(()),
            left => Err(format!("{left} blocks still allocated")),
        }
    }
}

/// The size-class pools over a chunk allocator of their own (a bounded fallback, so exhaustion
/// is reachable), giving every empty slab back at once (no reserve), so that after freeing
/// everything the fallback holds nothing but the slab table (which stays: not all memory comes
/// back).
pub struct Pools;

/// The chunk size of the pools' fallback: 16 bytes, so the fallback can put a block of its own
/// in the last 16 bytes of a slab's 32 KiB span (a slab is that much shorter), which no lookup
/// of the pools may take for a slab block.
const POOLS_FALLBACK_CHUNK: usize = 16;

/// The slab size of pools over `bytes` of memory: a sixteenth of it, between 1 KiB and 32 KiB
/// (the tests' heap sizes vary, so every slab size is tried).
fn slab_size_for(bytes: usize) -> usize {
    (bytes / 16).clamp(pools::MIN_SLAB_SIZE, SLAB_SIZE)
}

/// The class blocks' held bytes (fallback blocks add nothing the model can predict).
fn pool_accounting(stats: &PoolStats) -> Accounting {
    let live: usize = stats.classes.iter().map(|class| class.blocks_in_use).sum();
    let held = stats
        .classes
        .iter()
        .map(|class| class.blocks_in_use * class.block_size)
        .sum();
    Accounting {
        live_blocks: live + stats.fallback_blocks,
        // Once small blocks went to the fallback (no slab could be had), what they hold is the
        // fallback's business: the class counts no longer add up to the model's figure.
        held_bytes: (!stats.small_blocks_in_fallback).then_some(held),
        in_use_bytes: None,
    }
}

/// The class block of `layout` when a slab of `pools` serves it, or nothing for a fallback
/// layout.
fn pool_held_bytes<F: bareheap::RawAllocator>(pools: &SizeClassPools<F>, layout: Layout) -> usize {
    pools
        .slab_class(layout)
        .map_or(0, |class| pools::MIN_BLOCK_SIZE << class)
}

/// After a trim with no block live: no slab held, no block in a magazine, no fallback block.
fn pools_all_free(stats: &PoolStats) -> Result<(), String> {
    let busy = stats
        .classes
        .iter()
        .any(|class| class.blocks_in_use != 0 || class.slabs != 0 || class.blocks_in_magazine != 0);
    if busy || stats.fallback_blocks != 0 {
        return Err(format!("blocks or slabs still held: {stats:?}"));
    }
    Ok(())
}

/// The fallback (whose live blocks `fallback_live` counts) holds exactly the slabs, the
/// fallback blocks and, once there was a slab, the slab table.
fn pools_consistency(stats: &PoolStats, fallback_live: usize) -> Result<(), String> {
    let table = usize::from(stats.slab_table_bytes > 0);
    if fallback_live != stats.slabs + stats.fallback_blocks + table {
        return Err(format!(
            "fallback holds {fallback_live} blocks; pools say {stats:?}"
        ));
    }
    Ok(())
}

impl Design for Pools {
    type Allocator = SizeClassPools<ChunkAllocator<POOLS_FALLBACK_CHUNK>>;
    const NAME: &'static str = "pools";
    const RETURNS_ALL_MEMORY: bool = false;

    fn build(bytes: usize) -> (Self::Allocator, Vec<Arena>) {
        let chunks = bytes.div_ceil(POOLS_FALLBACK_CHUNK);
        let heap = Arena::new(chunks * POOLS_FALLBACK_CHUNK, SLAB_SIZE);
        let bitmap = Arena::new(bitmap_len(chunks), 8);
        // SAFETY: as for `Chunk::build`.
        let fallback = unsafe {
            ChunkAllocator::from_raw_parts(heap.start(), heap.len(), bitmap.start(), bitmap.len())
        };
        let policy = pools::Policy {
            kept_empty_slabs: 0,
            slab_size: slab_size_for(bytes),
        };
        let pools = SizeClassPools::with_policy(fallback.expect("valid arenas"), policy);
        (pools, vec![heap, bitmap])
    }

    fn capacity(allocator: &Self::Allocator) -> usize {
        allocator.fallback().capacity()
    }

    fn accounting(allocator: &Self::Allocator) -> Accounting {
        pool_accounting(&allocator.stats())
    }

    fn held_bytes(allocator: &Self::Allocator, layout: Layout) -> Option<usize> {
        Some(pool_held_bytes(allocator, layout))
    }

    fn explain_failure(allocator: &Self::Allocator, layout: Layout) -> Result<(), String> {
        explain_pools_failure(allocator, layout, explain_chunk_failure)
    }

    fn check_consistency(allocator: &Self::Allocator) -> Result<(), String> {
        let fallback = allocator.fallback();
        pools_consistency(&allocator.stats(), fallback.stats().live_allocations)?;
        Chunk::check_consistency_of(fallback)
    }

    fn check_all_free(allocator: &mut Self::Allocator) -> Result<(), String> {
        allocator.trim();
        pools_all_free(&allocator.stats())
    }
}

impl Chunk {
    /// [`Design::check_consistency`] for a chunk allocator of any chunk size.
    fn check_consistency_of<const C: usize>(allocator: &ChunkAllocator<C>) -> Result<(), String> {
        let stats = allocator.stats();
        let counted = allocator.used_chunks_in(0..stats.chunk_count);
        if counted == stats.used_chunks {
            Ok(())
        } else {
            Err(format!(
                "bitmap has {counted} used chunks, stats say {stats:?}"
            ))
        }
    }
}

/// The free list, growing from a static grower over an arena. The first growth takes the
/// whole arena as one region, which is retained when empty, so after freeing everything the
/// largest block of a fresh heap fits again, and the region is one free block.
pub struct FreeList;

impl Design for FreeList {
    type Allocator = FreeListAllocator<StaticGrower<'static>>;
    const NAME: &'static str = "free list";

    fn build(bytes: usize) -> (Self::Allocator, Vec<Arena>) {
        let (grower, memory) = grower(bytes);
        (FreeListAllocator::new(grower), memory)
    }

    fn capacity(allocator: &Self::Allocator) -> usize {
        allocator.grower().capacity()
    }

    fn accounting(allocator: &Self::Allocator) -> Accounting {
        let stats = allocator.stats();
        Accounting {
            live_blocks: stats.allocated_blocks,
            held_bytes: None,
            in_use_bytes: Some((stats.in_use_bytes, 0)),
        }
    }

    fn max_in_use(layout: Layout) -> Option<usize> {
        Some(max_block_size(layout))
    }

    fn explain_failure(allocator: &Self::Allocator, layout: Layout) -> Result<(), String> {
        explain_free_list_failure(allocator, layout, allocator.grower().remaining())
    }

    fn check_consistency(allocator: &Self::Allocator) -> Result<(), String> {
        allocator
            .validate()
            .map_err(|corruption| corruption.to_string())
    }

    fn check_all_free(allocator: &mut Self::Allocator) -> Result<(), String> {
        let stats = allocator.stats();
        if stats.allocated_blocks != 0
            || stats.in_use_bytes != 0
            || allocator.free_block_count() != stats.regions
        {
            return Err(format!("heap not entirely free and merged: {stats:?}"));
        }
        Ok(())
    }

    unsafe fn claim(
        allocator: &mut Self::Allocator,
        memory: Region,
    ) -> Option<Result<(), OutOfMemory>> {
        // SAFETY: forwarded from the caller.
        Some(unsafe { allocator.claim(memory) })
    }
}

/// The default heap (pools in front of the free list) over an arena, with its default
/// policies: each class keeps one empty slab, so not all memory comes back.
pub struct DefaultHeap;

impl Design for DefaultHeap {
    type Allocator = Heap<StaticGrower<'static>>;
    const NAME: &'static str = "heap";
    const RETURNS_ALL_MEMORY: bool = false;

    fn build(bytes: usize) -> (Self::Allocator, Vec<Arena>) {
        let (grower, memory) = grower(bytes);
        let pools = pools::Policy {
            slab_size: slab_size_for(bytes),
            ..pools::Policy::DEFAULT
        };
        let heap = Heap::with_policies(grower, bareheap::free_list::Policy::DEFAULT, pools);
        (heap, memory)
    }

    fn capacity(allocator: &Self::Allocator) -> usize {
        allocator.free_list().grower().capacity()
    }

    /// The pools' accounting, and the free list's bytes in use: the slabs and the slab table
    /// are the pools' own.
    fn accounting(allocator: &Self::Allocator) -> Accounting {
        let pools = allocator.pools().stats();
        let slab = Layout::from_size_align(SLAB_SIZE - pools::SLAB_TAIL, SLAB_SIZE);
        let table = Layout::from_size_align(pools.slab_table_bytes, 8);
        let own = pools.slabs * max_block_size(slab.expect("the slab layout"))
            + max_block_size(table.expect("the table layout"));
        Accounting {
            in_use_bytes: Some((allocator.free_list().stats().in_use_bytes, own)),
            ..pool_accounting(&pools)
        }
    }

    fn held_bytes(allocator: &Self::Allocator, layout: Layout) -> Option<usize> {
        Some(pool_held_bytes(allocator.pools(), layout))
    }

    /// A small block lives in a slab, or, when no slab could be had, in the free list.
    fn max_in_use(layout: Layout) -> Option<usize> {
        Some(max_block_size(layout))
    }

    fn explain_failure(allocator: &Self::Allocator, layout: Layout) -> Result<(), String> {
        explain_pools_failure(allocator.pools(), layout, |free_list, layout| {
            explain_free_list_failure(free_list, layout, free_list.grower().remaining())
        })
    }

    fn check_consistency(allocator: &Self::Allocator) -> Result<(), String> {
        let free_list = allocator.free_list();
        pools_consistency(
            &allocator.pools().stats(),
            free_list.stats().allocated_blocks,
        )?;
        FreeList::check_consistency(free_list)
    }

    fn check_all_free(allocator: &mut Self::Allocator) -> Result<(), String> {
        allocator.trim();
        pools_all_free(&allocator.pools().stats())
    }

    unsafe fn claim(
        allocator: &mut Self::Allocator,
        memory: Region,
    ) -> Option<Result<(), OutOfMemory>> {
        // SAFETY: forwarded from the caller.
        Some(unsafe { allocator.claim(memory) })
    }
}

/// The bytes the growing designs count as their capacity: far more than any test asks for,
/// so every request the model makes is one they must serve.
const GROWING_CAPACITY: usize = 1 << 30;

/// A grower that can always give more memory, for [`Growing`]: how to build it, the policy to
/// use, and the most a block may take (a shared region's block, or one of its own rounded to
/// the grower's pages).
pub trait Unbounded: bareheap::HeapGrower + Send + 'static {
    /// The design's name.
    const NAME: &'static str;
    /// A fresh grower.
    fn fresh() -> Self;
    /// The free list's policy over it.
    fn policy() -> bareheap::free_list::Policy {
        bareheap::free_list::Policy::DEFAULT
    }
    /// The most bytes one block of `layout` may take.
    fn max_block(layout: Layout) -> usize {
        max_block_size(layout)
    }
}

/// Real `mmap`s, with dedicated regions from 64 KiB and a discard after every 256 KiB freed
/// into large free blocks, so that the tests' sizes reach both (not under Miri, which
/// emulates every mapped byte).
#[cfg(all(target_os = "linux", not(miri)))]
impl Unbounded for bareheap::MmapGrower {
    const NAME: &'static str = "free list (mmap)";

    fn fresh() -> Self {
        Self::new()
    }

    fn policy() -> bareheap::free_list::Policy {
        bareheap::free_list::Policy {
            dedicated_threshold: 64 * 1024,
            discard_after_bytes: 256 * 1024,
            ..bareheap::free_list::Policy::DEFAULT
        }
    }

    fn max_block(layout: Layout) -> usize {
        let page = bareheap::sys::page_size().unwrap_or(4096);
        let dedicated = region_size(layout).map_or(0, |region| region + page);
        max_block_size(layout).max(dedicated)
    }
}

/// The module's memory, grown with `memory.grow` (WebAssembly only).
#[cfg(target_arch = "wasm32")]
impl Unbounded for bareheap::WasmGrower {
    const NAME: &'static str = "free list (memory.grow)";

    fn fresh() -> Self {
        Self::new()
    }
}

/// The free list growing through a grower that always has more to give: no request the model
/// makes may fail.
pub struct Growing<G>(core::marker::PhantomData<G>);

impl<G: Unbounded> Design for Growing<G> {
    type Allocator = FreeListAllocator<G>;
    const NAME: &'static str = G::NAME;
    const RETURNS_ALL_MEMORY: bool = false;

    fn build(_bytes: usize) -> (Self::Allocator, Vec<Arena>) {
        (
            FreeListAllocator::with_policy(G::fresh(), G::policy()),
            Vec::new(),
        )
    }

    fn capacity(_: &Self::Allocator) -> usize {
        GROWING_CAPACITY
    }

    fn accounting(allocator: &Self::Allocator) -> Accounting {
        let stats = allocator.stats();
        Accounting {
            live_blocks: stats.allocated_blocks,
            held_bytes: None,
            in_use_bytes: Some((stats.in_use_bytes, 0)),
        }
    }

    fn max_in_use(layout: Layout) -> Option<usize> {
        Some(G::max_block(layout))
    }

    fn explain_failure(allocator: &Self::Allocator, layout: Layout) -> Result<(), String> {
        explain_free_list_failure(allocator, layout, usize::MAX)
    }

    fn holds(allocator: &Self::Allocator, ptr: NonNull<u8>, len: usize) -> Option<bool> {
        let last = ptr.as_ptr().wrapping_add(len.max(1) - 1);
        let inside = |address: *const u8| bareheap::RawAllocator::contains(allocator, address);
        Some(inside(ptr.as_ptr()) && inside(last))
    }

    fn check_consistency(allocator: &Self::Allocator) -> Result<(), String> {
        allocator
            .validate()
            .map_err(|corruption| corruption.to_string())
    }

    fn check_all_free(allocator: &mut Self::Allocator) -> Result<(), String> {
        let stats = allocator.stats();
        if stats.allocated_blocks != 0 || stats.in_use_bytes != 0 {
            return Err(format!("blocks still allocated: {stats:?}"));
        }
        Ok(())
    }

    unsafe fn claim(
        allocator: &mut Self::Allocator,
        memory: Region,
    ) -> Option<Result<(), OutOfMemory>> {
        // SAFETY: forwarded from the caller.
        Some(unsafe { allocator.claim(memory) })
    }
}

/// The free list over real `mmap`s.
#[cfg(all(target_os = "linux", not(miri)))]
pub type FreeListMmap = Growing<bareheap::MmapGrower>;

/// The free list over the module's memory (WebAssembly).
#[cfg(target_arch = "wasm32")]
pub type FreeListWasm = Growing<bareheap::WasmGrower>;
