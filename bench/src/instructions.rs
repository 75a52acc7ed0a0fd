//! Instructions per action, counted by callgrind: the stable figure on a noisy machine.
//!
//! Each subject runs the same random actions once, untimed ([`Section::Count`]), in a child
//! process under `valgrind --tool=callgrind`; the baseline subject runs the harness alone, so a
//! subject's count minus the baseline's, divided by the actions, is what its allocator executed
//! per action (allocation, free, realloc and the copies it makes, the workload's own fills and
//! checks cancelling out). The baseline's own row is its count minus that of a run with no
//! action ([`Section::CountSetup`]): the process's start and the zeroing of the 32 MiB arena
//! (twice: the zeroed allocation, then the arena's own fill) are most of a count, and belong to
//! no action.
//!
//! ```text
//!   valgrind --tool=callgrind bareheap-bench --child count:… <subject>   → Ir total
//!   (total − baseline total) / actions                                    → a subject's cell
//!   (baseline total − set-up total) / actions                             → the harness's cell
//! ```
//!
//! Skipped, with a line saying so, where valgrind is not installed.

use std::path::PathBuf;
use std::process::Command;

use crate::kinds::{GENERAL, Kind};
use crate::report::{self, Cell, Report};
use crate::sections::{COUNT_OPS, Config, Section};
use crate::workloads::random_actions::AlignMix;

/// The counted runs: (M, alignment mix), all with realloc.
const FULL_RUNS: [(usize, AlignMix); 4] = [
    (1000, AlignMix::Rare),
    (1000, AlignMix::Spread),
    (200, AlignMix::Rare),
    (30_000, AlignMix::Rare),
];

/// The subjects counted: the general ones, with the default heap's per-thread caches after
/// the heap (one thread: what the caches' own work costs on each call).
const SUBJECTS: [Kind; GENERAL.len() + 1] = {
    assert!(
        GENERAL[1] as usize == Kind::Heap as usize,
        "the caches' row follows the heap's"
    );
    let mut subjects = [Kind::HeapCached; GENERAL.len() + 1];
    let mut at = 0;
    while at < GENERAL.len() {
        // The caches' row goes right after the heap's (the second general subject).
        subjects[at + (at >= 2) as usize] = GENERAL[at];
        at += 1;
    }
    subjects
};

/// The section: a table of instructions per action, or a note that valgrind is missing.
/// Returns the rows (empty when skipped); the first column is M = 1000, rare alignments.
pub fn section(config: &Config, report: &mut Report) -> Vec<(Kind, Vec<Cell>)> {
    report.push(&format!(
        "## 1b. Instructions per action (callgrind)\n\nAllocator instructions per action: one \
         untimed run of {COUNT_OPS} random actions with realloc under `valgrind --tool=callgrind`, \
         its total minus the baseline run's (the harness alone), divided by the actions. Stable \
         to a fraction of a percent from run to run, unlike the times above. The baseline row \
         gives the harness's own instructions per action (its count less that of a run with no \
         action, which holds the process's start and the arena's zeroing). The heap with \
         per-thread caches runs on one thread here: its excess over the heap's row is the \
         caches' own work per call (the thread's index, the cache's busy flag, its magazine) \
         and their batches of refills and drains under the shared lock.\n\n"
    ));
    if !valgrind_found() {
        report.push("Skipped: `valgrind` was not found.\n\n");
        return Vec::new();
    }
    let runs = if config.quick {
        &FULL_RUNS[..1]
    } else {
        &FULL_RUNS[..]
    };
    let totals: Vec<(Kind, Vec<Result<u64, String>>)> = SUBJECTS
        .iter()
        .map(|&kind| {
            eprintln!("  callgrind: {}", kind.name());
            let counts = runs.iter().map(|&(max, mix)| {
                let realloc = true;
                count(kind, Section::Count { max, realloc, mix })
            });
            (kind, counts.collect())
        })
        .collect();
    let setup = count(Kind::Baseline, Section::CountSetup);
    let rows = net_per_action(&totals, &setup);
    let columns: Vec<String> = runs
        .iter()
        .map(|(max, mix)| format!("M={max}, {}", mix.name()))
        .collect();
    report.ratio_table(&columns, &report::named(&rows), 0);
    rows
}

/// Each subject's totals, less the baseline's, per action; the baseline's, less `setup` (the
/// count of a run with no action).
fn net_per_action(
    totals: &[(Kind, Vec<Result<u64, String>>)],
    setup: &Result<u64, String>,
) -> Vec<(Kind, Vec<Cell>)> {
    let baseline: Vec<Option<u64>> = totals
        .iter()
        .find(|(kind, _)| *kind == Kind::Baseline)
        .map(|(_, counts)| counts.iter().map(|c| c.as_ref().ok().copied()).collect())
        .unwrap_or_default();
    totals
        .iter()
        .map(|(kind, counts)| {
            let cells = counts
                .iter()
                .zip(&baseline)
                .map(|(count, base)| {
                    let count = count.clone()?;
                    let base = base.ok_or("no baseline count")?;
                    let net = if *kind == Kind::Baseline {
                        count.saturating_sub(setup.clone()?)
                    } else {
                        count.saturating_sub(base)
                    };
                    Ok(net as f64 / COUNT_OPS as f64)
                })
                .collect();
            (*kind, cells)
        })
        .collect()
}

fn valgrind_found() -> bool {
    Command::new("valgrind")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The instructions one counted run (`section`) of `kind` executes.
fn count(kind: Kind, section: Section) -> Result<u64, String> {
    let out = out_file(kind);
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let status = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(exe)
        .args(["--child", &section.arg(), &kind.index().to_string()])
        .output()
        .map_err(|e| format!("valgrind did not start: {e}"))?
        .status;
    let text = std::fs::read_to_string(&out);
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return Err(format!("crashed under callgrind ({status})"));
    }
    total_instructions(&text.map_err(|e| e.to_string())?)
        .ok_or_else(|| "no total in callgrind's output".to_owned())
}

/// A fresh path for one callgrind output file.
fn out_file(kind: Kind) -> PathBuf {
    std::env::temp_dir().join(format!(
        "bareheap-callgrind-{}-{}.out",
        std::process::id(),
        kind.index()
    ))
}

/// The `summary:` (or `totals:`) line of a callgrind output file.
fn total_instructions(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|line| {
            line.strip_prefix("summary:")
                .or_else(|| line.strip_prefix("totals:"))
        })
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_total_is_read_from_either_line() {
        assert_eq!(
            total_instructions("events: Ir\nsummary: 12345\n"),
            Some(12345)
        );
        assert_eq!(total_instructions("totals: 99 3\n"), Some(99));
        assert_eq!(total_instructions("events: Ir\n"), None);
    }

    #[test]
    fn subjects_are_counted_net_of_the_baseline_and_the_baseline_net_of_the_setup() {
        let per = |n: u64| n * COUNT_OPS as u64;
        let totals = vec![
            (Kind::Baseline, vec![Ok(per(50))]),
            (Kind::Talc, vec![Ok(per(110))]),
            (Kind::Rlsf, vec![Err("crashed".to_owned())]),
        ];
        let rows = net_per_action(&totals, &Ok(per(20)));
        assert_eq!(rows[0].1[0], Ok(30.0));
        assert_eq!(rows[1].1[0], Ok(60.0));
        assert!(rows[2].1[0].is_err());
    }
}
