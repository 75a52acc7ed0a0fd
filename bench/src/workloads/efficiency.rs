//! Heap efficiency: how much of the arena is in use when the first allocation fails.
//!
//! ```text
//!   repeat: 2/3 allocate rand(4 .. rand(16 .. 10000)) bytes | 1/3 free a random live block
//!   until an allocation fails  ──►  efficiency = live requested bytes / arena bytes
//! ```
//!
//! The frees make holes, so this measures fragmentation and per-block overhead together.
//! Median over several seeds.

use super::random_actions::{AlignMix, build, request_size};
use super::{Outcome, checked_free, free_all, layout};
use crate::arena::Arena;
use crate::check::{Block, Fill, mark, placed};
use crate::kinds::{Kind, Visit};
use crate::rng::Rng;
use crate::subjects::Subject;
use crate::timer::median;

/// The `M` of the size distribution.
const MAX_SIZE: usize = 10_000;

/// Fills `subject` until the first failed allocation; the share of `capacity` in use then.
pub fn run<S: Subject>(
    subject: &mut S,
    arena: Option<&Arena>,
    capacity: usize,
    seed: u64,
) -> Outcome<f64> {
    let mut rng = Rng::new(seed);
    let mut live = Vec::new();
    let mut in_use = 0usize;
    for id in 0.. {
        if !live.is_empty() && rng.one_in(3) {
            let block: Block = live.swap_remove(rng.range(0, live.len()));
            in_use -= block.layout.size();
            checked_free(subject, block, Fill::Ends)?;
            continue;
        }
        let layout = layout(
            request_size(&mut rng, MAX_SIZE),
            AlignMix::Rare.align(&mut rng),
        );
        let Some(ptr) = subject.alloc(layout) else {
            break;
        };
        placed(ptr, layout, arena)?;
        let block = Block { ptr, layout, id };
        mark(&block, layout.size(), Fill::Ends);
        in_use += layout.size();
        live.push(block);
    }
    free_all(subject, &mut live, Fill::Ends)?;
    Ok(100.0 * in_use as f64 / capacity as f64)
}

/// Runs the workload for one subject with each seed; the median percentage.
pub struct Visitor<'a> {
    /// The shared arena.
    pub arena: &'a Arena,
    /// One run per seed.
    pub seeds: &'a [u64],
}

impl Visit for Visitor<'_> {
    type Out = Outcome<f64>;

    fn visit<S: Subject>(&mut self, kind: Kind) -> Outcome<f64> {
        let bounds = kind.uses_arena().then_some(self.arena);
        let mut shares = Vec::new();
        for &seed in self.seeds {
            let mut subject: S = build(self.arena)?;
            shares.push(run(&mut subject, bounds, self.arena.len(), seed)?);
        }
        Ok(median(&mut shares))
    }
}
