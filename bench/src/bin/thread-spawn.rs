//! Spawning threads: a std program spawns and joins 64 threads, each doing a little allocation,
//! with the allocator chosen on the command line as its `#[global_allocator]`; it prints the
//! median time of 20 rounds. `make bench` runs it once per allocator (`system`, `heap-spin`,
//! `heap-futex`, `cached`) for the thread-scaling section of BENCHMARKS.md.
//!
//! ```text
//!   Router (#[global_allocator])
//!     alloc ──► the allocator chosen on the command line (the system's until then)
//!     free  ──► the allocator whose static buffer holds the pointer, else the system's
//! ```
//!
//! Each bareheap allocator grows into a `static` buffer of its own (untouched pages cost
//! nothing), so the router finds a block's owner with two comparisons and adds the same small
//! cost to every bareheap subject. `std::thread::spawn` allocates (the thread's name and
//! packet, its closure, glibc's thread-local destructors list), and the threads allocate and
//! free while the main thread spawns more: this is the path on which a spin lock whose holder
//! is descheduled made a free-list heap 30 to 56 times slower than glibc.
//!
//! Output: `ok <median milliseconds>` on stdout; usage and exit 2 on a bad command line.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Instant;

use bareheap::{CacheIndex, Cached, FutexLock, Heap, Locked, StaticGrower};

/// Threads spawned and joined per round.
const THREADS: usize = 64;
/// Rounds timed; the figure is their median.
const ROUNDS: usize = 20;
/// Bytes of each allocator's buffer.
const BUFFER: usize = 64 << 20;

/// A buffer for one heap, in `.bss`.
struct Buffer(std::cell::UnsafeCell<[MaybeUninit<u8>; BUFFER]>);

// SAFETY: each buffer is handed to exactly one grower (below), which is then its only user.
unsafe impl Sync for Buffer {}

impl Buffer {
    const fn new() -> Self {
        Self(std::cell::UnsafeCell::new([MaybeUninit::uninit(); BUFFER]))
    }

    /// Whether `ptr` lies in this buffer.
    fn holds(&self, ptr: *const u8) -> bool {
        ptr.addr().wrapping_sub(self.0.get().addr()) < BUFFER
    }

    /// A grower over the whole buffer.
    ///
    /// # Safety
    /// Called once per buffer.
    const unsafe fn grower(&'static self) -> StaticGrower<'static> {
        // SAFETY: the caller calls this once, so the grower is the buffer's only user.
        unsafe { StaticGrower::from_raw(self.0.get() as *mut [MaybeUninit<u8>]) }
    }
}

static SPIN_BUFFER: Buffer = Buffer::new();
static FUTEX_BUFFER: Buffer = Buffer::new();
static CACHED_BUFFER: Buffer = Buffer::new();

static HEAP_SPIN: Locked<Heap<StaticGrower<'static>>> = Locked::new(Heap::new(
    // SAFETY: this buffer's only grower.
    unsafe { SPIN_BUFFER.grower() },
));
static HEAP_FUTEX: Locked<Heap<StaticGrower<'static>>, FutexLock> = Locked::new(Heap::new(
    // SAFETY: this buffer's only grower.
    unsafe { FUTEX_BUFFER.grower() },
));
static CACHED: Cached<Heap<StaticGrower<'static>>, ThreadNumber, FutexLock> = Cached::new(
    Heap::new(
        // SAFETY: this buffer's only grower.
        unsafe { CACHED_BUFFER.grower() },
    ),
    ThreadNumber,
);

/// A number per thread, in the order threads first allocate (a `const` thread-local with no
/// destructor: reading it never allocates).
struct ThreadNumber;

impl CacheIndex for ThreadNumber {
    fn current(&self) -> usize {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local!(static MINE: Cell<usize> = const { Cell::new(usize::MAX) });
        MINE.with(|mine| {
            if mine.get() == usize::MAX {
                mine.set(NEXT.fetch_add(1, Ordering::Relaxed));
            }
            mine.get()
        })
    }
}

/// Which allocator serves new allocations: one of the constants below.
static CHOSEN: AtomicU8 = AtomicU8::new(SYSTEM);
const SYSTEM: u8 = 0;
const SPIN: u8 = 1;
const FUTEX: u8 = 2;
const CACHES: u8 = 3;

/// Sends each allocation to the chosen allocator, and each free to the block's owner.
struct Router;

impl Router {
    /// The allocator that holds `ptr`.
    fn owner(ptr: *const u8) -> &'static dyn GlobalAlloc {
        if SPIN_BUFFER.holds(ptr) {
            &HEAP_SPIN
        } else if FUTEX_BUFFER.holds(ptr) {
            &HEAP_FUTEX
        } else if CACHED_BUFFER.holds(ptr) {
            &CACHED
        } else {
            &System
        }
    }
}

// SAFETY: every call goes to one allocator that implements `GlobalAlloc`, and a block always
// goes back to the allocator that handed it out (found by the buffer that holds it).
unsafe impl GlobalAlloc for Router {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded from the caller.
        unsafe {
            match CHOSEN.load(Ordering::Relaxed) {
                SPIN => HEAP_SPIN.alloc(layout),
                FUTEX => HEAP_FUTEX.alloc(layout),
                CACHES => CACHED.alloc(layout),
                _ => System.alloc(layout),
            }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded from the caller, to the block's own allocator.
        unsafe { Self::owner(ptr).dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded from the caller, to the block's own allocator.
        unsafe { Self::owner(ptr).realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ROUTER: Router = Router;

/// One round: spawn all threads (each builds a few small collections), then join them.
fn round() -> usize {
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            std::thread::spawn(move || {
                let words: Vec<String> = (0..32).map(|j| format!("{i}-{j}")).collect();
                let numbers: Vec<u64> = (0..256).collect();
                let total = words.iter().map(String::len).sum::<usize>() + numbers.len();
                if CHOSEN.load(Ordering::Relaxed) == CACHES {
                    CACHED.release(ThreadNumber.current());
                }
                total
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("no thread panics"))
        .sum()
}

fn main() {
    let chosen = match std::env::args().nth(1).as_deref() {
        Some("system") => SYSTEM,
        Some("heap-spin") => SPIN,
        Some("heap-futex") => FUTEX,
        Some("cached") => CACHES,
        _ => {
            eprintln!("usage: thread-spawn system|heap-spin|heap-futex|cached");
            std::process::exit(2);
        }
    };
    CHOSEN.store(chosen, Ordering::Relaxed);
    let mut times: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let start = Instant::now();
            assert!(round() > 0, "the threads did their work");
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    println!("ok {:.2}", times[ROUNDS / 2]);
}
