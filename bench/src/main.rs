//! `make bench`: bareheap's allocators against the allocators a user would pick instead.
//!
//! Every subject runs the same workloads, with fixed seeds and operation counts, on an arena of
//! the same size; every block's contents are checked, and a subject that corrupts memory is
//! reported FAILED instead of timed. The results, tables with ratios against talc from this
//! single run, go to `BENCHMARKS.md`, and the random-actions chart to an SVG file.
//!
//! ```text
//!   main ──► workloads::* (generic over Subject) ──► kinds::dispatch ──► subjects::*
//!     │                                                                  (one adapter each)
//!     └──► report (markdown tables) + chart (SVG) + targets (met / missed)
//! ```
//!
//! Usage: `bareheap-bench [--quick] [--out BENCHMARKS.md] [--svg bench/random-actions.svg]`.
//!
//! Each (workload, subject) pair runs in a child process of this same binary
//! (`--child SECTION SUBJECT [--quick]`), which prints its figures on stdout: a subject that
//! crashes (a peer that corrupts its own metadata) is reported FAILED and the run goes on.

mod arena;
mod chart;
mod check;
mod instructions;
mod kinds;
mod report;
mod rng;
mod subjects;
mod targets;
mod timer;
mod workloads;

mod sections;

use std::time::Instant;

use kinds::Kind;
use report::{Cell, Report};
use sections::{Config, Section};

/// Everything measured in one run, for the targets: per section, each subject's figures.
pub struct Results {
    /// The four random-actions tables (without / with realloc, rare / spread alignments).
    random: Vec<sections::Table>,
    /// Instructions per action (empty without valgrind).
    instructions: Vec<(Kind, Vec<Cell>)>,
    efficiency: Vec<(Kind, Vec<Cell>)>,
    /// Latency percentiles: allocation p50, p99, p99.9, max, then the same for frees.
    latency: Vec<(Kind, Vec<Cell>)>,
    seed: Vec<(Kind, Vec<Cell>)>,
    pairs: Vec<(Kind, Vec<Cell>)>,
    /// Thread scaling (both mixes) and thread spawning.
    scaling: sections::ScalingRows,
    tsc_overhead: u64,
}

/// The command line of a whole run.
const USAGE: &str =
    "usage: bareheap-bench [--quick] [--out BENCHMARKS.md] [--svg bench/random-actions.svg]";

/// A whole run's options: quick counts, the report's path and the chart's.
struct Options {
    quick: bool,
    out: String,
    svg: String,
}

/// Reads a whole run's command line; `None` for anything it does not know (a run of several
/// minutes that ends by overwriting the report should not start on a typo).
fn parse_options(args: &[String]) -> Option<Options> {
    let mut options = Options {
        quick: false,
        out: "BENCHMARKS.md".to_owned(),
        svg: "bench/random-actions.svg".to_owned(),
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--out" => options.out = args.next()?.clone(),
            "--svg" => options.svg = args.next()?.clone(),
            _ => return None,
        }
    }
    Some(options)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--child") {
        let quick = args.iter().any(|a| a == "--quick");
        child(&args, if quick { &Config::QUICK } else { &Config::FULL });
        return;
    }
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!("{USAGE}");
        return;
    }
    let Some(Options { quick, out, svg }) = parse_options(&args) else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let config = if quick { Config::QUICK } else { Config::FULL };
    assert!(
        timer::has_rdtscp(),
        "this benchmark needs an x86_64 CPU with rdtscp"
    );
    let started = Instant::now();
    let mut report = Report::default();
    report.push(&sections::header(&config));
    let results = sections::run_all(&config, &mut report, &svg);
    report.push(&targets::section(&results));
    report.push(include_str!("../notes.md"));
    let text = report.into_text() + &size_block(&out);
    if let Err(e) = std::fs::write(&out, text) {
        eprintln!("writing {out}: {e}");
        std::process::exit(1);
    }
    eprintln!(
        "wrote {out} and {svg} in {:.0} s",
        started.elapsed().as_secs_f64()
    );
}

/// The child's side: run one section for one subject, print the figures, one per line.
fn child(args: &[String], config: &Config) {
    let section = args.get(1).and_then(|s| Section::parse(s));
    let kind = args
        .get(2)
        .and_then(|k| k.parse::<usize>().ok())
        .and_then(|i| Kind::ALL.get(i).copied());
    let (Some(section), Some(kind)) = (section, kind) else {
        eprintln!("usage: bareheap-bench --child SECTION SUBJECT-INDEX [--quick]");
        std::process::exit(2);
    };
    for cell in sections::measure(section, kind, config) {
        match cell {
            Ok(value) => println!("ok {value}"),
            Err(why) => println!("failed {}", why.replace('\n', " ")),
        }
    }
}

/// The block `make size` wrote into `out` (between its markers, markers included, with the
/// blank line before it), kept when the benchmarks rewrite the file; empty when there is none.
fn size_block(out: &str) -> String {
    const BEGIN: &str = "<!-- size:begin -->";
    const END: &str = "<!-- size:end -->";
    let old = std::fs::read_to_string(out).unwrap_or_default();
    match (old.find(BEGIN), old.find(END)) {
        (Some(begin), Some(end)) if begin < end => format!("\n{}\n", &old[begin..end + END.len()]),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Option<(bool, String, String)> {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        parse_options(&args).map(|o| (o.quick, o.out, o.svg))
    }

    #[test]
    fn the_command_line_takes_its_three_options_and_nothing_else() {
        let defaults = (
            "BENCHMARKS.md".to_owned(),
            "bench/random-actions.svg".to_owned(),
        );
        assert_eq!(
            parse(&[]),
            Some((false, defaults.0.clone(), defaults.1.clone()))
        );
        assert_eq!(
            parse(&["--svg", "c.svg", "--quick", "--out", "r.md"]),
            Some((true, "r.md".to_owned(), "c.svg".to_owned()))
        );
        assert_eq!(parse(&["--out"]), None, "an option without its value");
        assert_eq!(parse(&["--quick", "--help"]), None);
        assert_eq!(parse(&["BENCHMARKS.md"]), None);
    }
}
