//! Threads sharing one allocator: each thread runs random actions (M = 1000, no realloc) on its
//! own blocks, through one shared instance.
//!
//! ```text
//!   thread 1 ─┐                                      ┌─ thread n
//!             ├─► Concurrent: a subject behind a lock ◄┤     own blocks, own seed
//!             │   (Mutex<R, subject>), or an allocator │
//!             │   that is shared by design (glibc,     │
//!             │   bareheap's per-thread caches)        │
//! ```
//!
//! Two sections use it. "Threads, one locked instance" ([`Visitor`]): every subject behind the
//! same lock, 1, 2 and 16 threads behind a spin lock and 16 behind [`FutexLock`]; the figure is
//! wall-clock nanoseconds per action over all threads. "Thread scaling" ([`scaling`]): the
//! system malloc, talc and rlsf behind their natural locks, bareheap's default heap behind
//! `FutexLock` with and without its per-thread caches, at 1, 2, 4 and 16 threads; the figure is
//! aggregate throughput, millions of actions per second. Both measure lock hand-over,
//! cache-line traffic and, with more threads than cores, what a waiter does while the holder
//! is descheduled, as much as the allocator.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::time::Instant;

use bareheap::{DefaultLock, FutexLock, Heap, StaticGrower};
use lock_api::{Mutex, RawMutex};

use super::random_actions::{AlignMix, build, request_size};
use super::{Outcome, layout};
use crate::arena::Arena;
use crate::check::{Block, Fill, intact, mark};
use crate::kinds::{Kind, Visit};
use crate::report::Cell;
use crate::rng::Rng;
use crate::subjects::{Bare, CachedHeap, Rlsf, Subject, SystemMalloc, Talc};
use crate::timer::median;

/// The `M` of the size distribution.
const MAX_SIZE: usize = 1000;

/// Live blocks each thread keeps before the random choice starts.
const MIN_LIVE: usize = 150;

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

/// An allocator as the threads see it: shared, called through `&self`.
pub trait Concurrent: Sync {
    /// A block for `layout`; `None` when out of memory.
    fn alloc(&self, layout: Layout) -> Option<NonNull<u8>>;

    /// Frees a block; `false` when the allocator refused it.
    ///
    /// # Safety
    /// `ptr` is a live block of this allocator, allocated with `layout`.
    unsafe fn dealloc(&self, ptr: NonNull<u8>, layout: Layout) -> bool;

    /// What a thread does as it ends (nothing, unless the allocator keeps per-thread state).
    fn thread_done(&self) {}
}

/// A single-threaded subject behind a lock `R`, taken around every call.
pub struct Behind<S, R: RawMutex>(Mutex<R, Unshared<S>>);

/// A subject made `Send`: it is only ever used under the lock that holds it.
pub struct Unshared<S>(S);

// SAFETY: the subjects keep no thread-bound state (no thread-locals, no thread ids); their raw
// pointers lead into the arena or their own buffers, which any thread may use, and the lock
// gives one thread at a time access.
unsafe impl<S> Send for Unshared<S> {}

impl<S, R: RawMutex> Behind<S, R> {
    /// `subject` behind a new lock.
    pub fn new(subject: S) -> Self {
        Self(Mutex::new(Unshared(subject)))
    }
}

impl<S: Subject, R: RawMutex + Sync> Concurrent for Behind<S, R> {
    fn alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        self.0.lock().0.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { self.0.lock().0.dealloc(ptr, layout) }
    }
}

/// The system malloc, shared as it is (glibc's arenas and per-thread caches): its subject
/// keeps no state, so every thread may call it at once.
impl Concurrent for SystemMalloc {
    fn alloc(&self, layout: Layout) -> Option<NonNull<u8>> {
        Subject::alloc(&mut SystemMalloc, layout)
    }

    unsafe fn dealloc(&self, ptr: NonNull<u8>, layout: Layout) -> bool {
        // SAFETY: forwarded from the caller.
        unsafe { Subject::dealloc(&mut SystemMalloc, ptr, layout) }
    }
}

/// One thread's share: `ops` actions with its own seed.
fn worker<C: Concurrent>(shared: &C, seed: u64, ops: usize) -> Outcome<()> {
    let mut rng = Rng::new(seed);
    let mut live: Vec<Block> = Vec::new();
    for id in 0..ops as u64 {
        if live.len() < MIN_LIVE || rng.one_in(2) {
            let layout = layout(
                request_size(&mut rng, MAX_SIZE),
                AlignMix::Rare.align(&mut rng),
            );
            let ptr = shared.alloc(layout).ok_or("out of memory")?;
            let block = Block { ptr, layout, id };
            mark(&block, layout.size(), Fill::Ends);
            live.push(block);
        } else {
            let block = live.swap_remove(rng.range(0, live.len()));
            if !intact(&block, block.layout.size(), Fill::Ends) {
                return Err(format!("contents of block {id} damaged"));
            }
            // SAFETY: `block` is live in the shared subject, allocated with its layout.
            if !unsafe { shared.dealloc(block.ptr, block.layout) } {
                return Err("a free was refused".to_owned());
            }
        }
    }
    for block in live {
        // SAFETY: as above.
        unsafe { shared.dealloc(block.ptr, block.layout) };
    }
    shared.thread_done();
    Ok(())
}

/// Runs `threads` threads once on `shared`, `ops` actions each; nanoseconds per action.
fn run<C: Concurrent>(shared: &C, threads: usize, ops: usize) -> Outcome<f64> {
    let start = Instant::now();
    let results: Vec<Outcome<()>> = std::thread::scope(|scope| {
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

/// The median over `reps` runs of `threads` threads sharing `ops` actions, each run on a
/// fresh allocator from `make`, after one untimed run (which touches the arena's pages and
/// wakes the CPUs up); nanoseconds per action.
fn median_run<C: Concurrent>(
    make: impl Fn() -> Outcome<C>,
    threads: usize,
    ops: usize,
    reps: usize,
) -> Outcome<f64> {
    run(&make()?, threads, ops / threads)?;
    let mut times = Vec::new();
    for _ in 0..reps {
        times.push(run(&make()?, threads, ops / threads)?);
    }
    Ok(median(&mut times))
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
        let shape = (threads, self.ops, self.reps);
        match lock {
            LockKind::Spin => locked::<S, DefaultLock>(self.arena, shape),
            LockKind::Futex => locked::<S, FutexLock>(self.arena, shape),
        }
    }
}

/// [`median_run`] of subject `S` built over `arena`, behind a lock `R`, for
/// `(threads, ops, reps)`.
fn locked<S: Subject, R: RawMutex + Sync>(
    arena: &Arena,
    (threads, ops, reps): (usize, usize, usize),
) -> Outcome<f64> {
    median_run(
        || Ok(Behind::<S, R>::new(build(arena)?)),
        threads,
        ops,
        reps,
    )
}

/// The thread counts of the scaling section, one column each.
pub const SCALING_THREADS: [usize; 4] = [1, 2, 4, 16];

/// The subjects of the scaling section, each behind its natural lock: the system malloc as it
/// is, talc and rlsf behind `spin` (the lock their own global-allocator wrappers use), bareheap's
/// default heap behind `FutexLock` (its lock for Linux threads), without and with its caches.
pub const SCALING_SUBJECTS: [Kind; 5] = [
    Kind::System,
    Kind::Talc,
    Kind::Rlsf,
    Kind::Heap,
    Kind::HeapCached,
];

/// The scaling section for one subject: millions of actions per second over all threads, one
/// figure per entry of [`SCALING_THREADS`] (median of `reps` runs of `ops` actions in all).
pub fn scaling(kind: Kind, arena: &Arena, ops: usize, reps: usize) -> Vec<Cell> {
    SCALING_THREADS
        .iter()
        .map(|&threads| {
            let shape = (threads, ops, reps);
            let ns = match kind {
                Kind::System => median_run(|| Ok(SystemMalloc), threads, ops, reps),
                Kind::Talc => locked::<Talc, DefaultLock>(arena, shape),
                Kind::Rlsf => locked::<Rlsf, DefaultLock>(arena, shape),
                Kind::Heap => {
                    locked::<Bare<Heap<StaticGrower<'static>>, false>, FutexLock>(arena, shape)
                }
                Kind::HeapCached => median_run(|| build::<CachedHeap>(arena), threads, ops, reps),
                _ => Err("not a subject of this section".to_owned()),
            };
            ns.map(|ns| 1000.0 / ns)
        })
        .collect()
}
