//! `threads`: four threads allocating and freeing through the one global allocator at once.
//!
//! Every other workload runs on the main thread alone, so an allocator with no lock at all
//! would pass them. Here four threads started with [`Thread::spawn`] (raw `clone`, no libc) hit
//! the allocator simultaneously, each with its own mix of blocks:
//!
//! ```text
//!   thread k:  64 slots  [ block | empty | block | block | empty | ... ]
//!              each round picks a slot at random (a per-thread xorshift generator):
//!                empty ──► allocate 1 B .. 32 KiB, fill with the pattern of (k, block id)
//!                block ──► check every byte, then free it, or realloc it to a new size
//!                          (the kept prefix is checked again, the new tail filled)
//!              beside them: a BTreeMap<u32, u64> (insert / remove) and format! strings
//!   main:      spawn 4 ──► join 4 ──► one check per thread: nothing corrupted
//! ```
//!
//! The pattern depends on the thread as well as the block, so a block handed to two threads at
//! once (the classic race of an allocator without a lock) shows up as a corrupted byte in one
//! of them. Each thread checks only its own data and returns a [`Report`]; the main thread
//! turns each report into a check. Every thread frees everything it made before it returns.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::vec::Vec;

use super::Checks;
use crate::thread::Thread;

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
    /// Blocks whose every byte was checked (before a free or a realloc, and at the end).
    blocks_checked: u32,
    /// Blocks in which some byte was not what this thread wrote.
    corrupted: u32,
    /// Whether every map entry and every parsed string held the value written.
    map_and_strings_intact: bool,
}

/// Runs the workload.
pub fn run(checks: &mut Checks) {
    let mut threads = Vec::new();
    for index in 0..THREADS {
        match Thread::spawn(move || churn(index)) {
            Ok(thread) => threads.push((index, thread)),
            Err(errno) => checks.expect(false, format_args!("thread {index} started: {errno}")),
        }
    }
    for (index, thread) in threads {
        let id = thread.id();
        let report = thread.join();
        checks.expect(
            report.corrupted == 0 && report.blocks_checked > 0 && report.map_and_strings_intact,
            format_args!(
                "thread {index} (tid {id}): {ROUNDS} rounds, {} blocks checked, {} corrupted, \
                 map and strings {}",
                report.blocks_checked,
                report.corrupted,
                if report.map_and_strings_intact {
                    "intact"
                } else {
                    "WRONG"
                }
            ),
        );
    }
}

/// One block in play: its bytes and the id its pattern derives from.
struct Block {
    id: u32,
    bytes: Vec<u8>,
}

impl Block {
    /// A new block of `len` bytes, filled with its pattern.
    fn new(thread: u64, id: u32, len: usize) -> Self {
        let mut bytes = Vec::with_capacity(len);
        bytes.extend((0..len).map(|at| pattern(thread, id, at)));
        Self { id, bytes }
    }

    /// Whether every byte still holds the pattern.
    fn intact(&self, thread: u64) -> bool {
        self.bytes
            .iter()
            .enumerate()
            .all(|(at, &byte)| byte == pattern(thread, self.id, at))
    }

    /// Reallocates to `len` bytes; a grown tail is filled with the pattern.
    fn resize(&mut self, thread: u64, len: usize) {
        let kept = self.bytes.len().min(len);
        self.bytes.truncate(kept);
        self.bytes.shrink_to_fit();
        self.bytes
            .extend((kept..len).map(|at| pattern(thread, self.id, at)));
    }
}

/// The byte at offset `at` of block `id` of `thread`.
fn pattern(thread: u64, id: u32, at: usize) -> u8 {
    (thread as u8 ^ 0xA5)
        .wrapping_mul(31)
        .wrapping_add((id as u8).wrapping_mul(17))
        .wrapping_add(at as u8)
        ^ (at >> 8) as u8
}

/// A thread's body: the slot loop, the map and the strings. Frees everything before returning.
fn churn(thread: u64) -> Report {
    let mut random = XorShift::new(thread);
    let mut slots: Vec<Option<Block>> = (0..SLOTS).map(|_| None).collect();
    let mut map = BTreeMap::new();
    let mut report = Report {
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

/// A block size from random bits: mostly small, some medium, a few large (1 B to 32 KiB).
fn size_for(bits: u64) -> usize {
    let bits = bits as usize;
    match bits % 20 {
        0 => 4096 + (bits >> 5) % (28 * 1024),
        1..=5 => 256 + (bits >> 5) % 3840,
        _ => 1 + (bits >> 5) % 255,
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
