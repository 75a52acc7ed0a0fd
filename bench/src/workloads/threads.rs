//! Threads sharing one allocator: each thread runs random actions (no realloc) on its own
//! blocks, through one shared instance.
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
//! `FutexLock` with and without its per-thread caches, at 1, 2, 4 and 16 threads, on two mixes
//! ([`ThreadMix`]); the figure is aggregate throughput, millions of actions per second. Both
//! measure lock hand-over, cache-line traffic and, with more threads than cores, what a waiter
//! does while the holder is descheduled, as much as the allocator.

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
use crate::subjects::{Bare, CachedHeap, PerThreadBaseline, Rlsf, Subject, SystemMalloc, Talc};
use crate::timer::median;

/// The `M` of the small requests.
const MAX_SIZE: usize = 1000;

/// The `M` of the application mix's large requests.
const MAX_LARGE_SIZE: usize = 32 * 1024;

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

/// What the threads ask for, and how much they use what they get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadMix {
    /// Sizes of M = 1000 (every request 2 KiB or less), only the two end words of each block
    /// written and checked: the blocks are barely used, so the allocator and its lock show
    /// most.
    Small,
    /// An application's mix: one request in 16 of M = 32 KiB, the rest of M = 1000, every byte
    /// written when allocated and checked when freed (the kind of mix the issue's 8- and
    /// 16-thread measurements used: sizes up to 32 KiB, contents checked): most of a thread's
    /// time is spent using its memory.
    Application,
}

impl ThreadMix {
    /// The mix's number on a child's command line.
    pub const fn code(self) -> u64 {
        match self {
            Self::Small => 0,
            Self::Application => 1,
        }
    }

    /// The mix of [`code`](Self::code).
    pub const fn from_code(code: u64) -> Option<Self> {
        match code {
            0 => Some(Self::Small),
            1 => Some(Self::Application),
            _ => None,
        }
    }

    /// The size of the next request.
    fn size(self, rng: &mut Rng) -> usize {
        match self {
            Self::Application if rng.one_in(16) => request_size(rng, MAX_LARGE_SIZE),
            _ => request_size(rng, MAX_SIZE),
        }
    }

    /// How much of each block is written and checked.
    fn fill(self) -> Fill {
        match self {
            Self::Small => Fill::Ends,
            Self::Application => Fill::Full,
        }
    }
}

/// One thread's share: `ops` actions of `mix` with its own seed.
fn worker<C: Concurrent>(shared: &C, seed: u64, ops: usize, mix: ThreadMix) -> Outcome<()> {
    let mut rng = Rng::new(seed);
    let mut live: Vec<Block> = Vec::new();
    for id in 0..ops as u64 {
        if live.len() < MIN_LIVE || rng.one_in(2) {
            let layout = layout(mix.size(&mut rng), AlignMix::Rare.align(&mut rng));
            let ptr = shared.alloc(layout).ok_or("out of memory")?;
            let block = Block { ptr, layout, id };
            mark(&block, layout.size(), mix.fill());
            live.push(block);
        } else {
            let block = live.swap_remove(rng.range(0, live.len()));
            if !intact(&block, block.layout.size(), mix.fill()) {
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

/// The shape of one measurement: threads, actions over all threads, timed runs, and the mix.
#[derive(Debug, Clone, Copy)]
struct Shape {
    threads: usize,
    ops: usize,
    reps: usize,
    mix: ThreadMix,
}

/// Runs `threads` threads once on `shared`, `ops` actions of `mix` each; nanoseconds per
/// action.
fn run<C: Concurrent>(shared: &C, threads: usize, ops: usize, mix: ThreadMix) -> Outcome<f64> {
    let start = Instant::now();
    let results: Vec<Outcome<()>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads as u64)
            .map(|index| scope.spawn(move || worker(shared, 11 * (index + 1), ops, mix)))
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
fn median_run<C: Concurrent>(make: impl Fn() -> Outcome<C>, shape: Shape) -> Outcome<f64> {
    let Shape {
        threads,
        ops,
        reps,
        mix,
    } = shape;
    run(&make()?, threads, ops / threads, mix)?;
    let mut times = Vec::new();
    for _ in 0..reps {
        times.push(run(&make()?, threads, ops / threads, mix)?);
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
        let shape = Shape {
            threads,
            ops: self.ops,
            reps: self.reps,
            mix: ThreadMix::Small,
        };
        match lock {
            LockKind::Spin => locked::<S, DefaultLock>(self.arena, shape),
            LockKind::Futex => locked::<S, FutexLock>(self.arena, shape),
        }
    }
}

/// [`median_run`] of subject `S` built over `arena`, behind a lock `R`.
fn locked<S: Subject, R: RawMutex + Sync>(arena: &Arena, shape: Shape) -> Outcome<f64> {
    median_run(|| Ok(Behind::<S, R>::new(build(arena)?)), shape)
}

/// The thread counts of the scaling section, one column each.
pub const SCALING_THREADS: [usize; 4] = [1, 2, 4, 16];

/// The subjects of the scaling sections for `mix`, each behind its natural lock: the system
/// malloc as it is, talc and rlsf behind `spin` (the lock their own global-allocator wrappers
/// use), bareheap's default heap behind `FutexLock` (its lock for Linux threads), without and
/// with its caches. On the small mix, first the harness alone (each thread on a free stack of
/// its own, [`PerThreadBaseline`]): a reference for how far the work around the allocator
/// calls scales in a run. (Not on the application's mix: its slots, one per 32 KiB, make
/// writing whole blocks slower than in memory packed by an allocator.)
pub fn scaling_subjects(mix: ThreadMix) -> Vec<Kind> {
    let harness = match mix {
        ThreadMix::Small => Some(Kind::Baseline),
        ThreadMix::Application => None,
    };
    harness
        .into_iter()
        .chain([
            Kind::System,
            Kind::Talc,
            Kind::Rlsf,
            Kind::Heap,
            Kind::HeapCached,
        ])
        .collect()
}

/// The scaling section for one subject: millions of actions per second over all threads, one
/// figure per entry of [`SCALING_THREADS`] (median of `reps` runs of `ops` actions of `mix` in
/// all).
pub fn scaling(
    kind: Kind,
    arena: &Arena,
    (ops, reps): (usize, usize),
    mix: ThreadMix,
) -> Vec<Cell> {
    SCALING_THREADS
        .iter()
        .map(|&threads| {
            let shape = Shape {
                threads,
                ops,
                reps,
                mix,
            };
            let ns = match kind {
                Kind::Baseline => median_run(|| Ok(PerThreadBaseline::default()), shape),
                Kind::System => median_run(|| Ok(SystemMalloc), shape),
                Kind::Talc => locked::<Talc, DefaultLock>(arena, shape),
                Kind::Rlsf => locked::<Rlsf, DefaultLock>(arena, shape),
                Kind::Heap => {
                    locked::<Bare<Heap<StaticGrower<'static>>, false>, FutexLock>(arena, shape)
                }
                Kind::HeapCached => median_run(|| build::<CachedHeap>(arena), shape),
                _ => Err("not a subject of this section".to_owned()),
            };
            ns.map(|ns| 1000.0 / ns)
        })
        .collect()
}
