//! Latency: cycles per allocation and per free on a half-full heap, as percentiles.
//!
//! ```text
//!   fill with random-actions blocks (M = 3000) until half the arena is requested
//!   repeat:  time BATCH allocations together   ──► one sample: cycles / BATCH
//!            time BATCH frees of random live blocks together ──► one sample
//! ```
//!
//! One `rdtscp` pair costs more than a fast allocation, so operations are timed in batches of
//! [`BATCH`] and the cost of an empty measurement is subtracted; a sample is a batch's mean, so
//! the max is the slowest batch (an outlier call is diluted by at most `BATCH`). Sizes and
//! victims are chosen before the clock starts; patterns are written and checked after it
//! stops. Every sample of the run counts (no repetitions), so the tails are real tails.

use super::random_actions::{AlignMix, build, request_size};
use std::alloc::Layout;
use std::ptr::NonNull;

use super::{Outcome, free_all, layout};
use crate::arena::Arena;
use crate::check::{Block, Fill, intact, mark, placed};
use crate::kinds::{Kind, Visit};
use crate::rng::Rng;
use crate::subjects::Subject;
use crate::timer::{cycles, percentile};

/// Operations per timed batch.
pub const BATCH: usize = 8;

/// The `M` of the size distribution.
const MAX_SIZE: usize = 3000;

/// p50, p99, p99.9 and max, in cycles per operation.
pub type Percentiles = [u64; 4];

/// Alloc and free percentiles of one subject.
#[derive(Clone, Copy, Debug)]
pub struct Latencies {
    /// Cycles per allocation.
    pub alloc: Percentiles,
    /// Cycles per free.
    pub free: Percentiles,
}

impl Latencies {
    /// The figures in table order: the alloc percentiles, then the free percentiles.
    pub fn figures(&self) -> [f64; 8] {
        let mut out = [0.0; 8];
        for (slot, v) in out.iter_mut().zip(self.alloc.iter().chain(&self.free)) {
            *slot = *v as f64;
        }
        out
    }
}

/// The four reported percentiles of `samples`.
fn summarize(samples: &mut [u64]) -> Percentiles {
    [50.0, 99.0, 99.9, 100.0].map(|p| percentile(samples, p))
}

/// One timed batch of allocations; the blocks and the per-operation cycles.
fn alloc_batch<S: Subject>(
    subject: &mut S,
    layouts: &[Layout; BATCH],
    overhead: u64,
) -> ([Option<NonNull<u8>>; BATCH], u64) {
    let mut ptrs = [None; BATCH];
    let start = cycles();
    for (slot, &layout) in ptrs.iter_mut().zip(layouts) {
        *slot = subject.alloc(layout);
    }
    let spent = (cycles() - start).saturating_sub(overhead);
    (ptrs, spent / BATCH as u64)
}

/// One timed batch of frees; the per-operation cycles.
fn free_batch<S: Subject>(subject: &mut S, victims: &[Block], overhead: u64) -> Outcome<u64> {
    for block in victims {
        if !intact(block, block.layout.size(), Fill::Ends) {
            return Err(format!("contents of block {} damaged", block.id));
        }
    }
    let mut refused = false;
    let start = cycles();
    for block in victims {
        // SAFETY: each victim is live in `subject` and was removed from the live set.
        refused |= !unsafe { subject.dealloc(block.ptr, block.layout) };
    }
    let spent = (cycles() - start).saturating_sub(overhead);
    if refused {
        return Err("a free was refused".to_owned());
    }
    Ok(spent / BATCH as u64)
}

/// Runs the workload once.
pub fn run<S: Subject>(
    subject: &mut S,
    arena: Option<&Arena>,
    capacity: usize,
    rounds: usize,
    overhead: u64,
) -> Outcome<Latencies> {
    let mut rng = Rng::new(0x1a7e);
    let mut live = Vec::new();
    let (mut in_use, mut next_id) = (0, 0u64);
    let new_layout = |rng: &mut Rng| layout(request_size(rng, MAX_SIZE), AlignMix::Rare.align(rng));
    while in_use < capacity / 2 {
        let layout = new_layout(&mut rng);
        let ptr = subject.alloc(layout).ok_or("out of memory while filling")?;
        placed(ptr, layout, arena)?;
        let block = Block {
            ptr,
            layout,
            id: next_id,
        };
        next_id += 1;
        mark(&block, layout.size(), Fill::Ends);
        in_use += layout.size();
        live.push(block);
    }
    let (mut allocs, mut frees) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let layouts = [(); BATCH].map(|()| new_layout(&mut rng));
        let (ptrs, spent) = alloc_batch(subject, &layouts, overhead);
        allocs.push(spent);
        for (ptr, layout) in ptrs.into_iter().zip(layouts) {
            let ptr = ptr.ok_or("out of memory")?;
            placed(ptr, layout, arena)?;
            let block = Block {
                ptr,
                layout,
                id: next_id,
            };
            next_id += 1;
            mark(&block, layout.size(), Fill::Ends);
            live.push(block);
        }
        let victims: Vec<Block> = (0..BATCH)
            .map(|_| live.swap_remove(rng.range(0, live.len())))
            .collect();
        frees.push(free_batch(subject, &victims, overhead)?);
    }
    free_all(subject, &mut live, Fill::Ends)?;
    Ok(Latencies {
        alloc: summarize(&mut allocs),
        free: summarize(&mut frees),
    })
}

/// Runs the workload for one subject.
pub struct Visitor<'a> {
    /// The shared arena.
    pub arena: &'a Arena,
    /// Timed batches of each kind.
    pub rounds: usize,
    /// The cost of an empty measurement, in cycles.
    pub overhead: u64,
}

impl Visit for Visitor<'_> {
    type Out = Outcome<Latencies>;

    fn visit<S: Subject>(&mut self, kind: Kind) -> Outcome<Latencies> {
        let bounds = kind.uses_arena().then_some(self.arena);
        let mut subject: S = build(self.arena)?;
        run(
            &mut subject,
            bounds,
            self.arena.len(),
            self.rounds,
            self.overhead,
        )
    }
}
