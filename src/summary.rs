//! The table that ends a run: one row per allocator and workload.
//!
//! ```text
//!   allocator workload      ops  checks      peak     Mcycles       time
//!   chunk     vec            25     5/5   2.0 MiB        12.3     4.1 ms
//! ```
//!
//! Rows live in a fixed array on the stack: the table must not allocate, or it would show up in
//! the very numbers it reports.

use core::fmt;
use core::time::Duration;

use crate::clock::Elapsed;
use crate::heap::AllocatorChoice;
use crate::selection::Named;
use crate::units::{Bytes, Padded};
use crate::workloads::Workload;

/// The most rows a table holds: every allocator times every workload.
const MAX_ROWS: usize = AllocatorChoice::ALL.len() * Workload::ALL.len();

/// What one workload did on one allocator.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The allocator it ran on.
    pub allocator: AllocatorChoice,
    /// The workload.
    pub workload: Workload,
    /// Allocator calls (allocations, frees, reallocations, failures).
    pub operations: usize,
    /// Checks that held.
    pub passed: u32,
    /// Checks made.
    pub checks: u32,
    /// The most bytes live at once, as requested.
    pub peak_bytes: usize,
    /// Cycles and wall time.
    pub elapsed: Elapsed,
}

/// The summary table of a run.
pub struct Summary {
    rows: [Option<Row>; MAX_ROWS],
    len: usize,
}

impl Summary {
    /// An empty table.
    pub const fn new() -> Self {
        Self {
            rows: [None; MAX_ROWS],
            len: 0,
        }
    }

    /// Adds a row; a table already holding every combination ignores more.
    pub fn push(&mut self, row: Row) {
        if let Some(slot) = self.rows.get_mut(self.len) {
            *slot = Some(row);
            self.len += 1;
        }
    }

    fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().flatten()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<10}{:<10}{:>10}{:>8}{:>12}{:>10}{:>11}",
            "allocator", "workload", "ops", "checks", "peak", "Mcycles", "time"
        )?;
        for row in self.rows() {
            writeln!(
                f,
                "{:<10}{:<10}{:>10}{:>8}{:>12}{:>10}{:>11}",
                row.allocator.name(),
                row.workload.name(),
                row.operations,
                Padded(format_args!("{}/{}", row.passed, row.checks)),
                Padded(format_args!("{}", Bytes(row.peak_bytes))),
                Padded(format_args!("{}", Megacycles(row.elapsed.cycles))),
                Padded(format_args!("{}", Millis(row.elapsed.wall))),
            )?;
        }
        Ok(())
    }
}

/// Cycles in millions, one decimal.
struct Megacycles(u64);

impl fmt::Display for Megacycles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0 + 50_000) / 100_000;
        write!(f, "{}.{}", tenths / 10, tenths % 10)
    }
}

/// A duration in milliseconds, one decimal.
struct Millis(Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tenths = (self.0.as_micros() + 50) / 100;
        write!(f, "{}.{} ms", tenths / 10, tenths % 10)
    }
}
