//! The workloads. Each is a generic function over [`Subject`] plus
//! a [`Visit`] that runs it for one subject: first an untimed run that
//! checks every byte (a subject that fails it is reported FAILED and not timed), then the
//! timed repetitions.

pub mod efficiency;
pub mod latency;
pub mod pairs;
pub mod random_actions;
pub mod seed001;
pub mod threads;

use std::alloc::Layout;

use crate::check::{Block, Fill, intact};
#[cfg(doc)]
use crate::kinds::Visit;
use crate::subjects::Subject;

/// What a workload reports for a subject: a figure, or why the subject failed.
pub type Outcome<T> = Result<T, String>;

/// Frees `block` after checking its pattern; an error names what went wrong. Always inline, so
/// that a free costs every subject the same call (see `random_actions`).
#[inline(always)]
pub fn checked_free<S: Subject>(subject: &mut S, block: Block, fill: Fill) -> Outcome<()> {
    if !intact(&block, block.layout.size(), fill) {
        return Err(format!("contents of block {} damaged", block.id));
    }
    // SAFETY: `block` is live in `subject`, allocated with `block.layout`, and dropped from
    // the caller's live set.
    if unsafe { subject.dealloc(block.ptr, block.layout) } {
        Ok(())
    } else {
        Err(format!("free of block {} refused", block.id))
    }
}

/// Frees every block of `live` (checking each), untimed clean-up after a run.
pub fn free_all<S: Subject>(subject: &mut S, live: &mut Vec<Block>, fill: Fill) -> Outcome<()> {
    live.drain(..)
        .try_for_each(|b| checked_free(subject, b, fill))
}

/// The layout of a request; the workloads only build valid ones.
pub fn layout(size: usize, align: usize) -> Layout {
    Layout::from_size_align(size, align).expect("workload layouts are valid")
}
