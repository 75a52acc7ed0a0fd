//! Seed 001's benchmark, replayed: the workload `simple-chunk-allocator` published figures for.
//!
//! ```text
//!   repeat: size rand(64 .. 16384), alignment 2^rand(0 ..= 7)
//!           t0 = rdtscp; alloc; t1 = rdtscp           ──► one sample (cycles)
//!           more than 10 live and 1 in 10 ──► free the 7 oldest
//!   until ALLOCS allocations or the first failure (the heap is full)
//! ```
//!
//! Single calls are timed, as the seed did, so a sample includes one `rdtscp` pair; the table
//! reports it both raw (comparable to the seed's 592 cycles) and with the measured cost of an
//! empty measurement subtracted. Samples taken while at least 90 % of the arena was
//! requested form the "nearly full" row.

use std::collections::VecDeque;

use super::random_actions::build;
use super::{Outcome, checked_free, layout};
use crate::arena::Arena;
use crate::check::{Block, Fill, mark, placed};
use crate::kinds::{Kind, Visit};
use crate::rng::Rng;
use crate::subjects::Subject;
use crate::timer::{cycles, percentile};

/// Summary of a set of single-call samples, in cycles.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    /// How many samples.
    pub count: usize,
    /// Median.
    pub median: u64,
    /// Mean.
    pub mean: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Maximum.
    pub max: u64,
}

impl Summary {
    /// The summary of `samples` (which it sorts).
    fn of(samples: &mut [u64]) -> Self {
        let total: u64 = samples.iter().sum();
        Self {
            count: samples.len(),
            median: percentile(samples, 50.0),
            mean: total.checked_div(samples.len() as u64).unwrap_or(0),
            p999: percentile(samples, 99.9),
            max: percentile(samples, 100.0),
        }
    }
}

impl SeedResult {
    /// The figures in table order: count, median, mean, p99.9, max of the whole run, then
    /// count, median, p99.9, max of the nearly-full part.
    pub fn figures(&self) -> [f64; 9] {
        let (a, f) = (self.all, self.nearly_full);
        [
            a.count as u64,
            a.median,
            a.mean,
            a.p999,
            a.max,
            f.count as u64,
            f.median,
            f.p999,
            f.max,
        ]
        .map(|v| v as f64)
    }
}

/// What one subject measured.
#[derive(Clone, Copy, Debug)]
pub struct SeedResult {
    /// Every allocation, raw `rdtscp` differences.
    pub all: Summary,
    /// Allocations made with at least 90 % of the arena requested, raw.
    pub nearly_full: Summary,
}

/// Runs the workload once; `allocs` allocations at most.
pub fn run<S: Subject>(
    subject: &mut S,
    arena: Option<&Arena>,
    capacity: usize,
    allocs: usize,
) -> Outcome<SeedResult> {
    let mut rng = Rng::new(0x001);
    let mut live = VecDeque::new();
    let (mut all, mut full) = (Vec::with_capacity(allocs), Vec::new());
    let mut in_use = 0usize;
    for id in 0..allocs as u64 {
        let layout = layout(rng.range(64, 16384), 1 << rng.range(0, 8));
        let start = cycles();
        let ptr = subject.alloc(layout);
        let spent = cycles() - start;
        let Some(ptr) = ptr else { break };
        all.push(spent);
        if in_use * 10 >= capacity * 9 {
            full.push(spent);
        }
        placed(ptr, layout, arena)?;
        let block = Block { ptr, layout, id };
        mark(&block, layout.size(), Fill::Ends);
        in_use += layout.size();
        live.push_back(block);
        if live.len() > 10 && rng.one_in(10) {
            for block in live.drain(..7) {
                in_use -= block.layout.size();
                checked_free(subject, block, Fill::Ends)?;
            }
        }
    }
    live.drain(..)
        .try_for_each(|b| checked_free(subject, b, Fill::Ends))?;
    Ok(SeedResult {
        all: Summary::of(&mut all),
        nearly_full: Summary::of(&mut full),
    })
}

/// Runs the workload for one subject.
pub struct Visitor<'a> {
    /// The shared arena.
    pub arena: &'a Arena,
    /// Allocations at most.
    pub allocs: usize,
}

impl Visit for Visitor<'_> {
    type Out = Outcome<SeedResult>;

    fn visit<S: Subject>(&mut self, kind: Kind) -> Outcome<SeedResult> {
        let bounds = kind.uses_arena().then_some(self.arena);
        let mut subject: S = build(self.arena)?;
        run(&mut subject, bounds, self.arena.len(), self.allocs)
    }
}
