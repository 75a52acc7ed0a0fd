//! Memory given back: a std program allocates 100,000 blocks of 2,000 bytes through its
//! `#[global_allocator]`, frees them all, and reports its resident set before and after the
//! free. `make bench` runs it once per allocator (the first argument: `system`, `pools`,
//! `free-list` or `heap`, the last three over `MmapGrower`) and prints the figures in
//! BENCHMARKS.md.
//!
//! ```text
//!   Router (#[global_allocator])
//!     alloc ──► the allocator chosen on the command line (the system's until then)
//!     free  ──► whichever allocator holds the pointer (`contains`), else the system's
//! ```
//!
//! Output: `ok <peak MiB> <after MiB>` on stdout; usage and exit 2 on a bad command line.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering};

use bareheap::{
    FreeListAllocator, Heap, LockedFreeListAllocator, LockedHeap, LockedSizeClassPools, MmapGrower,
    SizeClassPools,
};

const BLOCKS: usize = 100_000;
const BLOCK_BYTES: usize = 2_000;

static POOLS: LockedSizeClassPools<FreeListAllocator<MmapGrower>> = LockedSizeClassPools::new(
    SizeClassPools::new(FreeListAllocator::new(MmapGrower::new())),
);
static FREE_LIST: LockedFreeListAllocator<MmapGrower> =
    LockedFreeListAllocator::new(FreeListAllocator::new(MmapGrower::new()));
static HEAP: LockedHeap<MmapGrower> = LockedHeap::new(Heap::new(MmapGrower::new()));

/// Which allocator serves new allocations: one of the constants below.
static CHOSEN: AtomicU8 = AtomicU8::new(SYSTEM);
const SYSTEM: u8 = 0;
const POOLS_OVER_FREE_LIST: u8 = 1;
const FREE_LIST_ALONE: u8 = 2;
const DEFAULT_HEAP: u8 = 3;

/// Sends each call to the chosen allocator, and each free to the allocator holding the block.
struct Router;

impl Router {
    /// The bareheap allocator that holds `ptr`, if any.
    fn owner(ptr: *const u8) -> Option<&'static dyn GlobalAlloc> {
        if POOLS.contains(ptr) {
            Some(&POOLS)
        } else if FREE_LIST.contains(ptr) {
            Some(&FREE_LIST)
        } else if HEAP.contains(ptr) {
            Some(&HEAP)
        } else {
            None
        }
    }
}

// SAFETY: every call goes to one allocator that implements `GlobalAlloc`, and a block always
// goes back to the allocator that handed it out (`owner` finds it by address; the system's
// blocks lie outside every bareheap region).
unsafe impl GlobalAlloc for Router {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe {
            match CHOSEN.load(Ordering::Relaxed) {
                POOLS_OVER_FREE_LIST => POOLS.alloc(layout),
                FREE_LIST_ALONE => FREE_LIST.alloc(layout),
                DEFAULT_HEAP => HEAP.alloc(layout),
                _ => System.alloc(layout),
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller, to the block's own allocator.
        unsafe {
            match Self::owner(ptr) {
                Some(owner) => owner.dealloc(ptr, layout),
                None => System.dealloc(ptr, layout),
            }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller, to the block's own allocator.
        unsafe {
            match Self::owner(ptr) {
                Some(owner) => owner.realloc(ptr, layout, new_size),
                None => System.realloc(ptr, layout, new_size),
            }
        }
    }
}

#[global_allocator]
static ROUTER: Router = Router;

/// The resident set in MiB, from /proc/self/statm (its second field, in pages).
fn resident_mib() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(f64::NAN);
    // Linux's base page on x86_64.
    pages * 4096.0 / f64::from(1 << 20)
}

fn main() {
    let chosen = match std::env::args().nth(1).as_deref() {
        Some("system") => SYSTEM,
        Some("pools") => POOLS_OVER_FREE_LIST,
        Some("free-list") => FREE_LIST_ALONE,
        Some("heap") => DEFAULT_HEAP,
        _ => {
            eprintln!("usage: rss-after-free system|pools|free-list|heap");
            std::process::exit(2);
        }
    };
    CHOSEN.store(chosen, Ordering::Relaxed);
    let mut blocks: Vec<Box<[u8; BLOCK_BYTES]>> = Vec::with_capacity(BLOCKS);
    for i in 0..BLOCKS {
        // Every page written, so that it is resident.
        blocks.push(Box::new([i as u8; BLOCK_BYTES]));
    }
    let sum: usize = blocks.iter().map(|b| usize::from(b[BLOCK_BYTES - 1])).sum();
    let peak = resident_mib();
    drop(blocks);
    let after = resident_mib();
    assert!(sum > 0, "the blocks held their bytes");
    println!("ok {peak:.1} {after:.1}");
}
