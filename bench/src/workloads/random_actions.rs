//! Random actions: the workload of talc's and rlsf's benchmarks, with fixed seeds and counts.
//!
//! ```text
//!   live < 300 ? allocate
//!            : 3/7 allocate | 3/7 free a random live block | 1/7 reallocate one
//!              (without realloc: 1/2 allocate | 1/2 free)
//!   size  = rand(4 .. rand(16 .. M))
//!   alignment, rare mix:   8 or 16, one in 128 a power of two from 32 to 4096
//!   alignment, spread mix: 8 for 75 %, 16 for 19 %, a power of two from 32 to 4096 for 6 %
//! ```
//!
//! The figure is wall-clock nanoseconds per action, harness included (the baseline row shows
//! the harness alone), median of the repetitions.

use std::time::Instant;

use super::{Outcome, checked_free, free_all, layout};
use crate::arena::Arena;
use crate::check::{Block, Fill, head_intact, mark, placed};
use crate::kinds::{Kind, Visit};
use crate::rng::Rng;
use crate::subjects::Subject;
use crate::timer::median;

/// Live blocks kept before the random choice starts.
const MIN_LIVE: usize = 300;

/// A request size: `rand(4 .. rand(16 .. max))`.
pub fn request_size(rng: &mut Rng, max: usize) -> usize {
    let hi = rng.range(16, max);
    rng.range(4, hi)
}

/// How often a request asks for more than the usual alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlignMix {
    /// 8 or 16, one request in 128 a power of two from 32 to 4096.
    Rare,
    /// 8 for 75 %, 16 for 19 %, a power of two from 32 to 4096 for 6 %: the mix of the free
    /// list's issue, where high alignments are common enough to matter.
    Spread,
}

impl AlignMix {
    /// Both mixes, in table order.
    pub const ALL: [Self; 2] = [Self::Rare, Self::Spread];

    /// The mix's name in a child's arguments.
    pub const fn code(self) -> u8 {
        match self {
            Self::Rare => 0,
            Self::Spread => 1,
        }
    }

    /// The mix's name in the report.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rare => "rare",
            Self::Spread => "spread",
        }
    }

    /// The mix of [`code`](Self::code).
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::Rare),
            1 => Some(Self::Spread),
            _ => None,
        }
    }

    /// A request alignment from this mix.
    pub fn align(self, rng: &mut Rng) -> usize {
        match self {
            Self::Rare => match rng.next_u64() % 128 {
                0 => 1 << rng.range(5, 13),
                r if r % 2 == 0 => 8,
                _ => 16,
            },
            Self::Spread => match rng.next_u64() % 100 {
                0..75 => 8,
                75..94 => 16,
                _ => 1 << rng.range(5, 13),
            },
        }
    }
}

/// One configuration of the workload.
#[derive(Clone, Copy, Debug)]
pub struct Params {
    /// The `M` of the size distribution.
    pub max: usize,
    /// Whether one action in seven is a reallocation.
    pub realloc: bool,
    /// The alignments requested.
    pub mix: AlignMix,
    /// Actions per run.
    pub ops: usize,
    /// The random seed.
    pub seed: u64,
}

/// The state of one run.
struct Run<'a, S> {
    subject: &'a mut S,
    mix: AlignMix,
    arena: Option<&'a Arena>,
    fill: Fill,
    rng: Rng,
    live: Vec<Block>,
    next_id: u64,
}

// Each action is a call, for every subject alike: a count subtracts the baseline's, so an
// inlining decision that differed between subjects (it follows the size of their code) would be
// counted as theirs.
impl<S: Subject> Run<'_, S> {
    #[inline(never)]
    fn allocate(&mut self, max: usize) -> Outcome<()> {
        let size = request_size(&mut self.rng, max);
        let layout = layout(size, self.mix.align(&mut self.rng));
        let ptr = self.subject.alloc(layout).ok_or("out of memory")?;
        placed(ptr, layout, self.arena)?;
        let block = Block {
            ptr,
            layout,
            id: self.next_id,
        };
        self.next_id += 1;
        mark(&block, size, self.fill);
        self.live.push(block);
        Ok(())
    }

    #[inline(never)]
    fn free(&mut self) -> Outcome<()> {
        let index = self.rng.range(0, self.live.len());
        let block = self.live.swap_remove(index);
        checked_free(self.subject, block, self.fill)
    }

    #[inline(never)]
    fn reallocate(&mut self, max: usize) -> Outcome<()> {
        let index = self.rng.range(0, self.live.len());
        let old = self.live[index];
        let new_size = request_size(&mut self.rng, max);
        // SAFETY: `old` is live in the subject with its layout; it is replaced below.
        let ptr = unsafe { self.subject.realloc(old.ptr, old.layout, new_size) }
            .ok_or("out of memory")?;
        let new = Block {
            ptr,
            layout: layout(new_size, old.layout.align()),
            id: old.id,
        };
        placed(ptr, new.layout, self.arena)?;
        // The kept prefix: all of it in a full check, else the head (the old tail mark is cut
        // off when the block shrank).
        let kept = old.layout.size().min(new_size);
        let checked = if self.fill == Fill::Full {
            kept
        } else {
            kept.min(8)
        };
        if !head_intact(&Block { ptr, ..old }, checked) {
            return Err(format!("contents of block {} lost in realloc", old.id));
        }
        mark(&new, new_size, self.fill);
        self.live[index] = new;
        Ok(())
    }

    fn step(&mut self, p: &Params) -> Outcome<()> {
        if self.live.len() < MIN_LIVE {
            return self.allocate(p.max);
        }
        let choice = if p.realloc {
            self.rng.range(0, 7)
        } else {
            3 * self.rng.range(0, 2)
        };
        match choice {
            0..3 => self.allocate(p.max),
            3..6 => self.free(),
            _ => self.reallocate(p.max),
        }
    }
}

/// Runs the workload once; the nanoseconds per action of the timed loop.
pub fn run<S: Subject>(
    subject: &mut S,
    arena: Option<&Arena>,
    p: &Params,
    fill: Fill,
) -> Outcome<f64> {
    let mut run = Run {
        subject,
        mix: p.mix,
        arena,
        fill,
        rng: Rng::new(p.seed),
        live: Vec::new(),
        next_id: 0,
    };
    let start = Instant::now();
    for _ in 0..p.ops {
        run.step(p)?;
    }
    let elapsed = start.elapsed();
    free_all(run.subject, &mut run.live, fill)?;
    Ok(elapsed.as_nanos() as f64 / p.ops as f64)
}

/// Runs the workload for one subject: a full check, then `reps` timed runs.
pub struct Visitor<'a> {
    /// The shared arena.
    pub arena: &'a Arena,
    /// The configuration.
    pub params: Params,
    /// Timed repetitions.
    pub reps: usize,
}

impl Visit for Visitor<'_> {
    type Out = Outcome<f64>;

    fn visit<S: Subject>(&mut self, kind: Kind) -> Outcome<f64> {
        let bounds = kind.uses_arena().then_some(self.arena);
        let mut subject: S = build(self.arena)?;
        run(&mut subject, bounds, &self.params, Fill::Full)?;
        drop(subject);
        let mut times = Vec::with_capacity(self.reps);
        for _ in 0..self.reps {
            let mut subject: S = build(self.arena)?;
            times.push(run(&mut subject, bounds, &self.params, Fill::Ends)?);
        }
        Ok(median(&mut times))
    }
}

/// A fresh subject over the arena, or the reason there is none.
pub fn build<S: Subject>(arena: &Arena) -> Outcome<S> {
    arena
        .build()
        .ok_or_else(|| "could not be set up on the arena".to_owned())
}

/// Runs the workload once, untimed and with the lightest checks, for an instruction count
/// (callgrind): the same actions for every subject, so subtracting the baseline's count leaves
/// the allocator's.
pub struct CountVisitor<'a> {
    /// The shared arena.
    pub arena: &'a Arena,
    /// The configuration.
    pub params: Params,
}

impl Visit for CountVisitor<'_> {
    type Out = Outcome<f64>;

    fn visit<S: Subject>(&mut self, kind: Kind) -> Outcome<f64> {
        let bounds = kind.uses_arena().then_some(self.arena);
        let mut subject: S = build(self.arena)?;
        run(&mut subject, bounds, &self.params, Fill::Ends)?;
        Ok(self.params.ops as f64)
    }
}
