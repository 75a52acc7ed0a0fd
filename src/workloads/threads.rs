//! `threads`: four threads allocating and freeing through the one global allocator at once.
//!
//! Every other workload runs on the main thread alone, so an allocator with no lock at all
//! would pass them. Here four threads started with [`Thread::spawn`] (raw `clone`, no libc) hit
//! the allocator simultaneously, each with its own mix of blocks:
//!
//! ```text
//!   thread k:  64 slots  [ block | empty | block | block | empty | ... ]
//!              each round picks a slot at random (a per-thread xorshift generator):
//!                empty ──► allocate 8 B .. 32 KiB, fill each word with (k, block id, index)
//!                block ──► check every word, then free it, or realloc it to a new size
//!                          (the kept prefix is checked again, the new tail filled)
//!              beside them: a BTreeMap<u32, u64> (insert / remove) and format! strings
//!   main:      spawn 4 ──► open the start gate ──► join 4 ──► one check per thread
//!   (the threads spin at the gate until all four exist, so their churn overlaps)
//! ```
//!
//! The pattern depends on the thread as well as the block, so a block handed to two threads at
//! once (the classic race of an allocator without a lock) shows up as a wrong word in one of
//! them. Each thread checks only its own data and returns a [`Report`]; the main thread
//! turns each report into a check. Every thread frees everything it made before it returns.
//! On the `cached` allocator each thread has a cache of its own (the number in its thread
//! block), and the report shows what that cache did.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, Ordering};

use super::Checks;
use crate::thread::Thread;
use crate::{heap, println};

/// Threads started at once.
const THREADS: u64 = 4;
/// Rounds of the slot loop per thread.
const ROUNDS: u32 = 10_000;
/// Blocks each thread keeps in play.
const SLOTS: usize = 64;
/// Keys of each thread's map.
const MAP_KEYS: u32 = 1024;

/// What one thread found.
#[derive(Debug, Default, Clone, Copy)]
struct Report {
    /// The allocator cache the thread used (its thread block's number).
    cache_index: usize,
    /// Blocks whose every word was checked (before a free or a realloc, and at the end).
    blocks_checked: u32,
    /// Blocks in which some word was not what this thread wrote.
    corrupted: u32,
    /// Whether every map entry and every parsed string held the value written.
    map_and_strings_intact: bool,
}

/// Runs the workload.
pub fn run(checks: &mut Checks) {
    let gate = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for index in 0..THREADS {
        let gate = Arc::clone(&gate);
        match Thread::spawn(move || {
            wait_for(&gate);
            churn(index)
        }) {
            Ok(thread) => threads.push((index, thread)),
            Err(errno) => checks.expect(false, format_args!("thread {index} started: {errno}")),
        }
    }
    gate.store(true, Ordering::Release);
    for (index, thread) in threads {
        let id = thread.id();
        let report = thread.join();
        checks.expect(
            report.corrupted == 0 && report.blocks_checked > 0 && report.map_and_strings_intact,
            format_args!(
                "thread {index} (tid {id}): {} blocks, {} corrupt, map+strings {}",
                report.blocks_checked,
                report.corrupted,
                if report.map_and_strings_intact {
                    "intact"
                } else {
                    "WRONG"
                }
            ),
        );
        if let Some(cache) = heap::cache_stats(report.cache_index) {
            println!(
                "         cache {}: {} allocations, {} frees, {} bypassed",
                report.cache_index, cache.allocations, cache.frees, cache.bypassed,
            );
            println!(
                "                  {} refills, {} drains; {} blocks held after its exit",
                cache.refills, cache.drains, cache.cached_blocks,
            );
        }
    }
}

/// Spins until the main thread opens `gate`, so that every thread starts churning at once
/// rather than each finishing before the next one is spawned.
fn wait_for(gate: &AtomicBool) {
    while !gate.load(Ordering::Acquire) {
        core::hint::spin_loop();
    }
}

/// One block in play: its words and the id their pattern derives from.
struct Block {
    id: u32,
    words: Vec<u64>,
}

impl Block {
    /// A new block of `len` words, filled with its pattern.
    fn new(thread: u64, id: u32, len: usize) -> Self {
        let mut words = Vec::with_capacity(len);
        words.extend((0..len).map(|at| pattern(thread, id, at)));
        Self { id, words }
    }

    /// Whether every word still holds the pattern.
    fn intact(&self, thread: u64) -> bool {
        self.words
            .iter()
            .enumerate()
            .all(|(at, &word)| word == pattern(thread, self.id, at))
    }

    /// Reallocates to `len` words; a grown tail is filled with the pattern.
    fn resize(&mut self, thread: u64, len: usize) {
        let kept = self.words.len().min(len);
        self.words.truncate(kept);
        self.words.shrink_to_fit();
        self.words
            .extend((kept..len).map(|at| pattern(thread, self.id, at)));
    }
}

/// The word at index `at` of block `id` of `thread`: the three values side by side, so a
/// wrong word says whose it was and where it belonged.
fn pattern(thread: u64, id: u32, at: usize) -> u64 {
    thread << 56 | u64::from(id) << 24 | at as u64
}

/// A thread's body: the slot loop, the map and the strings. Frees everything before returning.
fn churn(thread: u64) -> Report {
    let mut random = XorShift::new(thread);
    let mut slots: Vec<Option<Block>> = (0..SLOTS).map(|_| None).collect();
    let mut map = BTreeMap::new();
    let mut report = Report {
        cache_index: crate::tls::cache_index(),
        map_and_strings_intact: true,
        ..Report::default()
    };
    for round in 0..ROUNDS {
        let roll = random.next();
        let slot = &mut slots[roll as usize % SLOTS];
        match slot.take() {
            None => *slot = Some(Block::new(thread, round, size_for(roll >> 8))),
            Some(mut block) => {
                report.record(block.intact(thread));
                if roll & (1 << 40) != 0 {
                    block.resize(thread, size_for(roll >> 16));
                    report.record(block.intact(thread));
                    *slot = Some(block);
                }
            }
        }
        let key = (roll >> 32) as u32 % MAP_KEYS;
        if roll & (1 << 41) != 0 {
            map.insert(key, map_value(thread, key));
        } else {
            map.remove(&key);
        }
        if round % 64 == 0 {
            let text = format!("{thread}:{round}:{roll}");
            report.map_and_strings_intact &= text == format!("{thread}:{round}:{roll}")
                && text.rsplit(':').next().and_then(|last| last.parse().ok()) == Some(roll);
        }
    }
    for block in slots.into_iter().flatten() {
        report.record(block.intact(thread));
    }
    report.map_and_strings_intact &= map
        .iter()
        .all(|(&key, &value)| value == map_value(thread, key));
    report
}

impl Report {
    /// Counts one checked block.
    fn record(&mut self, intact: bool) {
        self.blocks_checked += 1;
        self.corrupted += u32::from(!intact);
    }
}

/// A block length in words from random bits: mostly small, some medium, a few large
/// (8 B to 32 KiB).
fn size_for(bits: u64) -> usize {
    let bits = bits as usize;
    match bits % 20 {
        0 => 512 + (bits >> 5) % 3584,
        1..=5 => 32 + (bits >> 5) % 480,
        _ => 1 + (bits >> 5) % 31,
    }
}

/// What `thread` stores under `key` in its map.
fn map_value(thread: u64, key: u32) -> u64 {
    (thread << 32 | u64::from(key)).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// Marsaglia's xorshift64: a fast, deterministic stream of bits (not for cryptography).
struct XorShift(u64);

impl XorShift {
    /// A generator whose stream depends on `seed`.
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
