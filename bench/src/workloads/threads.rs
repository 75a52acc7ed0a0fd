//! Threads on one locked instance: each thread runs random actions (M = 1000, no realloc) on
//! its own blocks, taking one shared lock around every call; 1, 2 and 16 threads behind a spin
//! lock, and 16 behind a lock that sleeps ([`bareheap::FutexLock`]).
//!
//! ```text
//!   thread 1 ─┐                          ┌─ thread n
//!             ├─► Mutex<R, subject>     ◄┤      (the same lock types for every subject)
//!   own blocks, own seed                 own blocks, own seed
//! ```
//!
//! The figure is wall-clock nanoseconds per action over all threads (total time / total
//! actions), median of the repetitions; it measures lock hand-over, cache-line traffic and, with
//! more threads than cores, what a waiter does while the holder is descheduled, as much as the
//! allocator.

use std::time::Instant;

use bareheap::{DefaultLock, FutexLock};
use lock_api::{Mutex, RawMutex};

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

/// The runs of the section, one column each: the lock, and the number of threads.
pub const RUNS: [(LockKind, usize); 4] = [
    (LockKind::Spin, 1),
    (LockKind::Spin, 2),
    (LockKind::Spin, 16),
    (LockKind::Futex, 16),
];

/// The lock around the subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// `spin`'s mutex, the library's default.
    Spin,
    /// [`FutexLock`]: spins briefly, then sleeps in the kernel.
    Futex,
}

impl LockKind {
    /// The name in the table's header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Spin => "spin",
            Self::Futex => "futex",
        }
    }
}

/// One thread's share: `ops` actions with its own seed, one lock per call.
fn worker<S: Subject, R: RawMutex>(
    shared: &Mutex<R, Shared<S>>,
    seed: u64,
    ops: usize,
) -> Outcome<()> {
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

/// Runs `threads` threads once, `ops` actions each; nanoseconds per action.
fn run<S: Subject, R: RawMutex + Sync>(subject: S, threads: usize, ops: usize) -> Outcome<f64> {
    let shared = Mutex::<R, _>::new(Shared(subject));
    let start = Instant::now();
    let results: Vec<Outcome<()>> = std::thread::scope(|scope| {
        let shared = &shared;
        let handles: Vec<_> = (0..threads as u64)
            .map(|index| scope.spawn(move || worker(shared, 11 * (index + 1), ops)))
            .collect();
        handles
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|_| Err("thread panicked".to_owned()))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    results.into_iter().collect::<Outcome<Vec<()>>>()?;
    Ok(elapsed.as_nanos() as f64 / (threads * ops) as f64)
}

/// Runs the workload for one subject, with one lock and thread count.
pub struct Visitor<'a> {
    /// The shared arena.
    pub arena: &'a Arena,
    /// Actions over all threads together.
    pub ops: usize,
    /// Timed repetitions.
    pub reps: usize,
    /// The lock and the number of threads.
    pub run: (LockKind, usize),
}

impl Visit for Visitor<'_> {
    type Out = Outcome<f64>;

    fn visit<S: Subject>(&mut self, _: Kind) -> Outcome<f64> {
        let (lock, threads) = self.run;
        let per_thread = self.ops / threads;
        let mut times = Vec::new();
        for _ in 0..self.reps {
            let subject = build::<S>(self.arena)?;
            times.push(match lock {
                LockKind::Spin => run::<S, DefaultLock>(subject, threads, per_thread)?,
                LockKind::Futex => run::<S, FutexLock>(subject, threads, per_thread)?,
            });
        }
        Ok(median(&mut times))
    }
}
