//! The run: which sections (workload configurations) exist, how one is measured for one
//! subject (in a child process), and how each becomes a section of BENCHMARKS.md.
//!
//! ```text
//!   parent: for each section, for each subject ──spawn──► child: measure(section, subject)
//!           ◄── "ok 41.3" / "failed why" lines ──────────  (a crash = FAILED: crashed)
//! ```

use std::process::Command;

use crate::Results;
use crate::arena::Arena;
use crate::chart;
use crate::instructions;
use crate::kinds::{GENERAL, Kind, dispatch};
use crate::report::{self, Cell, Report};
use crate::timer;
use crate::workloads::random_actions::AlignMix;
use crate::workloads::threads::ThreadMix;
use crate::workloads::{efficiency, latency, pairs, random_actions, seed001, threads};

/// Sizes and counts of one run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// `--quick`: a tenth of the work.
    pub quick: bool,
    random_ops: usize,
    reps: usize,
    efficiency_seeds: usize,
    latency_rounds: usize,
    seed_arena: usize,
    seed_allocs: usize,
    thread_ops: usize,
    pairs: usize,
}

const MIB: usize = 1 << 20;
const MAX_SIZES: [usize; 5] = [200, 1000, 3000, 10_000, 30_000];
const RANDOM_ARENA: usize = 32 * MIB;
const EFFICIENCY_ARENA: usize = 16 * MIB;
const LATENCY_ARENA: usize = 8 * MIB;
/// Live blocks besides the timed one in the alloc+free pairs.
const PAIR_PREFILL: usize = 32;
/// Actions of the run whose instructions callgrind counts.
pub const COUNT_OPS: usize = 20_000;

impl Config {
    /// `make bench`.
    pub const FULL: Self = Self {
        quick: false,
        random_ops: 200_000,
        reps: 5,
        efficiency_seeds: 5,
        latency_rounds: 20_000,
        seed_arena: 160 * MIB,
        seed_allocs: 100_000,
        thread_ops: 200_000,
        pairs: 1_000_000,
    };

    /// Actions of one thread-scaling run of `mix`, all threads together: on small requests,
    /// five times the threads section's, so that a run lasts tens of milliseconds even at one
    /// thread; on the application's mix, whose actions cost far more, as many as the threads
    /// section's.
    const fn scaling_ops(&self, mix: ThreadMix) -> usize {
        match mix {
            ThreadMix::Small => self.thread_ops * 5,
            ThreadMix::Application => self.thread_ops,
        }
    }

    /// `make bench ARGS=--quick`: the same workloads, about a tenth of the work.
    pub const QUICK: Self = Self {
        quick: true,
        random_ops: 20_000,
        reps: 3,
        efficiency_seeds: 2,
        latency_rounds: 2_000,
        seed_arena: 16 * MIB,
        seed_allocs: 10_000,
        thread_ops: 20_000,
        pairs: 100_000,
    };
}

/// One workload configuration, measured for one subject at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Section {
    /// Random actions at every `M`, with or without realloc.
    Random {
        /// Whether one action in seven is a realloc.
        realloc: bool,
        /// The alignments requested.
        mix: AlignMix,
    },
    /// One untimed run of random actions at `max`, for callgrind to count instructions.
    Count {
        /// The `M` of the sizes.
        max: usize,
        /// Whether one action in seven is a realloc.
        realloc: bool,
        /// The alignments requested.
        mix: AlignMix,
    },
    /// The counted run's set-up alone (the arena and the subject, no action), for callgrind:
    /// what a count holds besides the actions.
    CountSetup,
    /// Heap efficiency.
    Efficiency,
    /// Latency percentiles (given the empty measurement's cycles).
    Latency {
        /// Cycles to subtract per batch.
        overhead: u64,
    },
    /// Seed 001's workload.
    Seed,
    /// Threads on one lock: 1, 2 and 16 behind a spin lock, 16 behind a futex lock.
    Threads,
    /// Thread scaling: 1, 2, 4 and 16 threads, each subject behind its natural lock.
    Scaling {
        /// What the threads ask for.
        mix: ThreadMix,
    },
    /// Alloc+free pairs with this many other live blocks.
    Pairs {
        /// Live 64-byte blocks during the timing.
        prefill: usize,
    },
}

impl Section {
    /// The section's name on a child's command line.
    pub fn arg(self) -> String {
        match self {
            Self::Random { realloc, mix } => {
                format!("random:{}", u64::from(realloc) | u64::from(mix.code()) << 1)
            }
            Self::Count { max, realloc, mix } => format!(
                "count:{}",
                (max as u64) << 2 | u64::from(realloc) | u64::from(mix.code()) << 1
            ),
            Self::CountSetup => "count-setup".to_owned(),
            Self::Efficiency => "efficiency".to_owned(),
            Self::Latency { overhead } => format!("latency:{overhead}"),
            Self::Seed => "seed".to_owned(),
            Self::Threads => "threads".to_owned(),
            Self::Scaling { mix } => format!("scaling:{}", mix.code()),
            Self::Pairs { prefill } => format!("pairs:{prefill}"),
        }
    }

    /// The section named by [`arg`](Self::arg).
    pub fn parse(arg: &str) -> Option<Self> {
        let (name, value) = arg.split_once(':').unwrap_or((arg, "0"));
        let value: u64 = value.parse().ok()?;
        Some(match name {
            "random" => Self::Random {
                realloc: value & 1 != 0,
                mix: AlignMix::from_code(u8::try_from(value >> 1).ok()?)?,
            },
            "count" => Self::Count {
                max: usize::try_from(value >> 2).ok()?,
                realloc: value & 1 != 0,
                mix: AlignMix::from_code(u8::try_from(value >> 1 & 1).ok()?)?,
            },
            "count-setup" => Self::CountSetup,
            "efficiency" => Self::Efficiency,
            "latency" => Self::Latency { overhead: value },
            "seed" => Self::Seed,
            "threads" => Self::Threads,
            "scaling" => Self::Scaling {
                mix: ThreadMix::from_code(value)?,
            },
            "pairs" => Self::Pairs {
                prefill: usize::try_from(value).ok()?,
            },
            _ => return None,
        })
    }
}

/// One untimed run of `ops` random actions for `kind`, for callgrind to count.
fn count_run(kind: Kind, max: usize, realloc: bool, mix: AlignMix, ops: usize) -> Cell {
    let arena = Arena::new(RANDOM_ARENA);
    let params = random_actions::Params {
        max,
        realloc,
        mix,
        ops,
        seed: 0xC0DE,
    };
    dispatch(
        kind,
        &mut random_actions::CountVisitor {
            arena: &arena,
            params,
        },
    )
}

/// Measures `section` for `kind` in this process: its figures, in table order.
pub fn measure(section: Section, kind: Kind, config: &Config) -> Vec<Cell> {
    match section {
        Section::Random { realloc, mix } => {
            let arena = Arena::new(RANDOM_ARENA);
            MAX_SIZES
                .iter()
                .zip(0xA110C..)
                .map(|(&max, seed)| {
                    let params = random_actions::Params {
                        max,
                        realloc,
                        mix,
                        ops: config.random_ops,
                        seed,
                    };
                    dispatch(
                        kind,
                        &mut random_actions::Visitor {
                            arena: &arena,
                            params,
                            reps: config.reps,
                        },
                    )
                })
                .collect()
        }
        Section::Count { max, realloc, mix } => vec![count_run(kind, max, realloc, mix, COUNT_OPS)],
        Section::CountSetup => vec![count_run(kind, 1000, false, AlignMix::Rare, 0)],
        Section::Efficiency => {
            let arena = Arena::new(EFFICIENCY_ARENA);
            let seeds: Vec<u64> = (1..=config.efficiency_seeds as u64).collect();
            vec![dispatch(
                kind,
                &mut efficiency::Visitor {
                    arena: &arena,
                    seeds: &seeds,
                },
            )]
        }
        Section::Latency { overhead } => {
            let arena = Arena::new(LATENCY_ARENA);
            let visitor = &mut latency::Visitor {
                arena: &arena,
                rounds: config.latency_rounds,
                overhead,
            };
            spread(dispatch(kind, visitor).map(|l| l.figures().to_vec()), 8)
        }
        Section::Seed => {
            let arena = Arena::new(config.seed_arena);
            let visitor = &mut seed001::Visitor {
                arena: &arena,
                allocs: config.seed_allocs,
            };
            spread(dispatch(kind, visitor).map(|s| s.figures().to_vec()), 9)
        }
        Section::Threads => {
            let arena = Arena::new(RANDOM_ARENA);
            let reps = config.reps.min(3);
            threads::RUNS
                .into_iter()
                .map(|run| {
                    dispatch(
                        kind,
                        &mut threads::Visitor {
                            arena: &arena,
                            ops: config.thread_ops,
                            reps,
                            run,
                        },
                    )
                })
                .collect()
        }
        Section::Scaling { mix } => {
            let arena = Arena::new(RANDOM_ARENA);
            let ops = config.scaling_ops(mix);
            threads::scaling(kind, &arena, (ops, config.reps), mix)
        }
        Section::Pairs { prefill } => {
            let arena = Arena::new(RANDOM_ARENA);
            let visitor = &mut pairs::Visitor {
                arena: &arena,
                prefill,
                pairs: config.pairs,
                reps: config.reps,
            };
            vec![dispatch(kind, visitor)]
        }
    }
}

/// Figures, or the same failure in each of `columns` cells.
fn spread(result: Result<Vec<f64>, String>, columns: usize) -> Vec<Cell> {
    match result {
        Ok(values) => values.into_iter().map(Ok).collect(),
        Err(why) => vec![Err(why); columns],
    }
}

/// Measures `section` for `kind` in a child process, so a crash is a FAILED cell.
fn isolated(section: Section, kind: Kind, config: &Config, columns: usize) -> Vec<Cell> {
    eprintln!("  {:?}: {}", section, kind.name());
    let mut command = Command::new(std::env::current_exe().expect("own executable"));
    command.args(["--child", &section.arg(), &kind.index().to_string()]);
    if config.quick {
        command.arg("--quick");
    }
    let output = match command.output() {
        Ok(output) => output,
        Err(e) => return vec![Err(format!("could not start: {e}")); columns],
    };
    if !output.status.success() {
        return vec![Err(format!("crashed ({})", output.status)); columns];
    }
    let cells: Vec<Cell> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| match line.split_once(' ') {
            Some(("ok", value)) => value.parse::<f64>().map_err(|e| e.to_string()),
            Some((_, why)) => Err(why.to_owned()),
            None => Err(format!("unreadable output {line:?}")),
        })
        .collect();
    if cells.len() == columns {
        cells
    } else {
        vec![Err("wrong number of figures".to_owned()); columns]
    }
}

/// `section` for every subject of `kinds`.
fn rows(
    section: Section,
    kinds: &[Kind],
    config: &Config,
    columns: usize,
) -> Vec<(Kind, Vec<Cell>)> {
    kinds
        .iter()
        .map(|&kind| (kind, isolated(section, kind, config, columns)))
        .collect()
}

/// The document's opening: machine, date, command, method.
pub fn header(config: &Config) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let date = command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]);
    let rustc = command_output("rustc", &["--version"]);
    let command = if config.quick {
        "make bench ARGS=--quick"
    } else {
        "make bench"
    };
    format!(
        "# Benchmarks\n\n\
         Generated by `{command}` (the `bench/` crate, run in release mode); \
         every figure below comes from that single run. Do not edit by hand: run it again.\n\n\
         - Machine: {cpu} (`lscpu` model name), {cores} logical CPUs, a shared virtual machine\n\
         - Date: {date}\n- Compiler: {rustc}, release profile\n- Mode: {}\n\n\
         ## Method\n\n\
         Each subject is built over an arena of the same size (given per workload); the growing \
         allocators (bareheap's free list, dlmalloc) grow into that arena (bareheap's \
         `StaticGrower`, an arena source for dlmalloc), so they get no more memory than the others. \
         The system malloc ignores the arena, and the fixed pools hold their blocks inline. Every \
         subject is called through its own single-threaded API, without a lock (the threads \
         workload adds one lock, spin or futex, the same for all). bareheap's free list and pools free through \
         the path a `#[global_allocator]` user gets (`deallocate_trusted`: O(1) checks, no search \
         for the region or slab), the fair match for peers whose free trusts its caller; the rows \
         \"checked free\" use their raw, fully checked `deallocate` (every free validated), and the \
         chunk allocator always does. Every workload first runs untimed with every byte \
         of every block filled and checked (random actions), or checks the first and last 8 bytes \
         of each block before it is freed (all workloads). A subject that corrupts memory, \
         refuses a valid free or crashes is reported FAILED (each subject runs in its own child \
         process). Ratios are against talc in the same column (below 1: faster, or less, than talc).\n\n",
        if config.quick {
            "`--quick` (a tenth of the work; indicative only)"
        } else {
            "full"
        }
    )
}

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_owned(), |s| s.trim().to_owned())
}

/// Runs every section, appending its tables to `report`; the figures the targets need.
pub fn run_all(config: &Config, report: &mut Report, svg: &str) -> Results {
    let random = random_actions_section(config, report, svg);
    let instructions = instructions::section(config, report);
    let efficiency = efficiency_section(config, report);
    let tsc_overhead = timer::tsc_overhead();
    let latency = latency_section(config, report, tsc_overhead);
    let seed = seed_section(config, report, tsc_overhead);
    threads_section(config, report);
    let scaling = scaling_sections(config, report, svg);
    let pairs = pairs_section(config, report);
    memory_back_section(report);
    Results {
        random,
        instructions,
        efficiency,
        latency,
        seed,
        pairs,
        scaling,
        tsc_overhead,
    }
}

/// One table of a section: its title and its rows.
pub type Table = (String, Vec<(Kind, Vec<Cell>)>);

/// A section's rows: each subject with its figures.
type Rows = Vec<(Kind, Vec<Cell>)>;

fn random_actions_section(config: &Config, report: &mut Report, svg: &str) -> Vec<Table> {
    report.push(&format!(
        "## 1. Random actions\n\nns per action (allocator + harness; the baseline row is the harness \
         alone: a stack of 32 KiB slots), {} actions per run, median of {} runs, arena {} MiB. Sizes \
         rand(4 .. rand(16 .. M)); at least 300 live blocks. Two alignment mixes: *rare* (8 or 16, \
         1 in 128 a power of two from 32 to 4096) and *spread* (8 for 75 %, 16 for 19 %, 32 to \
         4096 for 6 %).\n\n",
        config.random_ops,
        config.reps,
        RANDOM_ARENA / MIB
    ));
    let columns: Vec<String> = MAX_SIZES.iter().map(|m| format!("M={m}")).collect();
    let mut tables = Vec::new();
    for mix in AlignMix::ALL {
        for realloc in [false, true] {
            let rows = rows(
                Section::Random { realloc, mix },
                &GENERAL,
                config,
                MAX_SIZES.len(),
            );
            let actions = if realloc {
                "3/7 alloc, 3/7 free, 1/7 realloc"
            } else {
                "1/2 alloc, 1/2 free"
            };
            let title = format!(
                "{} realloc, {} alignments",
                if realloc { "With" } else { "Without" },
                mix.name()
            );
            report.push(&format!("### {title} ({actions})\n\n"));
            report.ratio_table(&columns, &report::named(&rows), 1);
            if tables.is_empty() {
                write_chart(&rows, svg, report);
            }
            tables.push((title, rows));
        }
    }
    tables
}

fn write_chart(rows: &[(Kind, Vec<Cell>)], svg: &str, report: &mut Report) {
    let labels: Vec<String> = MAX_SIZES.iter().map(ToString::to_string).collect();
    let title = "Random actions without realloc: ns per action (lower is better)";
    chart_file(rows, &labels, title, svg, report);
}

/// Writes the line chart of `rows` to `svg` and links it from the report.
fn chart_file(
    rows: &[(Kind, Vec<Cell>)],
    labels: &[String],
    title: &str,
    svg: &str,
    report: &mut Report,
) {
    let series: Vec<chart::Series> = rows
        .iter()
        .map(|(kind, cells)| {
            (
                kind.name().to_owned(),
                cells.iter().map(|c| c.as_ref().ok().copied()).collect(),
            )
        })
        .collect();
    if let Err(e) = std::fs::write(svg, chart::line_chart(title, labels, &series)) {
        eprintln!("writing {svg}: {e}");
    }
    let file = svg.rsplit('/').next().unwrap_or(svg);
    let alt = title.split(':').next().unwrap_or(title);
    report.push(&format!("![{alt}](bench/{file})\n\n"));
}

fn efficiency_section(config: &Config, report: &mut Report) -> Vec<(Kind, Vec<Cell>)> {
    report.push(&format!(
        "## 2. Heap efficiency\n\nShare of the {} MiB arena requested by live blocks at the first failed \
         allocation (2/3 allocate rand(4 .. rand(16 .. 10000)) bytes, 1/3 free a random block), median \
         of {} seeds. Higher is better. The baseline and the system malloc have no arena to fill.\n\n",
        EFFICIENCY_ARENA / MIB,
        config.efficiency_seeds
    ));
    let kinds: Vec<Kind> = GENERAL
        .into_iter()
        .filter(|k| !matches!(k, Kind::Baseline | Kind::System))
        .collect();
    let rows = rows(Section::Efficiency, &kinds, config, 1);
    report.ratio_table(&["% in use".to_owned()], &report::named(&rows), 1);
    rows
}

fn latency_section(config: &Config, report: &mut Report, overhead: u64) -> Vec<(Kind, Vec<Cell>)> {
    report.push(&format!(
        "## 3. Latency on a half-full heap\n\nCycles (`rdtscp`) per operation: {} batches of {} \
         allocations and as many batches of {} frees of random live blocks, on a {} MiB arena filled \
         to half with random-actions blocks (M = 3000). A sample is one batch's mean after \
         subtracting the {} cycles an empty measurement reads; percentiles over all samples of the run. \
         (No baseline row: the harness is outside the timed batches.)\n\n",
        config.latency_rounds,
        latency::BATCH,
        latency::BATCH,
        LATENCY_ARENA / MIB,
        overhead
    ));
    let kinds: Vec<Kind> = GENERAL
        .into_iter()
        .filter(|k| *k != Kind::Baseline)
        .collect();
    let rows = rows(Section::Latency { overhead }, &kinds, config, 8);
    let names = ["p50", "p99", "p99.9", "max"].map(str::to_owned);
    for (title, range) in [("Allocation", 0..4), ("Free", 4..8)] {
        report.push(&format!("### {title}, cycles per operation\n\n"));
        let table: Vec<(Kind, Vec<Cell>)> = rows
            .iter()
            .map(|(k, c)| (*k, c[range.clone()].to_vec()))
            .collect();
        report.ratio_table(&names, &report::named(&table), 0);
    }
    rows
}

fn seed_section(config: &Config, report: &mut Report, overhead: u64) -> Vec<(Kind, Vec<Cell>)> {
    report.push(&format!(
        "## 4. Seed 001's workload\n\nSizes rand(64 .. 16384), alignments 2^rand(0 ..= 7); after each \
         allocation, with more than 10 live blocks and probability 1/10, the 7 oldest are freed. At most \
         {} allocations on a {} MiB arena; the run stops at the first failed allocation (the heap is \
         full). Each allocation is timed alone with `rdtscp`, as the seed did: raw cycles, including the \
         {} cycles of an empty measurement. \"≥ 90 % full\": the allocations made while live blocks \
         requested at least 90 % of the arena. Published for the original chunk allocator (256 B \
         chunks, i7-1165G7, 160 MiB): median 592, average 619, max 53578.\n\n",
        config.seed_allocs,
        config.seed_arena / MIB,
        overhead
    ));
    let columns = [
        "allocs",
        "median",
        "mean",
        "p99.9",
        "max",
        "≥ 90 %: allocs",
        "median",
        "p99.9",
        "max",
    ];
    let rows = rows(Section::Seed, &GENERAL, config, columns.len());
    report.ratio_table(&columns.map(str::to_owned), &report::named(&rows), 0);
    rows
}

fn threads_section(config: &Config, report: &mut Report) {
    report.push(&format!(
        "## 5. Threads, one locked instance\n\nns per action over all threads (wall time / all \
         actions; lower is better), {} random actions (M = 1000, no realloc) shared out among the \
         threads, each thread on its own blocks, one lock around the subject (the same for all: \
         `spin::Mutex`, or bareheap's `FutexLock`, which spins briefly and then sleeps), median \
         of {} runs after an untimed one, arena {} MiB, on this {}-CPU machine. With more threads than CPUs, a spin \
         lock's waiters spin through their time slices while the holder is descheduled.\n\n",
        config.thread_ops,
        config.reps.min(3),
        RANDOM_ARENA / MIB,
        std::thread::available_parallelism().map_or(1, usize::from),
    ));
    let columns: Vec<String> = threads::RUNS
        .iter()
        .map(|(lock, threads)| format!("{threads} × {}", lock.name()))
        .collect();
    let rows = rows(Section::Threads, &GENERAL, config, columns.len());
    report.ratio_table(&columns, &report::named(&rows), 1);
}

/// The thread-scaling sections, 5b (small requests) and 5c (an application's mix): their
/// tables and charts; their rows, and the spawn times.
fn scaling_sections(config: &Config, report: &mut Report, svg: &str) -> ScalingRows {
    report.push(&format!(
        "## 5b. Thread scaling\n\nMillions of actions per second over all threads (all actions / \
         wall time; higher is better): {} random actions (M = 1000, no realloc, so every request \
         is 2 KiB or less; the two end words of each block written and checked) shared out \
         among the threads, each thread on its own blocks, median of {} runs after an untimed \
         one, arena {} MiB, on this {}-CPU machine. The first row is the harness alone: each \
         thread pops and pushes slots on a free stack of its own, with no lock and no memory \
         shared between threads: a reference for how far the work around the allocator calls \
         scales in this run (not a ceiling: one block per 32 KiB slot crowds a few cache sets, \
         which an allocator that packs its blocks avoids). Each subject is behind its natural \
         lock: the system malloc as it is (glibc: arenas and a per-thread cache), talc and \
         rlsf behind `spin::Mutex` (what their global-allocator wrappers use), bareheap's \
         default heap behind `FutexLock`, without and with its per-thread caches (`Cached`, 16 \
         caches, a thread-local number as the index; each thread releases its cache as it \
         ends, inside the timed run).\n\n",
        config.scaling_ops(ThreadMix::Small),
        config.reps,
        RANDOM_ARENA / MIB,
        std::thread::available_parallelism().map_or(1, usize::from),
    ));
    let small = scaling_tables(ThreadMix::Small, config, report, svg);
    let spawn = spawn_table(report);
    report.push(&format!(
        "## 5c. Thread scaling, an application's mix\n\nThe subjects of 5b but the harness \
         alone, with the same thread counts and medians, on the kind of mix the issue's 8- and 16-thread measurements used (sizes up to \
         32 KiB, contents checked): {} random actions in all, one request in 16 of M = 32 KiB and \
         the rest of M = 1000, every byte of a block written when it is allocated and checked \
         when it is freed. As in a program, most of a \
         thread's time goes into using its memory, so this section shows whether an allocator \
         stays out of the threads' way (a lock that does not collapse) more than how short its \
         fast path is. (No harness-alone row here: its slots, one per 32 KiB, make writing whole \
         blocks slower than in memory an allocator packs.)\n\n",
        config.scaling_ops(ThreadMix::Application),
    ));
    let application = scaling_tables(ThreadMix::Application, config, report, svg);
    ScalingRows {
        small,
        application,
        spawn,
    }
}

/// What the thread-scaling sections measured.
pub struct ScalingRows {
    /// Section 5b: millions of actions per second at 1, 2, 4 and 16 threads.
    pub small: Rows,
    /// Section 5c: the same, on the application's mix.
    pub application: Rows,
    /// Milliseconds to spawn 64 threads: glibc, then the bareheap forms (`None`: failed).
    pub spawn: Vec<Option<f64>>,
}

/// One mix's throughput table, scaling table and chart (next to `svg`); its rows.
fn scaling_tables(mix: ThreadMix, config: &Config, report: &mut Report, svg: &str) -> Rows {
    let columns: Vec<String> = threads::SCALING_THREADS
        .iter()
        .map(|threads| format!("{threads} thread{}", if *threads == 1 { "" } else { "s" }))
        .collect();
    let rows = rows(
        Section::Scaling { mix },
        &threads::scaling_subjects(mix),
        config,
        columns.len(),
    );
    report.ratio_table(&columns, &report::named(&rows), 1);
    report.push(
        "Scaling: each subject's throughput divided by its own with one thread (above 1: the \
         threads together do more than one alone).\n\n",
    );
    let scaled: Vec<(Kind, Vec<Cell>)> = rows
        .iter()
        .map(|(kind, cells)| {
            let one = cells.first().and_then(|c| c.as_ref().ok().copied());
            let cells = cells
                .iter()
                .map(|cell| match (cell, one) {
                    (Ok(value), Some(one)) => Ok(value / one),
                    (Err(why), _) => Err(why.clone()),
                    (Ok(_), None) => Err("no one-thread figure".to_owned()),
                })
                .collect();
            (*kind, cells)
        })
        .collect();
    report.plain_table(&columns, &report::named(&scaled), 2);
    let (name, title) = match mix {
        ThreadMix::Small => (
            "thread-scaling.svg",
            "Thread scaling: millions of actions per second, all threads (higher is better)",
        ),
        ThreadMix::Application => (
            "thread-scaling-application.svg",
            "Thread scaling, an application's mix: millions of actions per second (higher is better)",
        ),
    };
    let file = std::path::Path::new(svg).with_file_name(name);
    chart_file(&rows, &columns, title, &file.to_string_lossy(), report);
    rows
}

/// The allocators of `thread-spawn`, with their names in the table.
const SPAWN_SUBJECTS: [(&str, &str); 4] = [
    ("system", "system malloc (glibc)"),
    ("heap-spin", "bareheap Heap, spin lock"),
    ("heap-futex", "bareheap Heap, `FutexLock`"),
    ("cached", "bareheap Heap + per-thread caches, `FutexLock`"),
];

/// Milliseconds to spawn and join 64 std threads with each allocator as the program's
/// `#[global_allocator]` (the `thread-spawn` helper, built next to this binary), in the order
/// of [`SPAWN_SUBJECTS`].
fn spawn_table(report: &mut Report) -> Vec<Option<f64>> {
    report.push(
        "Spawning threads: a std program with the allocator as its `#[global_allocator]` (the \
         bareheap ones over a static buffer) spawns 64 threads, each building 32 short strings \
         and a 256-number `Vec`, and joins them; median of 20 rounds, in ms. The \
         `thread-spawn` helper of `bench/`, one process per allocator.\n\n\
         | allocator | ms per 64 threads | × glibc |\n|---|---:|---:|\n",
    );
    let helper = std::env::current_exe().map(|exe| exe.with_file_name("thread-spawn"));
    let mut glibc = None;
    let mut figures = Vec::new();
    for (arg, name) in SPAWN_SUBJECTS {
        let figure = helper
            .as_ref()
            .ok()
            .and_then(|helper| Command::new(helper).arg(arg).output().ok())
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|line| line.strip_prefix("ok ")?.trim().parse::<f64>().ok());
        figures.push(figure);
        match figure {
            Some(ms) => {
                let base = *glibc.get_or_insert(ms);
                report.push(&format!("| {name} | {ms:.2} | {:.2} |\n", ms / base));
            }
            None => report.push(&format!(
                "| {name} | FAILED: no figure (is `thread-spawn` built?) | – |\n"
            )),
        }
    }
    report.push("\n");
    figures
}

fn pairs_section(config: &Config, report: &mut Report) -> Vec<(Kind, Vec<Cell>)> {
    report.push(&format!(
        "## 6. Fixed-size blocks: alloc+free pairs\n\nns per pair (allocate 64 bytes, write a word, \
         free), {} pairs, median of {} runs, with {PAIR_PREFILL} other live 64-byte blocks (last row: \
         half of the large pool's 1,048,576 blocks live).\n\n",
        config.pairs, config.reps
    ));
    let kinds: Vec<Kind> = GENERAL
        .into_iter()
        .chain([Kind::FixedSmall, Kind::FixedLarge])
        .collect();
    let mut rows = rows(
        Section::Pairs {
            prefill: PAIR_PREFILL,
        },
        &kinds,
        config,
        1,
    );
    rows.push((
        Kind::FixedLarge,
        isolated(
            Section::Pairs { prefill: 1 << 19 },
            Kind::FixedLarge,
            config,
            1,
        ),
    ));
    let mut table = report::named(&rows);
    if let Some((name, _)) = table.last_mut() {
        name.push_str(" (half full)");
    }
    report.ratio_table(&["ns per pair".to_owned()], &table, 2);
    rows
}

/// The allocators of `rss-after-free`, with their names in the table.
const RSS_SUBJECTS: [(&str, &str); 4] = [
    ("system", "system malloc (glibc)"),
    ("pools", "bareheap pools (over the free list)"),
    ("free-list", "bareheap free list"),
    ("heap", "bareheap default heap"),
];

/// Resident memory before and after a std program frees 100,000 blocks of 2,000 bytes, with
/// each allocator as its `#[global_allocator]` (the `rss-after-free` helper, built next to this
/// binary).
fn memory_back_section(report: &mut Report) {
    report.push(
        "## 7. Memory given back\n\nA std program with the allocator as its `#[global_allocator]` \
         (the bareheap ones over `MmapGrower`) allocates 100,000 blocks of 2,000 bytes, writes them, \
         and frees them all: its resident set (`/proc/self/statm`) at the peak and after the free, \
         in MiB. The `rss-after-free` helper of `bench/`, one process per allocator.\n\n\
         | allocator | peak RSS, MiB | RSS after the free, MiB |\n|---|---:|---:|\n",
    );
    let helper = std::env::current_exe().map(|exe| exe.with_file_name("rss-after-free"));
    for (arg, name) in RSS_SUBJECTS {
        let output = helper
            .as_ref()
            .ok()
            .and_then(|helper| Command::new(helper).arg(arg).output().ok());
        let line = output
            .filter(|o| o.status.success())
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .unwrap_or_default();
        let figures: Vec<&str> = line.split_whitespace().skip(1).collect();
        match figures[..] {
            [peak, after] => report.push(&format!("| {name} | {peak} | {after} |\n")),
            _ => report.push(&format!(
                "| {name} | FAILED: no figures (is `rss-after-free` built?) | – |\n"
            )),
        }
    }
    report.push("\n");
}

#[cfg(test)]
mod tests {
    use super::{Section, ThreadMix};
    use crate::workloads::random_actions::AlignMix;

    #[test]
    fn sections_round_trip_through_their_arguments() {
        for section in [
            Section::Random {
                realloc: true,
                mix: AlignMix::Spread,
            },
            Section::Count {
                max: 1000,
                realloc: true,
                mix: AlignMix::Rare,
            },
            Section::CountSetup,
            Section::Efficiency,
            Section::Latency { overhead: 42 },
            Section::Seed,
            Section::Threads,
            Section::Scaling {
                mix: ThreadMix::Small,
            },
            Section::Scaling {
                mix: ThreadMix::Application,
            },
            Section::Pairs { prefill: 32 },
        ] {
            assert_eq!(Section::parse(&section.arg()), Some(section));
        }
        assert_eq!(Section::parse("nonsense"), None);
    }
}
