//! Alloc+free pairs of one 64-byte block: the fixed-size pool's own workload, with every
//! subject for scale.
//!
//! ```text
//!   prefill: `prefill` live 64-byte blocks (half of a fixed pool's blocks)
//!   timed:   PAIRS x { p = alloc(64); write one word; free(p) }
//! ```
//!
//! Nanoseconds per pair, median of the repetitions. The prefilled blocks carry a full pattern,
//! checked at the end: a pair block that overlapped one of them would have damaged it.

use std::hint::black_box;
use std::time::Instant;

use super::random_actions::build;
use super::{Outcome, free_all, layout};
use crate::arena::Arena;
use crate::check::{Block, Fill, mark};
use crate::kinds::{Kind, Visit};
use crate::subjects::Subject;
use crate::timer::median;

/// The timed loop: `pairs` alloc+free pairs; nanoseconds per pair.
fn time_pairs<S: Subject>(subject: &mut S, pairs: usize) -> Outcome<f64> {
    let layout = layout(64, 8);
    let mut refused = false;
    let start = Instant::now();
    for i in 0..pairs {
        // Opaque to the optimizer, so it cannot pair the alloc with the free and drop both.
        let ptr = black_box(subject.alloc(layout)).ok_or("out of memory")?;
        // SAFETY: a fresh 64-byte block, 8-aligned.
        unsafe { ptr.cast::<usize>().write(i) };
        // SAFETY: just allocated with `layout`.
        refused |= !unsafe { subject.dealloc(ptr, layout) };
    }
    let elapsed = start.elapsed();
    if refused {
        return Err("a free was refused".to_owned());
    }
    Ok(elapsed.as_nanos() as f64 / pairs as f64)
}

/// Runs the workload once.
fn run<S: Subject>(subject: &mut S, prefill: usize, pairs: usize) -> Outcome<f64> {
    let layout = layout(64, 8);
    let mut live = Vec::with_capacity(prefill);
    for id in 0..prefill as u64 {
        let ptr = subject.alloc(layout).ok_or("out of memory while filling")?;
        let block = Block { ptr, layout, id };
        mark(&block, 64, Fill::Full);
        live.push(block);
    }
    let ns = time_pairs(subject, pairs)?;
    free_all(subject, &mut live, Fill::Full)?;
    Ok(ns)
}

/// Runs the workload for one subject.
pub struct Visitor<'a> {
    /// The shared arena.
    pub arena: &'a Arena,
    /// Live blocks during the timed loop.
    pub prefill: usize,
    /// Pairs per repetition.
    pub pairs: usize,
    /// Timed repetitions.
    pub reps: usize,
}

impl Visit for Visitor<'_> {
    type Out = Outcome<f64>;

    fn visit<S: Subject>(&mut self, _: Kind) -> Outcome<f64> {
        let mut subject: S = build(self.arena)?;
        let mut times = Vec::new();
        for _ in 0..self.reps {
            times.push(run(&mut subject, self.prefill, self.pairs)?);
        }
        Ok(median(&mut times))
    }
}
