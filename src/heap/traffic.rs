//! What the router sent each allocator: calls, and the bytes the program asked for.
//!
//! Each allocator keeps statistics of its own, but each counts differently (chunks, size
//! classes, blocks with tags). To compare allocators in one table, the router counts the same
//! things for all of them, from the layouts the program passes: calls of each kind, bytes live
//! now, and the peak of live bytes. Relaxed atomics suffice: each counter is exact on its own,
//! and the report reads them only between workloads, when no other thread allocates.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::AllocatorChoice;
use crate::selection::Named;

/// A snapshot of one allocator's traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Traffic {
    /// Successful allocations.
    pub allocations: usize,
    /// Frees.
    pub frees: usize,
    /// Successful reallocations.
    pub reallocations: usize,
    /// Requests that got null.
    pub failures: usize,
    /// Bytes of live blocks, as requested.
    pub live_bytes: usize,
    /// The highest `live_bytes` since the last [`reset_peak`].
    pub peak_bytes: usize,
}

impl Traffic {
    /// Calls of every kind.
    pub fn operations(&self) -> usize {
        self.allocations + self.frees + self.reallocations + self.failures
    }
}

/// The live counters of one allocator.
struct Counters {
    allocations: AtomicUsize,
    frees: AtomicUsize,
    reallocations: AtomicUsize,
    failures: AtomicUsize,
    live_bytes: AtomicUsize,
    peak_bytes: AtomicUsize,
}

impl Counters {
    const fn new() -> Self {
        Self {
            allocations: AtomicUsize::new(0),
            frees: AtomicUsize::new(0),
            reallocations: AtomicUsize::new(0),
            failures: AtomicUsize::new(0),
            live_bytes: AtomicUsize::new(0),
            peak_bytes: AtomicUsize::new(0),
        }
    }

    fn grow_live(&self, bytes: usize) {
        let live = self.live_bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        self.peak_bytes.fetch_max(live, Ordering::Relaxed);
    }
}

static COUNTERS: [Counters; AllocatorChoice::ALL.len()] =
    [const { Counters::new() }; AllocatorChoice::ALL.len()];

fn counters(choice: AllocatorChoice) -> &'static Counters {
    &COUNTERS[choice as usize]
}

/// Counts an allocation of `size` bytes that returned `ptr` (null on failure).
pub fn allocated(choice: AllocatorChoice, ptr: *mut u8, size: usize) {
    let counters = counters(choice);
    if ptr.is_null() {
        counters.failures.fetch_add(1, Ordering::Relaxed);
    } else {
        counters.allocations.fetch_add(1, Ordering::Relaxed);
        counters.grow_live(size);
    }
}

/// Counts a free of `size` bytes.
pub fn freed(choice: AllocatorChoice, size: usize) {
    let counters = counters(choice);
    counters.frees.fetch_add(1, Ordering::Relaxed);
    counters.live_bytes.fetch_sub(size, Ordering::Relaxed);
}

/// Counts a resize from `old_size` to `new_size` that returned `ptr` (null: the block is
/// unchanged).
pub fn reallocated(choice: AllocatorChoice, ptr: *mut u8, old_size: usize, new_size: usize) {
    let counters = counters(choice);
    if ptr.is_null() {
        counters.failures.fetch_add(1, Ordering::Relaxed);
        return;
    }
    counters.reallocations.fetch_add(1, Ordering::Relaxed);
    if new_size >= old_size {
        counters.grow_live(new_size - old_size);
    } else {
        counters
            .live_bytes
            .fetch_sub(old_size - new_size, Ordering::Relaxed);
    }
}

/// A snapshot of `choice`'s counters.
pub fn of(choice: AllocatorChoice) -> Traffic {
    let counters = counters(choice);
    Traffic {
        allocations: counters.allocations.load(Ordering::Relaxed),
        frees: counters.frees.load(Ordering::Relaxed),
        reallocations: counters.reallocations.load(Ordering::Relaxed),
        failures: counters.failures.load(Ordering::Relaxed),
        live_bytes: counters.live_bytes.load(Ordering::Relaxed),
        peak_bytes: counters.peak_bytes.load(Ordering::Relaxed),
    }
}

/// Restarts `choice`'s peak from its live bytes now.
pub fn reset_peak(choice: AllocatorChoice) {
    let counters = counters(choice);
    let live = counters.live_bytes.load(Ordering::Relaxed);
    counters.peak_bytes.store(live, Ordering::Relaxed);
}
