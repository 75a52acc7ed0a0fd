//! `bareheap-demo bench`: seed 001's allocation benchmark, inside the freestanding binary.
//!
//! The workload is the one `simple-chunk-allocator` published figures for, with a fixed seed
//! and a fixed number of allocations (not a fixed time), so runs can be compared:
//!
//! ```text
//!   repeat ATTEMPTS times:
//!       size  = random 64 ..= 16384 bytes, align = random power of two 1 ..= 128
//!       t0 = rdtsc; ptr = alloc(size, align); t1 = rdtscp     ◄── one sample: t1 - t0
//!       if more than 10 blocks are live, with probability 1/10: free the 7 oldest
//! ```
//!
//! Each allocator runs it twice: on its heap as it is (**roomy**), and on a heap first filled
//! until an allocation fails and then thinned by freeing every tenth block (**nearly full**),
//! where a search that walks the heap would show in the tail. The free list grows through
//! `mmap` and is never full, so it runs only the first. Calls go straight to the allocator's
//! `GlobalAlloc` (lock included, router not), and every block is freed before the next run.
//!
//! Bookkeeping lives outside the heap it measures — the live blocks in a `static` ring
//! (32,768 slots, 768 KiB: too large for the stack of a program run under a 1 MiB stack
//! limit), the samples in an array on the stack — so the benchmark allocates nothing itself.

use core::alloc::{GlobalAlloc, Layout};
use core::fmt;

use spin::Mutex;

use crate::clock;
use crate::heap::AllocatorChoice;
use crate::rng::Rng;
use crate::run::Machine;
use crate::selection::{Named, Selection};
use crate::{ExitCode, println};

/// Allocation attempts per run.
const ATTEMPTS: usize = 2_000;
/// The most blocks alive at once (a fill of an 8 MiB heap with blocks of 64 bytes or more
/// stays below).
const MAX_LIVE: usize = 1 << 15;
/// The workload's seed.
const SEED: u64 = 0x0001_5EED;

/// The live blocks of the benchmark: a `static`, so that the ring is not on the stack.
static LIVE: Mutex<LiveBlocks> = Mutex::new(LiveBlocks::new());

/// Runs the benchmark on each allocator and prints one table.
pub fn run(allocators: Selection<AllocatorChoice>) -> ExitCode {
    println!("simple-chunk-allocator's published benchmark: {ATTEMPTS} allocations of");
    println!("64..16384 bytes, align 1..128, the 7 oldest freed with probability 1/10 once");
    println!("more than 10 are live; rdtsc/rdtscp cycles per allocation, lock included");
    println!();
    println!("{}", Header);
    let mut live = LIVE.lock();
    for allocator in allocators.iter() {
        let heap = allocator.global_alloc();
        live.restart();
        println!("{}", Run::measure(allocator, "roomy", heap, &mut live));
        live.free_all(heap);
        if allocator == AllocatorChoice::FreeList {
            println!(
                "{:<10}{:<11} (grows through mmap: never full)",
                allocator.name(),
                "nearly full"
            );
            continue;
        }
        live.fill(heap);
        println!(
            "{}",
            Run::measure(allocator, "nearly full", heap, &mut live)
        );
        live.free_all(heap);
    }
    println!("{}", Machine);
    ExitCode::Success
}

/// One block the benchmark holds.
#[derive(Clone, Copy)]
struct Block {
    ptr: *mut u8,
    layout: Layout,
}

// SAFETY: a block is plain memory owned by the benchmark, which frees it on whatever thread
// runs it; the pointer is never shared.
unsafe impl Send for Block {}

/// The live blocks, oldest first, in a ring.
struct LiveBlocks {
    ring: [Option<Block>; MAX_LIVE],
    oldest: usize,
    len: usize,
    rng: Rng,
}

impl LiveBlocks {
    const fn new() -> Self {
        Self {
            ring: [None; MAX_LIVE],
            oldest: 0,
            len: 0,
            rng: Rng::new(SEED),
        }
    }

    /// Starts the workload over: the same requests again, for the next allocator. The ring
    /// must be empty.
    fn restart(&mut self) {
        debug_assert_eq!(self.len, 0);
        self.oldest = 0;
        self.rng = Rng::new(SEED);
    }

    /// The next request of the workload.
    fn next_layout(&mut self) -> Layout {
        let size = self.rng.below(64..16_385);
        let align = 1 << self.rng.below(0..8);
        Layout::from_size_align(size, align).unwrap_or(Layout::new::<u8>())
    }

    fn push(&mut self, block: Block) -> bool {
        if self.len == MAX_LIVE {
            return false;
        }
        self.ring[(self.oldest + self.len) % MAX_LIVE] = Some(block);
        self.len += 1;
        true
    }

    fn pop_oldest(&mut self) -> Option<Block> {
        let block = self.ring[self.oldest].take()?;
        self.oldest = (self.oldest + 1) % MAX_LIVE;
        self.len -= 1;
        Some(block)
    }

    /// Allocates until the heap refuses (or the ring is full), then frees every tenth block.
    fn fill(&mut self, heap: &dyn GlobalAlloc) {
        loop {
            let layout = self.next_layout();
            // SAFETY: the layout has a non-zero size (at least 64 bytes).
            let ptr = unsafe { heap.alloc(layout) };
            if ptr.is_null() || !self.push(Block { ptr, layout }) {
                if !ptr.is_null() {
                    // SAFETY: just allocated from `heap` with `layout`, never used.
                    unsafe { heap.dealloc(ptr, layout) };
                }
                break;
            }
        }
        for _ in 0..self.len {
            let block = self.pop_oldest().expect("len counts the ring's blocks");
            if self.rng.below(0..10) == 0 {
                // SAFETY: the block came from `heap` with this layout and is freed once.
                unsafe { heap.dealloc(block.ptr, block.layout) };
            } else {
                self.push(block);
            }
        }
    }

    fn free_all(&mut self, heap: &dyn GlobalAlloc) {
        while let Some(block) = self.pop_oldest() {
            // SAFETY: the block came from `heap` with this layout and is freed once.
            unsafe { heap.dealloc(block.ptr, block.layout) };
        }
    }
}

/// The figures of one run.
struct Run {
    allocator: AllocatorChoice,
    phase: &'static str,
    failures: usize,
    cycles: Percentiles,
}

impl Run {
    fn measure(
        allocator: AllocatorChoice,
        phase: &'static str,
        heap: &dyn GlobalAlloc,
        live: &mut LiveBlocks,
    ) -> Self {
        let mut samples = [0u64; ATTEMPTS];
        let mut failures = 0;
        for sample in &mut samples {
            let layout = live.next_layout();
            let start = clock::cycles();
            // SAFETY: the layout has a non-zero size (at least 64 bytes).
            let ptr = unsafe { heap.alloc(layout) };
            *sample = clock::cycles_after().wrapping_sub(start);
            if ptr.is_null() || !live.push(Block { ptr, layout }) {
                failures += usize::from(ptr.is_null());
                continue;
            }
            if live.len > 10 && live.rng.below(0..10) == 0 {
                for block in (0..7).filter_map(|_| live.pop_oldest()) {
                    // SAFETY: the block came from `heap` with this layout and is freed once.
                    unsafe { heap.dealloc(block.ptr, block.layout) };
                }
            }
        }
        samples.sort_unstable();
        Self {
            allocator,
            phase,
            failures,
            cycles: Percentiles::of_sorted(&samples),
        }
    }
}

/// Summary figures of sorted samples.
struct Percentiles {
    median: u64,
    average: u64,
    min: u64,
    p99: u64,
    p999: u64,
    max: u64,
}

impl Percentiles {
    fn of_sorted(samples: &[u64]) -> Self {
        let at =
            |fraction_per_mille: usize| samples[(samples.len() - 1) * fraction_per_mille / 1000];
        Self {
            median: at(500),
            average: samples.iter().sum::<u64>() / samples.len() as u64,
            min: samples[0],
            p99: at(990),
            p999: at(999),
            max: samples[samples.len() - 1],
        }
    }
}

/// The table's column titles.
struct Header;

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<10}{:<11}{:>6} {:>6} {:>6} {:>7} {:>4} {:>6} {:>7} {:>8}",
            "allocator",
            "heap",
            "count",
            "failed",
            "median",
            "average",
            "min",
            "p99",
            "p99.9",
            "max"
        )
    }
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cycles = &self.cycles;
        write!(
            f,
            "{:<10}{:<11}{:>6} {:>6} {:>6} {:>7} {:>4} {:>6} {:>7} {:>8}",
            self.allocator.name(),
            self.phase,
            ATTEMPTS,
            self.failures,
            cycles.median,
            cycles.average,
            cycles.min,
            cycles.p99,
            cycles.p999,
            cycles.max,
        )
    }
}
