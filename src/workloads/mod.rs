//! The workloads: ordinary `alloc` code — `Vec`, `BTreeMap`, `String`, `format!` — running on
//! whichever allocator is installed, each checking its own results.
//!
//! A workload knows nothing about allocators: it allocates through the global allocator the way
//! any Rust program does. What makes it a test of the allocator is that it verifies everything it
//! computed (a corrupted block shows up as a wrong sum, a missing key, a garbled string) and that
//! it drops everything it made, so the caller can check that the heap returns to where it started.

mod btree_map;
mod failure;
mod fragmentation;
mod realloc;
mod strings;
mod threads;
mod vec;

use core::fmt;

use crate::selection::Named;

/// One workload the command line can choose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// Grows a `Vec` by pushing, sums it, shrinks it.
    Vec,
    /// Inserts, looks up and removes keys of a `BTreeMap<u32, String>`.
    BTreeMap,
    /// Builds and parses strings with `format!`.
    Strings,
    /// Punches holes in the heap, then asks for blocks that do and do not fit them.
    Fragmentation,
    /// Resizes buffers at random, checking their contents.
    Realloc,
    /// Four threads allocating and freeing through the global allocator at once.
    Threads,
    /// Panics on purpose, to show the panic path.
    Panic,
    /// Asks for more memory than there is, to show the allocation-failure path.
    OutOfMemory,
}

impl Named for Workload {
    const ALL: &'static [Self] = &[
        Self::Vec,
        Self::BTreeMap,
        Self::Strings,
        Self::Fragmentation,
        Self::Realloc,
        Self::Threads,
        Self::Panic,
        Self::OutOfMemory,
    ];

    fn name(self) -> &'static str {
        match self {
            Self::Vec => "vec",
            Self::BTreeMap => "btreemap",
            Self::Strings => "strings",
            Self::Fragmentation => "fragment",
            Self::Realloc => "realloc",
            Self::Threads => "threads",
            Self::Panic => "panic",
            Self::OutOfMemory => "oom",
        }
    }

    fn summary(self) -> &'static str {
        match self {
            Self::Vec => "push 200,000 u64 into a Vec, sum, shrink, sum again",
            Self::BTreeMap => "20,000 inserts, lookups and removals in a BTreeMap<u32, String>",
            Self::Strings => "build a 10,000-number CSV line with format!, parse it back",
            Self::Fragmentation => "punch 400 holes, then fill them: pictures of the heap",
            Self::Realloc => "resize 64 buffers 10,000 times, checking every byte",
            Self::Threads => "4 clone(2) threads churn the heap at once, each checking its blocks",
            Self::Panic => "panic on purpose: message on stderr, exit 101",
            Self::OutOfMemory => "request 64 TiB: allocation failure, exit 101",
        }
    }

    fn runs_by_default(self) -> bool {
        !matches!(self, Self::Panic | Self::OutOfMemory)
    }
}

impl Workload {
    /// Runs the workload, recording each verified fact in `checks`.
    pub fn run(self, checks: &mut Checks) {
        match self {
            Self::Vec => vec::run(checks),
            Self::BTreeMap => btree_map::run(checks),
            Self::Strings => strings::run(checks),
            Self::Fragmentation => fragmentation::run(checks),
            Self::Realloc => realloc::run(checks),
            Self::Threads => threads::run(checks),
            Self::Panic => failure::panic_on_purpose(),
            Self::OutOfMemory => failure::exhaust_memory(),
        }
    }
}

/// The tally of a run's checks; each check is printed as it is made.
#[derive(Debug, Default, Clone, Copy)]
pub struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    /// Records whether `claim` held, printing it with `ok` or `FAIL`.
    pub fn expect(&mut self, held: bool, claim: fmt::Arguments<'_>) {
        if held {
            self.passed += 1;
        } else {
            self.failed += 1;
        }
        crate::println!("    {} {claim}", if held { "ok  " } else { "FAIL" });
    }

    /// How many checks held.
    pub fn passed(&self) -> u32 {
        self.passed
    }

    /// How many checks failed.
    pub fn failed(&self) -> u32 {
        self.failed
    }

    /// How many checks were made.
    pub fn made(&self) -> u32 {
        self.passed + self.failed
    }
}
