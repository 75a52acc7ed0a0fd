//! `size-report`: the driver of the size benchmarks (`make size`, `make size-check`).
//!
//! ```text
//! size-report [all]            every Cortex-M build at opt-levels s and z (sections, a run
//!                              under qemu-system-arm), every wasm size module (bytes after
//!                              wasm-opt -Oz), a second build of each wasm module with the
//!                              `bench` feature and the Node.js speed run of those; the tables
//!                              go to stdout, into BENCHMARKS.md between <!-- size:begin -->
//!                              and <!-- size:end -->, and the raw numbers to
//!                              size/results.json
//! size-report check            the bareheap builds and the baselines only (Cortex-M at "z",
//!                              the wasm size modules: no `bench` feature), held to
//!                              size/budgets.txt: exit status 1 over a budget
//! size-report write-budgets    measures as `check` does and rewrites size/budgets.txt with
//!                              each net size + 1 %
//! options: --root DIR          the repository (default: where this crate was built from)
//! ```
//!
//! Needs cargo with the `thumbv7m-none-eabi` and `wasm32-unknown-unknown` targets, and
//! `qemu-system-arm`, `wasm-opt` (binaryen) and `node` (`check` needs only `wasm-opt`); the
//! Makefile checks for them first. Exit status: 0 when everything measured and passed; 1 when a
//! bareheap or baseline build failed, a firmware run failed, a module returned a wrong
//! checksum, or (`check`) a budget was exceeded; 2 on bad usage or files. A peer that does not
//! build is recorded in the tables, not a failure.

mod budgets;
mod configs;
mod elf;
mod exec;
mod info;
mod json;
mod measure;
mod output;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use std::{env, fs};

use budgets::Measured;
use configs::{Config, Kind};
use measure::{CortexBuild, Paths, Qemu, WasmBuild, WasmVariant};

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    All,
    Check,
    WriteBudgets,
}

fn main() -> ExitCode {
    let mut mode = Mode::All;
    let mut root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut args = env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "all" => mode = Mode::All,
            "check" => mode = Mode::Check,
            "write-budgets" => mode = Mode::WriteBudgets,
            "--root" => match args.next() {
                Some(dir) => root = PathBuf::from(dir),
                None => return usage("--root needs a directory"),
            },
            "-h" | "--help" => {
                println!("usage: size-report [all | check | write-budgets] [--root DIR]");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    let root = root.canonicalize().unwrap_or(root);
    if !root.join("size/budgets.txt").exists() && mode == Mode::Check {
        eprintln!("size-report: {} has no size/budgets.txt", root.display());
        return ExitCode::from(2);
    }
    let paths = Paths::new(root);
    match mode {
        Mode::All => all(&paths),
        Mode::Check | Mode::WriteBudgets => check(&paths, mode == Mode::WriteBudgets),
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "size-report: {problem}\nusage: size-report [all | check | write-budgets] [--root DIR]"
    );
    ExitCode::from(2)
}

/// `make size`: everything, written to BENCHMARKS.md and size/results.json.
fn all(paths: &Paths) -> ExitCode {
    let started = Instant::now();
    let tools = tool_versions(paths);
    for (_, version) in &tools {
        println!("== {version}");
    }
    let cortex = build_cortex_m(
        paths,
        &configs::CORTEX_M,
        &configs::CORTEX_M_OPT_LEVELS,
        true,
    );
    let mut wasm = build_wasm(paths, &configs::WASM);
    build_wasm_bench(paths, &mut wasm);
    println!("== timing the speed builds under Node.js (size/wasm/bench.mjs)");
    let bench_started = Instant::now();
    let mut speed = measure::bench(paths, &wasm);
    if let Ok(speeds) = &mut speed {
        measure::verify_checksums(speeds);
    }
    println!("   {:.0} s", bench_started.elapsed().as_secs_f64());
    let results = output::Results {
        date: info::now_utc(),
        machine: info::machine(),
        tools,
        cortex,
        wasm,
        speed,
        versions: locked_versions(paths),
        seconds: started.elapsed().as_secs_f64(),
    };
    let block = output::markdown(&results);
    println!("\n{block}");
    let benchmarks = paths.root.join("BENCHMARKS.md");
    let document = fs::read_to_string(&benchmarks).unwrap_or_default();
    let written = output::splice(&document, &block)
        .and_then(|text| fs::write(&benchmarks, text).map_err(|e| e.to_string()));
    if let Err(error) = written {
        eprintln!("size-report: {}: {error}", benchmarks.display());
        return ExitCode::from(2);
    }
    let json_path = paths.size.join("results.json");
    if let Err(error) = fs::write(&json_path, output::json(&results).to_pretty()) {
        eprintln!("size-report: {}: {error}", json_path.display());
        return ExitCode::from(2);
    }
    println!(
        "== wrote the block of {} and {} ({:.0} s in all)",
        benchmarks.display(),
        json_path.display(),
        started.elapsed().as_secs_f64()
    );
    let failures = failures(&results);
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in &failures {
            println!("== FAILED: {failure}");
        }
        ExitCode::FAILURE
    }
}

/// What makes `make size` fail: a bareheap or baseline build that did not build (a size build,
/// or a bareheap speed build), any firmware run that failed, any module that trapped or
/// returned a wrong checksum.
fn failures(results: &output::Results) -> Vec<String> {
    let must_build =
        |config: &Config| config.kind == Kind::Baseline || config.package == Some("bareheap");
    let mut failures = Vec::new();
    for build in &results.cortex {
        if let (Err(error), true) = (&build.sections, must_build(&build.config)) {
            failures.push(format!(
                "cortex-m {} {}: {error}",
                build.opt_level, build.config.feature
            ));
        }
        if let Qemu::Failed(why) = &build.qemu {
            failures.push(format!(
                "cortex-m {} {} under qemu: {why}",
                build.opt_level, build.config.feature
            ));
        }
    }
    for build in &results.wasm {
        if let (Err(error), true) = (&build.sizes, must_build(&build.config)) {
            failures.push(format!("wasm {}: {error}", build.config.feature));
        }
        if let (Some(Err(error)), true) = (&build.bench, must_build(&build.config)) {
            failures.push(format!(
                "wasm {} (speed build, `bench` feature): {error}",
                build.config.feature
            ));
        }
    }
    match &results.speed {
        Ok(speeds) => {
            for speed in speeds {
                if let Err(error) = &speed.result {
                    failures.push(format!(
                        "wasm speed {} M={}: {error}",
                        speed.allocator, speed.max
                    ));
                }
            }
        }
        Err(error) => failures.push(format!("wasm speed: {error}")),
    }
    failures
}

/// `make size-check` (or, with `write`, rewriting the budgets): the bareheap builds and the
/// baselines, Cortex-M at "z" and the wasm size modules (no `bench` feature, no speed builds).
fn check(paths: &Paths, write: bool) -> ExitCode {
    let started = Instant::now();
    let budgets_path = paths.size.join("budgets.txt");
    let budgets = if write {
        Vec::new()
    } else {
        let text = match fs::read_to_string(&budgets_path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("size-report: {}: {error}", budgets_path.display());
                return ExitCode::from(2);
            }
        };
        match budgets::parse(&text) {
            Ok(budgets) => budgets,
            Err(error) => {
                eprintln!("size-report: {error}");
                return ExitCode::from(2);
            }
        }
    };
    let budgeted = |configs: &[Config]| -> Vec<Config> {
        configs.iter().copied().filter(|c| c.budgeted).collect()
    };
    let cortex = build_cortex_m(paths, &budgeted(&configs::CORTEX_M), &["z"], false);
    let wasm = build_wasm(paths, &budgeted(&configs::WASM));
    let mut broken = Vec::new();
    for build in &cortex {
        if let Err(error) = &build.sections {
            broken.push(format!("cortex-m z {}: {error}", build.config.feature));
        }
    }
    for build in &wasm {
        if let Err(error) = &build.sizes {
            broken.push(format!("wasm {}: {error}", build.config.feature));
        }
    }
    let measured = net_sizes(&cortex, &wasm);
    if write {
        let header = budgets_header(&info::now_utc());
        let text = budgets::render(&measured, &header);
        if let Err(error) = fs::write(&budgets_path, text) {
            eprintln!("size-report: {}: {error}", budgets_path.display());
            return ExitCode::from(2);
        }
        println!(
            "== wrote {} ({} limits: each net size + 1 %)",
            budgets_path.display(),
            measured.len()
        );
    } else {
        println!("\n| target | allocator | metric | net bytes | budget | |");
        println!("|---|---|---|--:|--:|---|");
        let verdicts = budgets::check(&budgets, &measured);
        for verdict in &verdicts {
            let b = &verdict.budget;
            let (net, status) = match verdict.net {
                Some(net) if net <= b.limit => (net.to_string(), "ok"),
                Some(net) => (net.to_string(), "OVER BUDGET"),
                None => ("–".to_string(), "NOT MEASURED"),
            };
            println!(
                "| {} | {} | {} | {net} | {} | {status} |",
                b.target, b.allocator, b.metric, b.limit
            );
        }
        for m in budgets::unbudgeted(&budgets, &measured) {
            println!(
                "(no budget for {} {} {}: {} bytes)",
                m.target, m.allocator, m.metric, m.net
            );
        }
        for verdict in verdicts.iter().filter(|v| !v.passed()) {
            let b = &verdict.budget;
            broken.push(match verdict.net {
                Some(net) => format!(
                    "{} {} {}: {net} bytes, over the budget of {} (size/budgets.txt)",
                    b.target, b.allocator, b.metric, b.limit
                ),
                None => format!(
                    "{} {} {}: in size/budgets.txt but not measured",
                    b.target, b.allocator, b.metric
                ),
            });
        }
    }
    println!("== {:.0} s", started.elapsed().as_secs_f64());
    if broken.is_empty() {
        if !write {
            println!("== every bareheap build is within its budget");
        }
        ExitCode::SUCCESS
    } else {
        for problem in &broken {
            println!("== FAILED: {problem}");
        }
        ExitCode::FAILURE
    }
}

/// The header of a freshly written budgets file.
fn budgets_header(date: &str) -> String {
    format!(
        "# Size budgets, checked by `make size-check`: the largest net size, in bytes, that each\n\
         # bareheap build may have (net = the build's size minus its baseline's: the `null`\n\
         # firmware on Cortex-M, the `none` module on wasm, whose allocators always fail behind\n\
         # `core::hint::black_box`; see BENCHMARKS.md's size section).\n\
         #\n\
         #   <target> <allocator> <metric> <bytes>\n\
         #\n\
         # cortex-m-z: the firmware of size/cortex-m at opt-level \"z\"; metrics text, rodata,\n\
         #   data and bss (section sizes; net bss includes the 16384-byte heap buffer).\n\
         # wasm: the module of size/wasm without the `bench` feature (it exports alloc, dealloc\n\
         #   and realloc only) after `wasm-opt -Oz`; metric bytes.\n\
         #\n\
         # Set from the sizes measured on {date}, plus 1 %. Lower a limit when the code\n\
         # shrinks; `size/target/release/size-report write-budgets` rewrites this file from a\n\
         # fresh measurement (+1 %).\n"
    )
}

/// The net sizes a budget can limit: Cortex-M `text`, `data` and `bss` at each opt-level
/// built, wasm `bytes`.
fn net_sizes(cortex: &[CortexBuild], wasm: &[WasmBuild]) -> Vec<Measured> {
    let mut measured = Vec::new();
    for build in cortex {
        let baseline = cortex.iter().find(|b| {
            b.opt_level == build.opt_level && b.config.feature == configs::CORTEX_M_BASELINE
        });
        let (Ok(sections), Some(Ok(baseline))) = (&build.sections, baseline.map(|b| &b.sections))
        else {
            continue;
        };
        if build.config.kind == Kind::Baseline {
            continue;
        }
        let [text, _rodata, data, bss] = output::net_sections(*sections, *baseline);
        for (metric, net) in [("text", text), ("data", data), ("bss", bss)] {
            measured.push(Measured {
                target: format!("cortex-m-{}", build.opt_level),
                allocator: build.config.feature.to_string(),
                metric: metric.to_string(),
                net,
            });
        }
    }
    let baseline = wasm
        .iter()
        .find(|b| b.config.feature == configs::WASM_BASELINE)
        .and_then(|b| b.sizes.as_ref().ok());
    for build in wasm.iter().filter(|b| b.config.kind != Kind::Baseline) {
        if let (Ok(sizes), Some(baseline)) = (&build.sizes, baseline) {
            measured.push(Measured {
                target: "wasm".to_string(),
                allocator: build.config.feature.to_string(),
                metric: "bytes".to_string(),
                net: output::net(sizes.optimized, baseline.optimized),
            });
        }
    }
    measured
}

/// Builds the firmware of each configuration at each opt-level, printing a line for each;
/// with `run`, runs every build but the baseline under QEMU.
fn build_cortex_m(
    paths: &Paths,
    configs: &[Config],
    opt_levels: &[&'static str],
    run: bool,
) -> Vec<CortexBuild> {
    let mut builds = Vec::new();
    for &opt_level in opt_levels {
        for &config in configs {
            let started = Instant::now();
            let mut build = measure::build_cortex_m(paths, config, opt_level);
            build.qemu = if build.sections.is_err() {
                Qemu::NotRun("did not build")
            } else if config.kind == Kind::Baseline {
                Qemu::NotRun("the baseline has no memory to allocate from")
            } else if run {
                measure::run_qemu(&measure::cortex_m_elf(paths, config, opt_level))
            } else {
                Qemu::NotRun("size-check does not run the firmware")
            };
            let what = match (&build.sections, &build.qemu) {
                (Err(error), _) => format!("build FAILED: {error}"),
                (Ok(s), qemu) => format!(
                    ".text {} .rodata {} .data {} .bss {}; qemu {}{}",
                    s.text,
                    s.rodata,
                    s.data,
                    s.bss,
                    qemu.word(),
                    match qemu {
                        Qemu::Failed(why) => format!(": {why}"),
                        _ => String::new(),
                    }
                ),
            };
            println!(
                "== cortex-m opt-level {opt_level} {:<22} {what} ({:.1} s)",
                config.feature,
                started.elapsed().as_secs_f64()
            );
            builds.push(build);
        }
    }
    builds
}

/// Builds and optimises the size module of each configuration (no `bench` feature), printing a
/// line for each.
fn build_wasm(paths: &Paths, configs: &[Config]) -> Vec<WasmBuild> {
    configs
        .iter()
        .map(|&config| {
            let started = Instant::now();
            let build = measure::build_wasm(paths, config);
            let what = match &build.sizes {
                Ok(sizes) => format!(
                    "{} bytes after wasm-opt -Oz ({} as linked)",
                    sizes.optimized, sizes.linked
                ),
                Err(error) => format!("did not build: {error}"),
            };
            println!(
                "== wasm {:<20} {what} ({:.1} s)",
                config.feature,
                started.elapsed().as_secs_f64()
            );
            build
        })
        .collect()
}

/// Builds and optimises the speed module of each configuration but the baseline (the `bench`
/// feature added: the `random_actions` export), printing a line for each.
fn build_wasm_bench(paths: &Paths, builds: &mut [WasmBuild]) {
    for build in builds
        .iter_mut()
        .filter(|b| b.config.kind != Kind::Baseline)
    {
        let started = Instant::now();
        let sizes = measure::build_wasm_module(paths, build.config, WasmVariant::Bench);
        let what = match &sizes {
            Ok(sizes) => format!(
                "{} bytes after wasm-opt -Oz ({} as linked)",
                sizes.optimized, sizes.linked
            ),
            Err(error) => format!("did not build: {error}"),
        };
        println!(
            "== wasm {:<20} speed build (+bench): {what} ({:.1} s)",
            build.config.feature,
            started.elapsed().as_secs_f64()
        );
        build.bench = Some(sizes);
    }
}

/// The tools and their versions, for the report's header.
fn tool_versions(paths: &Paths) -> Vec<(&'static str, String)> {
    let dir: &Path = &paths.size;
    vec![
        ("rustc", exec::version("rustc", &["--version"], dir)),
        ("cargo", exec::version("cargo", &["--version"], dir)),
        ("wasm-opt", exec::version("wasm-opt", &["--version"], dir)),
        (
            "node",
            format!("Node.js {}", exec::version("node", &["--version"], dir)),
        ),
        (
            "qemu",
            exec::version("qemu-system-arm", &["--version"], dir),
        ),
    ]
}

/// The locked versions of the measured packages, from the two workspaces' `Cargo.lock`.
fn locked_versions(paths: &Paths) -> Vec<(String, String)> {
    let mut versions: Vec<(String, String)> = Vec::new();
    for dir in ["cortex-m", "wasm"] {
        let lock = fs::read_to_string(paths.size.join(dir).join("Cargo.lock")).unwrap_or_default();
        for config in configs::CORTEX_M.iter().chain(&configs::WASM) {
            if let Some(package) = config.package
                && !versions.iter().any(|(name, _)| name == package)
                && let Some(version) = info::locked_version(&lock, package)
            {
                versions.push((package.to_string(), version));
            }
        }
    }
    versions
}
