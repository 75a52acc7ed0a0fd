//! Several threads sharing one locked allocator through `GlobalAlloc`, each checking the
//! contents of its own blocks.
//!
//! Each thread runs its own random mix (a xorshift generator seeded by the thread index) of
//! allocations, frees and reallocations, keeping up to 32 blocks, each filled with a pattern
//! derived from a per-thread id. Two threads handed overlapping memory would overwrite each
//! other's patterns, which the next check of either block catches. Under Miri only the first
//! and last 64 bytes of a block carry the pattern (see [`patterned_offsets`]), so there an
//! overlap shows only where it reaches one of those.
//!
//! ```text
//!   thread 0 ─┐
//!   thread 1 ─┼─► &A: GlobalAlloc + Sync (one lock) ─► blocks, checked before free / move
//!   thread 2 ─┤
//!   thread 3 ─┘
//! ```

use std::alloc::{GlobalAlloc, Layout};
use std::ptr::NonNull;

use crate::model::patterned_offsets;
use crate::pattern_byte;

/// Blocks kept alive per thread at most.
const LIVE_PER_THREAD: usize = 32;

/// What the threads did, summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StressReport {
    /// Operations run (allocations, frees, reallocations, failed ones included).
    pub operations: usize,
    /// Allocations and reallocations that returned memory.
    pub successes: usize,
    /// Allocations and reallocations that returned null.
    pub failures: usize,
}

/// Runs `threads` threads, each doing `operations_per_thread` operations on `allocator`
/// with sizes from 1 to `max_size` and alignments from 1 to 64; every block is freed at the
/// end. Panics (in the calling thread) if any contents check fails.
pub fn hammer<A: GlobalAlloc + Sync>(
    allocator: &A,
    threads: usize,
    operations_per_thread: usize,
    max_size: usize,
) -> StressReport {
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|index| {
                scope.spawn(move || {
                    Worker::new(allocator, index as u64, max_size).run(operations_per_thread)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a worker failed"))
            .fold(StressReport::default(), |sum, report| StressReport {
                operations: sum.operations + report.operations,
                successes: sum.successes + report.successes,
                failures: sum.failures + report.failures,
            })
    })
}

/// A block a worker holds.
#[derive(Clone, Copy)]
struct Held {
    ptr: NonNull<u8>,
    layout: Layout,
    id: u64,
}

impl Held {
    /// Writes the pattern (see [`patterned_offsets`] for which bytes carry it).
    fn fill(&self) {
        let base = self.ptr.as_ptr();
        for offset in patterned_offsets(self.layout.size()) {
            // SAFETY: a live block of `layout.size()` bytes that this worker owns, and
            // `offset < layout.size()`.
            unsafe { base.add(offset).write(pattern_byte(self.id, offset)) };
        }
    }

    /// Checks the patterned bytes among the first `len`, as `fill` wrote them for this
    /// block's layout.
    fn verify(&self, len: usize) {
        let base = self.ptr.as_ptr();
        // SAFETY: a live block of at least `len` bytes that this worker owns and filled (or
        // that the allocator copied from such a block), and `offset < len`.
        let damaged = patterned_offsets(self.layout.size())
            .take_while(|&offset| offset < len)
            .find(|&offset| unsafe { base.add(offset).read() } != pattern_byte(self.id, offset));
        assert_eq!(damaged, None, "block {} at {:p} damaged", self.id, self.ptr);
    }
}

/// One thread's state.
struct Worker<'a, A> {
    allocator: &'a A,
    held: Vec<Held>,
    state: u64,
    next_id: u64,
    max_size: usize,
    report: StressReport,
}

impl<'a, A: GlobalAlloc> Worker<'a, A> {
    fn new(allocator: &'a A, index: u64, max_size: usize) -> Self {
        Self {
            allocator,
            held: Vec::with_capacity(LIVE_PER_THREAD),
            state: 0x2545_F491_4F6C_DD1D ^ (index + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            next_id: index << 40,
            max_size,
            report: StressReport::default(),
        }
    }

    /// xorshift64.
    fn random(&mut self) -> u64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// A size from 1 to `max_size`, mostly small.
    fn size(&mut self) -> usize {
        let limit = if self.random().is_multiple_of(4) {
            self.max_size
        } else {
            64.min(self.max_size)
        };
        1 + (self.random() as usize) % limit
    }

    fn run(mut self, operations: usize) -> StressReport {
        for _ in 0..operations {
            let choice = self.random() % 10;
            if self.held.is_empty() || (choice < 4 && self.held.len() < LIVE_PER_THREAD) {
                self.allocate();
            } else if choice < 8 {
                let index = (self.random() as usize) % self.held.len();
                self.free(index);
            } else {
                let index = (self.random() as usize) % self.held.len();
                self.reallocate(index);
            }
            self.report.operations += 1;
        }
        while !self.held.is_empty() {
            self.free(self.held.len() - 1);
        }
        self.report
    }

    fn allocate(&mut self) {
        let align = 1 << (self.random() % 7);
        let layout = Layout::from_size_align(self.size(), align).expect("a valid layout");
        // SAFETY: the size is at least one.
        match NonNull::new(unsafe { self.allocator.alloc(layout) }) {
            Some(ptr) => {
                let held = Held {
                    ptr,
                    layout,
                    id: self.next_id,
                };
                self.next_id += 1;
                assert!(ptr.addr().get().is_multiple_of(align), "misaligned block");
                held.fill();
                self.held.push(held);
                self.report.successes += 1;
            }
            None => self.report.failures += 1,
        }
    }

    fn free(&mut self, index: usize) {
        let held = self.held.swap_remove(index);
        held.verify(held.layout.size());
        // SAFETY: a live block of this allocator with its layout, owned by this worker.
        unsafe { self.allocator.dealloc(held.ptr.as_ptr(), held.layout) };
    }

    fn reallocate(&mut self, index: usize) {
        let held = self.held[index];
        held.verify(held.layout.size());
        let new_size = self.size();
        // SAFETY: a live block with its layout; the new size is non-zero and small, so it
        // forms a valid layout with the old alignment.
        let moved = unsafe {
            self.allocator
                .realloc(held.ptr.as_ptr(), held.layout, new_size)
        };
        let Some(ptr) = NonNull::new(moved) else {
            held.verify(held.layout.size());
            self.report.failures += 1;
            return;
        };
        let layout = Layout::from_size_align(new_size, held.layout.align()).expect("valid");
        // The bytes moved are those filled for the old layout, now at the new address.
        Held { ptr, ..held }.verify(held.layout.size().min(new_size));
        let moved = Held {
            ptr,
            layout,
            id: held.id,
        };
        moved.fill();
        self.held[index] = moved;
        self.report.successes += 1;
    }
}
