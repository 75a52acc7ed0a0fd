//! Tests of the cache layer: what one cache does (with the shared lock counted), its bounds, its
//! statistics, and a shadow model shared by threads that free each other's blocks. Under Miri
//! the threaded test runs at a small size, and Miri's data-race detector checks every handoff
//! between a cache and the shared heap.

use core::alloc::{GlobalAlloc, Layout};
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};
use std::boxed::Box;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::thread;
use std::vec::Vec;

use super::*;
use crate::free_list::FreeListAllocator;
use crate::pools::CLASS_COUNT;
use crate::test_lock::CountingLock;
use crate::{Heap, Region, StaticGrower};

/// A cache index the test sets by hand.
struct Pick(AtomicUsize);

impl CacheIndex for Pick {
    fn current(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

type TestHeap<'a> = Cached<Heap<StaticGrower<'a>>, Pick, CountingLock, 4>;

/// `bytes` of memory for a heap, left uninitialised (no fill loop, which Miri would interpret
/// byte by byte).
fn memory(bytes: usize) -> Box<[MaybeUninit<u8>]> {
    Box::new_uninit_slice(bytes)
}

fn heap(memory: &mut [MaybeUninit<u8>]) -> TestHeap<'_> {
    Cached::new(
        Heap::new(StaticGrower::new(memory)),
        Pick(AtomicUsize::new(0)),
    )
}

fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).unwrap()
}

/// How often the shared heap's lock has been taken.
fn locks<A, I, const N: usize>(heap: &Cached<A, I, CountingLock, N>) -> usize {
    heap.raw_lock().taken()
}

/// Blocks the shared default heap has handed out and not had back.
fn shared_blocks<I, R: RawMutex, const N: usize>(
    heap: &Cached<Heap<StaticGrower<'_>>, I, R, N>,
) -> usize {
    heap.inspect(|heap| {
        let stats = heap.pools().stats();
        stats.classes.iter().map(|c| c.blocks_in_use).sum::<usize>() + stats.fallback_blocks
    })
}

/// Every count of `stats` agrees with the others: blocks in = blocks out + blocks held.
fn assert_balanced(stats: CacheStats) {
    assert_eq!(
        stats.refilled_blocks + stats.frees,
        stats.allocations + stats.drained_blocks + stats.cached_blocks as u64,
        "{stats:?}"
    );
}

#[test]
fn a_freed_block_is_handed_out_again_without_the_shared_lock() {
    let mut memory = memory(256 * 1024);
    let heap = heap(&mut memory);
    let small = layout(24, 8);
    let block = heap.allocate(small).unwrap();
    assert_eq!(block.len(), 32, "a whole 32-byte class block");
    assert_eq!(locks(&heap), 1, "one lock for the refill");
    let stats = heap.stats(0);
    assert_eq!((stats.refills, stats.refilled_blocks), (1, batch(1) as u64));
    assert_eq!(stats.cached_blocks, batch(1) - 1);

    // SAFETY: a live block of the heap with its layout.
    unsafe { heap.deallocate_trusted(block.cast(), small) };
    assert_eq!(
        locks(&heap),
        2,
        "one lock to learn the heap's span the first time a block of it comes back"
    );
    let again = heap.allocate(layout(32, 32)).unwrap();
    assert_eq!(
        again.cast::<u8>(),
        block.cast::<u8>(),
        "the block freed last"
    );
    // SAFETY: as above.
    unsafe { heap.deallocate_trusted(again.cast(), layout(32, 32)) };
    let third = heap.allocate(small).unwrap();
    assert_eq!(third.cast::<u8>(), block.cast::<u8>());
    assert_eq!(
        locks(&heap),
        2,
        "no lock for the later frees and allocations"
    );
    let stats = heap.stats(0);
    assert_eq!((stats.allocations, stats.frees), (3, 2));
    assert_balanced(stats);
    // SAFETY: as above.
    unsafe { heap.deallocate_trusted(third.cast(), small) };
}

#[test]
fn a_full_magazine_gives_half_back_in_one_lock() {
    let mut memory = memory(512 * 1024);
    let heap = heap(&mut memory);
    let large_class = layout(2048, 8);
    let mut blocks: Vec<_> = (0..11)
        .map(|_| heap.allocate(large_class).unwrap())
        .collect();
    // The first free teaches the cache the heap's span (one lock of its own).
    let first = blocks.pop().unwrap();
    // SAFETY: a live block of the heap with its layout, freed once.
    unsafe { heap.deallocate_trusted(first.cast(), large_class) };
    let drains_before = heap.stats(0).drains;
    let before = locks(&heap);
    for block in &blocks {
        // SAFETY: live blocks of the heap with their layout, each freed once.
        unsafe { heap.deallocate_trusted(block.cast(), large_class) };
    }
    let stats = heap.stats(0);
    assert!(stats.cached_blocks <= magazine_limit(7), "{stats:?}");
    assert_eq!(
        locks(&heap) - before,
        (stats.drains - drains_before) as usize,
        "one lock per drain"
    );
    assert!(stats.drains > 0);
    assert_balanced(stats);
}

#[test]
fn a_cache_holds_at_most_its_bound_in_every_class() {
    let mut memory = memory(2 * 1024 * 1024);
    let heap = heap(&mut memory);
    for class in 0..CLASS_COUNT {
        let layout = class_layout(class);
        let blocks: Vec<_> = (0..100).map(|_| heap.allocate(layout).unwrap()).collect();
        for block in blocks {
            // SAFETY: live blocks of the heap with their layout, each freed once.
            unsafe { heap.deallocate_trusted(block.cast(), layout) };
        }
    }
    let stats = heap.stats(0);
    let bound: usize = (0..CLASS_COUNT)
        .map(|class| magazine_limit(class) * block_size(class))
        .sum();
    assert_eq!(bound, 79 * 1024, "the bound the docs state");
    assert_eq!(stats.cached_bytes, bound, "every magazine full, none over");
    assert_balanced(stats);
}

#[test]
fn release_gives_every_block_back_to_the_shared_heap() {
    let mut memory = memory(512 * 1024);
    let heap = heap(&mut memory);
    for index in 0..4 {
        heap.index.0.store(index, Ordering::Relaxed);
        let blocks: Vec<_> = (0..40)
            .map(|i| heap.allocate(layout(8 << (i % 8), 8)).unwrap())
            .collect();
        for (i, block) in blocks.into_iter().enumerate() {
            // SAFETY: live blocks of the heap with their layouts, each freed once.
            unsafe { heap.deallocate_trusted(block.cast(), layout(8 << (i % 8), 8)) };
        }
    }
    let held = heap.total_stats().cached_blocks;
    assert!(held > 0);
    assert_eq!(
        shared_blocks(&heap),
        held,
        "cached blocks are allocated there"
    );
    heap.release(2);
    assert_eq!(heap.stats(2).cached_blocks, 0);
    heap.release_all();
    assert_eq!(heap.total_stats().cached_blocks, 0);
    assert_eq!(shared_blocks(&heap), 0);
    heap.inspect(|heap| heap.free_list().validate()).unwrap();
}

#[test]
fn a_busy_cache_sends_the_call_to_the_shared_heap() {
    let mut memory = memory(256 * 1024);
    let heap = heap(&mut memory);
    let small = layout(100, 4);
    let inside = heap.slots[0].enter().expect("nobody is inside");
    let before = locks(&heap);
    let block = heap.allocate(small).unwrap();
    assert_eq!(block.len(), 128);
    // SAFETY: a live block of the heap with its layout.
    unsafe { heap.deallocate_trusted(block.cast(), small) };
    assert_eq!(locks(&heap) - before, 2, "both calls took the shared lock");
    drop(inside);
    let stats = heap.stats(0);
    assert_eq!(stats.bypassed, 2);
    assert_eq!(
        (stats.allocations, stats.frees, stats.cached_blocks),
        (0, 0, 0)
    );
    assert_eq!(shared_blocks(&heap), 0);
}

#[test]
fn resizes_stay_in_place_within_a_class_and_keep_contents_across() {
    let mut memory = memory(512 * 1024);
    let heap = heap(&mut memory);
    let sizes = [20, 30, 100, 5000, 9000, 600, 10];
    // SAFETY: every block is used within its size and resized or freed once, with its layout.
    unsafe {
        let mut ptr = heap.alloc(layout(sizes[0], 2));
        ptr.write_bytes(0xA5, sizes[0]);
        for pair in sizes.windows(2) {
            let moved = heap.realloc(ptr, layout(pair[0], 2), pair[1]);
            assert!(!moved.is_null());
            if pair == [20, 30] {
                assert_eq!(moved, ptr, "same class: in place");
            }
            let kept = pair[0].min(pair[1]);
            assert!((0..kept).all(|i| *moved.add(i) == 0xA5), "{pair:?}");
            moved.write_bytes(0xA5, pair[1]);
            ptr = moved;
        }
        heap.dealloc(ptr, layout(10, 2));
    }
    heap.release_all();
    assert_eq!(shared_blocks(&heap), 0);
}

/// A free list of 64 KiB behind four caches, whose cache 1 holds free blocks of several
/// classes: the three largest, whose batches are short (the free list checks its whole heap
/// before every call in these tests, and Miri runs them).
fn heap_whose_cache_1_holds_blocks(
    memory: &mut [MaybeUninit<u8>],
) -> Cached<FreeListAllocator<StaticGrower<'_>>, Pick, CountingLock, 4> {
    let heap = Cached::new(
        FreeListAllocator::new(StaticGrower::new(memory)),
        Pick(AtomicUsize::new(1)),
    );
    let small: Vec<_> = (0..24)
        .map(|i| (heap.allocate(class_layout(5 + i % 3)).unwrap(), 5 + i % 3))
        .collect();
    for (block, class) in small {
        // SAFETY: live blocks of the heap with their layouts, each freed once.
        unsafe { heap.deallocate_trusted(block.cast(), class_layout(class)) };
    }
    assert!(heap.stats(1).cached_bytes > 0);
    heap
}

#[test]
fn exhaustion_takes_back_the_blocks_of_idle_caches_first() {
    let mut memory = memory(64 * 1024);
    let heap = heap_whose_cache_1_holds_blocks(&mut memory);
    // Cache 0's thread needs nearly all the memory in one block.
    heap.index.0.store(0, Ordering::Relaxed);
    let large = layout(56 * 1024, 8);
    let block = heap
        .allocate(large)
        .expect("the idle cache's blocks were taken back");
    assert_eq!(heap.stats(1).cached_blocks, 0);
    // SAFETY: a live block of the heap with its layout.
    unsafe { heap.deallocate_trusted(block.cast(), large) };
    assert!(
        heap.allocate(layout(80 * 1024, 8)).is_err(),
        "really exhausted"
    );
}

/// A small allocation whose cache is busy goes to the shared heap; when that heap has no
/// block, the idle caches' blocks are taken back first there too (the layer's promise: null
/// only when memory is exhausted).
#[test]
fn a_bypassed_allocation_takes_back_idle_caches_before_failing() {
    let mut memory = memory(64 * 1024);
    let heap = heap_whose_cache_1_holds_blocks(&mut memory);
    // Everything else the shared heap has goes to blocks taken from it directly.
    let mut taken = Vec::new();
    for size in [8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16] {
        while let Ok(block) = heap.shared.lock().allocate(layout(size, 8)) {
            taken.push((block, size));
        }
    }
    // Cache 0 is busy (as inside a signal handler that interrupted its thread).
    heap.index.0.store(0, Ordering::Relaxed);
    let busy = heap.slots[0].enter().expect("nobody is inside");
    let block = heap.allocate(class_layout(5));
    drop(busy);
    let block = block.expect("cache 1's blocks were taken back");
    assert_eq!(block.len(), block_size(5));
    assert_eq!(heap.stats(1).cached_blocks, 0);
    assert_eq!(heap.stats(0).bypassed, 1);
    // SAFETY: live blocks of the heap, each freed once with its layout.
    unsafe {
        heap.deallocate_trusted(block.cast(), class_layout(5));
        for (block, size) in taken {
            heap.shared
                .lock()
                .deallocate_trusted(block.cast(), layout(size, 8));
        }
    }
}

#[test]
fn a_checked_free_refuses_a_block_a_cache_holds() {
    let mut memory = memory(256 * 1024);
    let heap = heap(&mut memory);
    let small = layout(48, 8);
    let block = heap.allocate(small).unwrap().cast::<u8>();
    let kept = heap.allocate(small).unwrap().cast::<u8>();
    // SAFETY: `block` is live; after this it is only passed to the checked free, which
    // accepts freed pointers.
    unsafe { heap.deallocate_trusted(block, small) };
    // SAFETY: the checked free accepts freed and foreign pointers.
    unsafe {
        assert_eq!(
            heap.deallocate(block.as_ptr(), small),
            Err(FreeError::DoubleFree)
        );
        let mut elsewhere = 0u64;
        assert_eq!(
            heap.deallocate((&raw mut elsewhere).cast(), small),
            Err(FreeError::FreeOutOfBounds)
        );
        assert_eq!(heap.deallocate(kept.as_ptr(), small), Ok(()));
        assert_eq!(
            heap.deallocate(kept.as_ptr(), small),
            Err(FreeError::DoubleFree),
            "the second checked free finds it free in the shared heap"
        );
    }
    heap.release_all();
    assert_eq!(shared_blocks(&heap), 0);
}

/// A cache number per thread, in the order threads first ask.
struct ThreadNumber;

impl CacheIndex for ThreadNumber {
    fn current(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        std::thread_local!(static MINE: usize = NEXT.fetch_add(1, Ordering::Relaxed));
        MINE.with(|mine| *mine)
    }
}

/// A block in play in the threaded model: where it is, its layout, and its fill byte.
#[derive(Clone, Copy)]
struct Block {
    ptr: NonNull<u8>,
    layout: Layout,
    fill: u8,
}

// SAFETY: a block of the shared heap, usable from any thread; the model hands each block to
// one thread at a time.
unsafe impl Send for Block {}

/// The live blocks of all threads by address, to check that no two overlap.
type Shadow = Mutex<BTreeMap<usize, usize>>;

/// Allocates a block for `layout` from `heap`, checks it against the shadow and fills it.
fn take<I: CacheIndex, const N: usize>(
    heap: &Cached<Heap<StaticGrower<'_>>, I, DefaultLock, N>,
    shadow: &Shadow,
    layout: Layout,
    fill: u8,
) -> Block {
    let block = heap.allocate(layout).expect("the heap is large enough");
    let (start, len) = (block.cast::<u8>().as_ptr().addr(), block.len());
    assert!(len >= layout.size() && start.is_multiple_of(layout.align()));
    let mut live = shadow.lock().unwrap();
    let before = live.range(..start + len.max(1)).next_back();
    assert!(
        before.is_none_or(|(&at, &size)| at + size <= start),
        "overlap at {start:#x}"
    );
    live.insert(start, len);
    drop(live);
    // SAFETY: a fresh block of at least `layout.size()` bytes.
    unsafe { block.cast::<u8>().as_ptr().write_bytes(fill, layout.size()) };
    Block {
        ptr: block.cast(),
        layout,
        fill,
    }
}

/// Checks a block's contents, takes it out of the shadow and frees it into `heap`.
fn give_back<I: CacheIndex, const N: usize>(
    heap: &Cached<Heap<StaticGrower<'_>>, I, DefaultLock, N>,
    shadow: &Shadow,
    block: Block,
) {
    // SAFETY: the block is live and was filled for `layout.size()` bytes.
    let bytes = unsafe { core::slice::from_raw_parts(block.ptr.as_ptr(), block.layout.size()) };
    assert!(bytes.iter().all(|&b| b == block.fill), "contents changed");
    shadow.lock().unwrap().remove(&block.ptr.as_ptr().addr());
    // SAFETY: a live block of this heap with its layout, freed once.
    unsafe { heap.deallocate_trusted(block.ptr, block.layout) };
}

#[test]
fn threads_free_each_others_blocks_through_their_caches() {
    let (threads, rounds) = if cfg!(miri) { (3, 60) } else { (4, 4000) };
    let mut memory = memory(if cfg!(miri) { 1 << 20 } else { 4 << 20 });
    let heap: Cached<_, _, DefaultLock, 8> =
        Cached::new(Heap::new(StaticGrower::new(&mut memory)), ThreadNumber);
    let shadow = Shadow::default();
    // Blocks posted by one thread for another to free.
    let mailbox = Mutex::new(Vec::<Block>::new());
    thread::scope(|scope| {
        for thread in 0..threads {
            let (heap, shadow, mailbox) = (&heap, &shadow, &mailbox);
            scope.spawn(move || {
                let mut mine = Vec::new();
                let mut seed = 0x9E37_79B9_7F4A_7C15_u64.wrapping_mul(thread as u64 + 1);
                for round in 0..rounds {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let size = match seed % 16 {
                        0 => 2049 + (seed >> 8) as usize % 6000,
                        _ => (seed >> 8) as usize % 700,
                    };
                    let align = 1 << ((seed >> 20) % 7);
                    let fill = (thread * 64 + round % 64) as u8;
                    match (seed >> 32) % 4 {
                        0 | 1 => mine.push(take(heap, shadow, layout(size, align), fill)),
                        2 if !mine.is_empty() => {
                            let block = mine.swap_remove((seed >> 40) as usize % mine.len());
                            mailbox.lock().unwrap().push(block);
                        }
                        _ => {
                            let posted = mailbox.lock().unwrap().pop();
                            if let Some(block) = posted.or_else(|| mine.pop()) {
                                give_back(heap, shadow, block);
                            }
                        }
                    }
                }
                // Thread 0 exits with its blocks freed into a full cache and no release; the
                // others release theirs, as a thread-exit path would.
                for block in mine {
                    give_back(heap, shadow, block);
                }
                if thread != 0 {
                    heap.release(ThreadNumber.current());
                }
            });
        }
    });
    for block in mailbox.into_inner().unwrap() {
        give_back(&heap, &shadow, block);
    }
    assert!(shadow.lock().unwrap().is_empty());
    let total = heap.total_stats();
    for index in 0..heap.caches() {
        assert_balanced(heap.stats(index));
    }
    assert!(total.frees > 0 && total.allocations > 0);
    assert_eq!(
        shared_blocks(&heap),
        total.cached_blocks,
        "only cached blocks are out"
    );
    heap.release_all();
    assert_eq!(shared_blocks(&heap), 0);
    heap.inspect(|heap| heap.free_list().validate()).unwrap();
}

/// The roots: a span learned is used for every address inside it, most recently used first,
/// the oldest is forgotten when a fifth is learned, and all are forgotten once the heap has
/// given memory back since they were learned.
#[test]
fn roots_rebase_inside_their_spans_until_the_heap_gives_memory_back() {
    let mut memory = memory(5 * 1024);
    let base = NonNull::from(&mut memory[..]).cast::<u8>();
    let span = |index: usize| {
        // SAFETY: five 1 KiB spans inside `memory`.
        Region::new(unsafe { base.add(index * 1024) }, 1024)
    };
    let address = |index: usize, offset: usize| {
        core::num::NonZeroUsize::new(base.addr().get() + index * 1024 + offset).unwrap()
    };
    let mut roots = cache::Roots::EMPTY;
    assert_eq!(roots.rebase(address(0, 8), 0), None);
    for index in 0..4 {
        roots.learn(span(index), 0);
    }
    for index in 0..4 {
        let rebased = roots.rebase(address(index, 100), 0).unwrap();
        assert_eq!(rebased.addr(), address(index, 100));
    }
    // Span 0 is the least recently used now.
    roots.learn(span(4), 0);
    assert_eq!(roots.rebase(address(0, 100), 0), None);
    assert!(roots.rebase(address(4, 1023), 0).is_some());
    assert_eq!(roots.rebase(address(4, 1024), 0), None, "past the span");
    // The heap gave memory back: no span may be trusted any more.
    assert_eq!(roots.rebase(address(4, 8), 1), None);
    roots.learn(span(1), 1);
    assert!(roots.rebase(address(1, 8), 1).is_some());
    assert_eq!(roots.rebase(address(4, 8), 1), None, "forgotten");
}

#[cfg(all(target_os = "linux", not(miri)))]
#[test]
fn the_page_size_behind_the_caches_is_set_without_unsafe() {
    use crate::{Heap, MmapGrower};

    struct OneThread;
    impl CacheIndex for OneThread {
        fn current(&self) -> usize {
            0
        }
    }
    let heap: Cached<_, _> = Cached::new(Heap::new(MmapGrower::new()), OneThread);
    assert!(heap.set_page_size(3000).is_err(), "not a power of two");
    heap.set_page_size(64 * 1024).unwrap();
    let page = heap.inspect(|heap| heap.free_list().grower().page_size());
    assert_eq!(page, 64 * 1024);
}

/// A grower that takes each region from the test's global allocator, at most `left` more of
/// them, and frees a region given back at once (so a later region may land at its address, as
/// after `munmap` and `mmap`).
struct FreshRegions {
    left: usize,
}

/// The smallest region [`FreshRegions`] hands out.
const FRESH_REGION: usize = 64 * 1024;

// SAFETY: every region is a fresh allocation of its own, valid until it is given back (then
// freed, never used again by the grower).
unsafe impl crate::HeapGrower for FreshRegions {
    type Err = crate::grower::Exhausted;

    const RELEASES: bool = true;
    const SHARES_PROVENANCE: bool = false;

    fn grow(&mut self, min_size: usize) -> Result<Region, Self::Err> {
        self.left = self.left.checked_sub(1).ok_or(crate::grower::Exhausted)?;
        let len = min_size.max(FRESH_REGION);
        let region: *mut [MaybeUninit<u8>] = Box::into_raw(Box::new_uninit_slice(len));
        // SAFETY: a fresh allocation, ours until `release`.
        Ok(Region::from(unsafe { &mut *region }))
    }

    unsafe fn release(
        &mut self,
        region: Region,
    ) -> Result<(), crate::grower::ReleaseError<Self::Err>> {
        let slice = core::ptr::slice_from_raw_parts_mut(region.ptr().as_ptr(), region.len());
        // SAFETY: `region` is one that `grow` handed out (from `Box::into_raw`, whole), given
        // back once.
        drop(unsafe { Box::from_raw(slice as *mut [MaybeUninit<u8>]) });
        self.left += 1;
        Ok(())
    }
}

/// The free's common path trusts only the cache's first root; a block of a span the cache
/// learned earlier takes the out-of-line path, which finds that root and moves it to the
/// front, still without the shared lock, and so does a full magazine there (one lock for its
/// drain). Blocks of two regions are freed in turns, so that every free finds its root second.
#[test]
fn frees_rooted_in_an_older_span_take_no_lock() {
    struct OneCache;
    impl CacheIndex for OneCache {
        fn current(&self) -> usize {
            0
        }
    }
    // No region goes back, so that no root is ever distrusted (a drain that emptied a region
    // would make the next free learn its span again, under the lock).
    let keep = crate::free_list::Policy {
        release_empty_regions: false,
        ..crate::free_list::Policy::DEFAULT
    };
    let heap: Cached<Heap<FreshRegions>, OneCache, CountingLock, 1> = Cached::new(
        Heap::with_policies(
            FreshRegions { left: 8 },
            keep,
            crate::pools::Policy::DEFAULT,
        ),
        OneCache,
    );
    let class = layout(2048, 8);
    let region_of = |block: NonNull<[u8]>| {
        let address = block.cast::<u8>().addr().get();
        heap.inspect(|heap| {
            heap.free_list()
                .regions()
                .position(|region| (region.start..region.start + region.len).contains(&address))
        })
        .unwrap()
    };
    let blocks: Vec<_> = (0..64).map(|_| heap.allocate(class).unwrap()).collect();
    let (first, last) = (region_of(blocks[0]), region_of(blocks[63]));
    assert_ne!(first, last, "blocks in two regions at least");
    let in_region = |region| -> Vec<_> {
        let mut found = blocks.clone();
        found.retain(|&block| region_of(block) == region);
        found
    };
    let (mut ours, mut theirs) = (in_region(first), in_region(last));
    assert!(ours.len() >= 2 && theirs.len() >= 2, "{ours:?} {theirs:?}");
    // One free from each region teaches the cache both spans.
    for block in [ours.pop().unwrap(), theirs.pop().unwrap()] {
        // SAFETY: a live block of the heap with its layout, freed once.
        unsafe { heap.deallocate_trusted(block.cast(), class) };
    }
    let before = locks(&heap);
    let stats_before = heap.stats(0);
    let turns = ours.len().min(theirs.len());
    for (mine, other) in ours.drain(..turns).zip(theirs.drain(..turns)) {
        // SAFETY: live blocks of the heap with their layout, each freed once.
        unsafe {
            heap.deallocate_trusted(mine.cast(), class);
            heap.deallocate_trusted(other.cast(), class);
        }
    }
    let stats = heap.stats(0);
    let drains = usize::try_from(stats.drains - stats_before.drains).unwrap();
    assert!(
        drains >= 1,
        "the magazine of 2 KiB blocks filled: {stats:?}"
    );
    assert_eq!(
        locks(&heap),
        before + drains,
        "a lock for each drain, none else"
    );
    assert_eq!(stats.frees - stats_before.frees, 2 * turns as u64);
    assert_balanced(stats);
    let freed: Vec<_> = [first, last].into_iter().flat_map(in_region).collect();
    for block in blocks {
        if !freed.contains(&block) || ours.contains(&block) || theirs.contains(&block) {
            // SAFETY: a live block (in neither region, or not freed in turns), freed once.
            unsafe { heap.deallocate_trusted(block.cast(), class) };
        }
    }
    heap.release_all();
    assert_eq!(heap.stats(0).cached_blocks, 0);
}

/// One step of [`the_layer_sees_every_region_the_heap_gives_back`].
#[derive(Debug, Clone)]
enum Step {
    /// Allocate this many bytes (small or large).
    Allocate(usize),
    /// Free the live block at this index (modulo their number).
    Free(usize),
    /// Resize the live block at this index to this many bytes.
    Resize(usize, usize),
    /// Give every cache's blocks back to the shared heap.
    ReleaseAll,
    /// Allocate this many bytes while the running thread's cache is busy (as from a signal
    /// handler that interrupted a call): the request bypasses the cache.
    AllocateBypassing(usize),
    /// Switch the running thread to the other cache.
    Switch,
    /// Take every block of 64, 8 and 1 KiB the shared heap has left, around the caches (as
    /// another user of the heap would): the calls after it meet exhaustion.
    Exhaust,
}

fn step() -> impl proptest::strategy::Strategy<Value = Step> {
    use proptest::prelude::*;
    let size = || prop_oneof![3 => 1..600usize, 1 => 2048..200_000usize];
    prop_oneof![
        4 => size().prop_map(Step::Allocate),
        3 => any::<usize>().prop_map(Step::Free),
        1 => (any::<usize>(), size()).prop_map(|(at, size)| Step::Resize(at, size)),
        1 => Just(Step::ReleaseAll),
        1 => size().prop_map(Step::AllocateBypassing),
        1 => Just(Step::Switch),
        1 => Just(Step::Exhaust),
    ]
}

/// Issue-review finding on the pools' magazines: an allocation can give memory back (the pools
/// trim before they report exhaustion, and the free list gives the emptied region back), and a
/// cache's root for that region must then be distrusted. Over random calls on a heap whose
/// regions go back at once, the layer's count of memory given back always equals the heap's
/// after a call, so no root outlives its region; and every live block keeps its bytes. Also:
/// an allocation fails only after every cache no thread is in gave its blocks back, whichever
/// path it took (through its cache, or around a busy one).
fn layer_sees_every_region_given_back(steps: &[Step]) {
    let policy = crate::free_list::Policy {
        retained_bytes: 0,
        ..crate::free_list::Policy::DEFAULT
    };
    let grower = FreshRegions { left: 3 };
    let heap: Cached<Heap<FreshRegions>, Pick, CountingLock, 2> = Cached::new(
        Heap::with_policies(grower, policy, crate::pools::Policy::DEFAULT),
        Pick(AtomicUsize::new(0)),
    );
    let mut live: Vec<(NonNull<u8>, Layout, u8)> = Vec::new();
    for (n, step) in steps.iter().enumerate() {
        let fill = n as u8;
        match *step {
            Step::Allocate(size) | Step::AllocateBypassing(size) => {
                let layout = layout(size, 8);
                let running = heap.index.0.load(Ordering::Relaxed);
                let busy_during = matches!(step, Step::AllocateBypassing(_));
                let busy =
                    busy_during.then(|| heap.slots[running].enter().expect("no call is inside"));
                let allocated = heap.allocate(layout);
                drop(busy);
                match allocated {
                    Ok(block) => {
                        // SAFETY: a fresh block of at least `size` bytes.
                        unsafe { block.cast::<u8>().as_ptr().write_bytes(fill, size) };
                        live.push((block.cast(), layout, fill));
                    }
                    Err(OutOfMemory) => {
                        // The busy cache (of a bypassing call) was not the layer's to empty.
                        let held: usize = (0..2)
                            .filter(|&index| !(busy_during && index == running))
                            .map(|index| heap.stats(index).cached_blocks)
                            .sum();
                        assert_eq!(held, 0, "a failed allocation left {held} blocks in caches");
                    }
                }
            }
            Step::Free(at) if !live.is_empty() => {
                let (ptr, layout, fill) = live.swap_remove(at % live.len());
                // SAFETY: a live block, `layout.size()` bytes written with `fill`.
                let bytes = unsafe { core::slice::from_raw_parts(ptr.as_ptr(), layout.size()) };
                assert!(
                    bytes.iter().all(|&byte| byte == fill),
                    "a block lost its bytes"
                );
                // SAFETY: a live block of `heap` with its layout, freed once.
                unsafe { heap.deallocate_trusted(ptr, layout) };
            }
            Step::Resize(at, size) if !live.is_empty() => {
                let at = at % live.len();
                let (ptr, old, _) = live[at];
                let new = layout(size, 8);
                // SAFETY: a live block of `heap` with its layout.
                if let Ok(block) = unsafe { heap.resize_trusted(ptr, old, new) } {
                    // SAFETY: the resized block holds at least `size` bytes.
                    unsafe { block.cast::<u8>().as_ptr().write_bytes(fill, size) };
                    live[at] = (block.cast(), new, fill);
                }
            }
            Step::Free(_) | Step::Resize(..) => {}
            Step::ReleaseAll => heap.release_all(),
            Step::Exhaust => {
                for size in [64 * 1024, 8 * 1024, 1024] {
                    let layout = layout(size, 8);
                    while let Ok(block) = heap.shared.lock().allocate(layout) {
                        // SAFETY: a fresh block of at least `size` bytes.
                        unsafe { block.cast::<u8>().as_ptr().write_bytes(fill, size) };
                        // The layer frees them as its own (a small one with its class's
                        // layout, which serves this one too).
                        live.push((block.cast(), layout, fill));
                    }
                }
                // Calls around the layer: it records the heap's count as after its own.
                heap.note_given_back(&*heap.shared.lock());
            }
            Step::Switch => {
                let running = heap.index.0.load(Ordering::Relaxed);
                heap.index.0.store(1 - running, Ordering::Relaxed);
            }
        }
        let heap_count = heap.inspect(RawAllocator::memory_given_back);
        assert_eq!(
            heap.given_back.load(Ordering::Relaxed),
            heap_count,
            "the layer missed memory the heap gave back"
        );
    }
    for (ptr, layout, _) in live {
        // SAFETY: live blocks of `heap` with their layouts, freed once.
        unsafe { heap.deallocate_trusted(ptr, layout) };
    }
    heap.release_all();
}

proptest::proptest! {
    #![proptest_config(crate::test_proptest::config(2, 128))]

    #[test]
    fn the_layer_sees_every_region_the_heap_gives_back(
        steps in proptest::collection::vec(step(), 1..if cfg!(miri) { 30 } else { 200 })
    ) {
        layer_sees_every_region_given_back(&steps);
    }
}
