//! Two threads on one locked instance: each thread runs random actions (M = 1000, no
//! realloc) on its own blocks, taking one shared spin lock around every call.
//!
//! ```text
//!   thread A ─┐                         ┌─ thread B
//!             ├─► spin::Mutex<subject> ◄┤      (the same lock type for every subject)
//!   own blocks, own seed                own blocks, own seed
//! ```
//!
//! The figure is wall-clock nanoseconds per action over both threads (total time / total
//! actions), median of the repetitions; it measures lock hand-over and cache-line traffic as
//! much as the allocator.

use std::time::Instant;

use spin::Mutex;

use super::random_actions::{AlignMix, build, request_size};
use super::{Outcome, layout};
use crate::arena::Arena;
use crate::check::{Block, Fill, intact, mark};
use crate::kinds::{Kind, Visit};
use crate::rng::Rng;
use crate::subjects::Subject;
use crate::timer::median;

/// The `M` of the size distribution.
const MAX_SIZE: usize = 1000;

/// Live blocks each thread keeps before the random choice starts.
const MIN_LIVE: usize = 150;

/// A subject made shareable: it is only ever used under the mutex that holds it.
struct Shared<S>(S);

// SAFETY: the subjects keep no thread-bound state (no thread-locals, no thread ids); their raw
// pointers lead into the arena or their own buffers, which any thread may use, and the mutex
// gives one thread at a time access.
unsafe impl<S> Send for Shared<S> {}

/// One thread's share: `ops` actions with its own seed, one lock per call.
fn worker<S: Subject>(shared: &Mutex<Shared<S>>, seed: u64, ops: usize) -> Outcome<()> {
    let mut rng = Rng::new(seed);
    let mut live: Vec<Block> = Vec::new();
    for id in 0..ops as u64 {
        if live.len() < MIN_LIVE || rng.one_in(2) {
            let layout = layout(
                request_size(&mut rng, MAX_SIZE),
                AlignMix::Rare.align(&mut rng),
            );
            let ptr = shared.lock().0.alloc(layout).ok_or("out of memory")?;
            let block = Block { ptr, layout, id };
            mark(&block, layout.size(), Fill::Ends);
            live.push(block);
        } else {
            let block = live.swap_remove(rng.range(0, live.len()));
            if !intact(&block, block.layout.size(), Fill::Ends) {
                return Err(format!("contents of block {id} damaged"));
            }
            // SAFETY: `block` is live in the shared subject, allocated with its layout.
            if !unsafe { shared.lock().0.dealloc(block.ptr, block.layout) } {
                return Err("a free was refused".to_owned());
            }
        }
    }
    for block in live {
        // SAFETY: as above.
        unsafe { shared.lock().0.dealloc(block.ptr, block.layout) };
    }
    Ok(())
}

/// Runs both threads once; nanoseconds per action.
fn run<S: Subject>(subject: S, ops: usize) -> Outcome<f64> {
    let shared = Mutex::new(Shared(subject));
    let start = Instant::now();
    let results = std::thread::scope(|scope| {
        let shared = &shared;
        let threads = [11, 22].map(|seed| scope.spawn(move || worker(shared, seed, ops)));
        threads.map(|t| {
            t.join()
                .unwrap_or_else(|_| Err("thread panicked".to_owned()))
        })
    });
    let elapsed = start.elapsed();
    results.into_iter().collect::<Outcome<Vec<()>>>()?;
    Ok(elapsed.as_nanos() as f64 / (2 * ops) as f64)
}

/// Runs the workload for one subject.
pub struct Visitor<'a> {
    /// The shared arena.
    pub arena: &'a Arena,
    /// Actions per thread.
    pub ops: usize,
    /// Timed repetitions.
    pub reps: usize,
}

impl Visit for Visitor<'_> {
    type Out = Outcome<f64>;

    fn visit<S: Subject>(&mut self, _: Kind) -> Outcome<f64> {
        let mut times = Vec::new();
        for _ in 0..self.reps {
            times.push(run(build::<S>(self.arena)?, self.ops)?);
        }
        Ok(median(&mut times))
    }
}
