//! Building and measuring: the Cortex-M firmware of each configuration at an opt-level (its
//! ELF sections, and a run under qemu-system-arm), the WebAssembly module of each
//! configuration (its bytes before and after `wasm-opt -Oz`), and the Node.js speed run of
//! the modules (`size/wasm/bench.mjs`).
//!
//! Each WebAssembly configuration is built twice: the size build (the allocator's feature
//! alone: a module that exports only `alloc`, `dealloc` and `realloc`), whose bytes are
//! measured and held to the budgets, and the speed build (with the `bench` feature as well,
//! which adds the `random_actions` export), which only the Node.js run uses; the baseline has
//! no speed build (it cannot allocate).
//!
//! Builds run one at a time, at low priority (`nice`), into the shared `size/target`; each
//! build's output is copied to `size/target/out/` under the configuration's name, so the last
//! run's files stay there to inspect:
//!
//! ```text
//!   size/target/out/cortex-m/{s,z}/<allocator>.elf
//!   size/target/out/wasm/<allocator>.wasm              (size build, as linked)
//!   size/target/out/wasm/<allocator>.opt.wasm          (size build after wasm-opt -Oz: measured)
//!   size/target/out/wasm/<allocator>.bench.wasm        (speed build, as linked)
//!   size/target/out/wasm/<allocator>.bench.opt.wasm    (speed build after wasm-opt -Oz: timed)
//! ```

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::configs::{self, Config};
use crate::elf::Sections;
use crate::exec::{self, Finished};

/// How long one cargo build may take (a cold build on a busy two-core machine is slow).
const BUILD_LIMIT: Duration = Duration::from_secs(30 * 60);

/// How long the firmware may run under QEMU (it needs well under a second).
const QEMU_LIMIT: Duration = Duration::from_secs(60);

/// How long `wasm-opt` may take on one module.
const WASM_OPT_LIMIT: Duration = Duration::from_secs(5 * 60);

/// How long the whole Node.js speed run may take.
const BENCH_LIMIT: Duration = Duration::from_secs(30 * 60);

/// The line the firmware prints when every check passed.
const FIRMWARE_PASSED: &str = "checks passed";

/// Where things are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The repository's root.
    pub root: PathBuf,
    /// `size/`.
    pub size: PathBuf,
    /// `size/target`: the build output of the three size workspaces.
    pub target: PathBuf,
    /// `size/target/out`: the measured files, by configuration.
    pub out: PathBuf,
}

impl Paths {
    /// The paths under the repository root `root`.
    pub fn new(root: PathBuf) -> Self {
        let size = root.join("size");
        let target = size.join("target");
        let out = target.join("out");
        Paths {
            root,
            size,
            target,
            out,
        }
    }
}

/// A Cortex-M build and what came of it.
#[derive(Debug, Clone)]
pub struct CortexBuild {
    /// The allocator.
    pub config: Config,
    /// `s` or `z`.
    pub opt_level: &'static str,
    /// Its sections, or why it did not build.
    pub sections: Result<Sections, String>,
    /// The run under QEMU.
    pub qemu: Qemu,
}

/// What the run under QEMU gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Qemu {
    /// Exit status 0 and the firmware's line saying that every check passed.
    Passed,
    /// Anything else, and what it printed last.
    Failed(String),
    /// Not run, and why.
    NotRun(&'static str),
}

impl Qemu {
    /// The word the tables and the JSON use.
    pub fn word(&self) -> &'static str {
        match self {
            Qemu::Passed => "passed",
            Qemu::Failed(_) => "failed",
            Qemu::NotRun(_) => "not run",
        }
    }
}

/// A WebAssembly configuration's two builds and their sizes.
#[derive(Debug, Clone)]
pub struct WasmBuild {
    /// The allocator.
    pub config: Config,
    /// The size build's module sizes (no `bench` feature), or why it did not build.
    pub sizes: Result<WasmSizes, String>,
    /// The speed build's module sizes (with `bench`), or why it did not build; `None` when it
    /// was not built (`size-check`, and the baseline).
    pub bench: Option<Result<WasmSizes, String>>,
}

/// A module's sizes in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WasmSizes {
    /// As the linker wrote it.
    pub linked: u64,
    /// After `wasm-opt -Oz`: the measured size.
    pub optimized: u64,
}

/// The cargo feature that adds the speed workload (`random_actions`) to a module.
pub const BENCH_FEATURE: &str = "bench";

/// Which of a configuration's two WebAssembly builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmVariant {
    /// Without `bench`: exports `alloc`, `dealloc` and `realloc` only; its bytes are measured.
    Size,
    /// With `bench`: also exports `random_actions`; it is timed.
    Bench,
}

impl WasmVariant {
    /// The cargo features of `config`'s build.
    pub fn features(self, config: Config) -> String {
        match self {
            WasmVariant::Size => config.feature.to_string(),
            WasmVariant::Bench => format!("{},{BENCH_FEATURE}", config.feature),
        }
    }

    /// The file name of `config`'s module: as linked, or after `wasm-opt -Oz`.
    pub fn file_name(self, config: Config, optimized: bool) -> String {
        let variant = match self {
            WasmVariant::Size => "",
            WasmVariant::Bench => ".bench",
        };
        let opt = if optimized { ".opt" } else { "" };
        format!("{}{variant}{opt}.wasm", config.feature)
    }
}

impl WasmBuild {
    /// The optimised module's path of the speed build (the timed module; the measured one is
    /// `wasm_module(paths, config, WasmVariant::Size, true)`).
    pub fn bench_module(&self, paths: &Paths) -> PathBuf {
        wasm_module(paths, self.config, WasmVariant::Bench, true)
    }
}

/// Where a module of `config` is kept: as linked, or after `wasm-opt -Oz`.
pub fn wasm_module(
    paths: &Paths,
    config: Config,
    variant: WasmVariant,
    optimized: bool,
) -> PathBuf {
    paths
        .out
        .join("wasm")
        .join(variant.file_name(config, optimized))
}

/// One random-actions measurement of one module.
#[derive(Debug, Clone, PartialEq)]
pub struct Speed {
    /// The allocator.
    pub allocator: String,
    /// The largest block size (`max`).
    pub max: u32,
    /// The median nanoseconds per action and the checksum, or what went wrong.
    pub result: Result<(f64, u32), String>,
}

/// A cargo command in `dir` for `target` with `features` (comma-separated), at low priority,
/// unaffected by the caller's `RUSTFLAGS` and target settings, writing to `size/target`.
fn cargo(paths: &Paths, dir: &str, target: &str, features: &str, opt_level: &str) -> Command {
    let mut command = exec::niced("cargo");
    command
        .current_dir(paths.size.join(dir))
        .args(["build", "--release", "--no-default-features", "--features"])
        .arg(features)
        .args(["--target", target])
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", opt_level)
        .env("CARGO_TARGET_DIR", &paths.target)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET");
    command
}

/// Runs a build, then copies `artifact` (removed first, so a failed build cannot leave an old
/// one to be measured) to `copy`.
fn build(mut command: Command, artifact: &Path, copy: &Path) -> Result<Finished, String> {
    let _ = fs::remove_file(artifact);
    let finished = exec::run(&mut command, BUILD_LIMIT)
        .map_err(|error| format!("cargo could not be started: {error}"))?;
    if !finished.success() {
        return Err(finished.failure());
    }
    if let Some(dir) = copy.parent() {
        fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    }
    fs::copy(artifact, copy).map_err(|error| format!("{}: {error}", artifact.display()))?;
    Ok(finished)
}

/// Builds the firmware with `config` at `opt_level` and reads its sections (QEMU not run yet).
pub fn build_cortex_m(paths: &Paths, config: Config, opt_level: &'static str) -> CortexBuild {
    let target = "thumbv7m-none-eabi";
    let artifact = paths.target.join(target).join("release/size-cortex-m");
    let elf = cortex_m_elf(paths, config, opt_level);
    let command = cargo(paths, "cortex-m", target, config.feature, opt_level);
    let sections = build(command, &artifact, &elf).and_then(|_| {
        let bytes = fs::read(&elf).map_err(|error| format!("{}: {error}", elf.display()))?;
        Sections::from_elf(&bytes).map_err(|error| error.to_string())
    });
    CortexBuild {
        config,
        opt_level,
        sections,
        qemu: Qemu::NotRun("not run yet"),
    }
}

/// Where the firmware of `config` at `opt_level` is kept.
pub fn cortex_m_elf(paths: &Paths, config: Config, opt_level: &str) -> PathBuf {
    paths
        .out
        .join("cortex-m")
        .join(opt_level)
        .join(format!("{}.elf", config.feature))
}

/// Runs the firmware under QEMU's LM3S6965 (Cortex-M3) with semihosting.
pub fn run_qemu(elf: &Path) -> Qemu {
    let mut command = Command::new("qemu-system-arm");
    command
        .args(["-cpu", "cortex-m3", "-machine", "lm3s6965evb", "-nographic"])
        .args(["-semihosting-config", "enable=on,target=native", "-kernel"])
        .arg(elf);
    match exec::run(&mut command, QEMU_LIMIT) {
        Ok(done) if done.success() && done.stdout.contains(FIRMWARE_PASSED) => Qemu::Passed,
        Ok(done) => Qemu::Failed(format!("{} ({})", done.failure(), done.stdout.trim())),
        Err(error) => Qemu::Failed(format!("qemu-system-arm could not be started: {error}")),
    }
}

/// Builds the size module of `config` (opt-level "z", no `bench` feature) and optimises it
/// with `wasm-opt -Oz`; the speed build is left for [`build_wasm_module`] with
/// [`WasmVariant::Bench`].
pub fn build_wasm(paths: &Paths, config: Config) -> WasmBuild {
    WasmBuild {
        config,
        sizes: build_wasm_module(paths, config, WasmVariant::Size),
        bench: None,
    }
}

/// Builds one module of `config` (opt-level "z") and optimises it with `wasm-opt -Oz`: its
/// sizes, or why it did not build.
pub fn build_wasm_module(
    paths: &Paths,
    config: Config,
    variant: WasmVariant,
) -> Result<WasmSizes, String> {
    let target = "wasm32-unknown-unknown";
    let artifact = paths.target.join(target).join("release/size_wasm.wasm");
    let linked = wasm_module(paths, config, variant, false);
    let optimized = wasm_module(paths, config, variant, true);
    let _ = fs::remove_file(&optimized);
    let command = cargo(paths, "wasm", target, &variant.features(config), "z");
    self::build(command, &artifact, &linked).and_then(|_| {
        let mut wasm_opt = exec::niced("wasm-opt");
        wasm_opt.arg("-Oz").arg("-o").arg(&optimized).arg(&linked);
        let done = exec::run(&mut wasm_opt, WASM_OPT_LIMIT)
            .map_err(|error| format!("wasm-opt could not be started: {error}"))?;
        if !done.success() {
            return Err(format!("wasm-opt: {}", done.failure()));
        }
        Ok(WasmSizes {
            linked: file_size(&linked)?,
            optimized: file_size(&optimized)?,
        })
    })
}

fn file_size(path: &Path) -> Result<u64, String> {
    fs::metadata(path)
        .map(|meta| meta.len())
        .map_err(|error| format!("{}: {error}", path.display()))
}

/// Times the speed build (`bench` feature) of every configuration that has one with
/// `size/wasm/bench.mjs` under Node.js.
///
/// # Errors
/// When node cannot be started or prints nothing readable.
pub fn bench(paths: &Paths, builds: &[WasmBuild]) -> Result<Vec<Speed>, String> {
    let maxima: Vec<String> = configs::SPEED_MAXIMA.iter().map(u32::to_string).collect();
    let mut command = Command::new("node");
    command
        .arg(paths.size.join("wasm/bench.mjs"))
        .arg("--tsv")
        .args(["--ops", &configs::SPEED_OPS.to_string()])
        .args(["--runs", &configs::SPEED_RUNS.to_string()])
        .args(["--seed", &configs::SPEED_SEED.to_string()])
        .args(["--max", &maxima.join(",")]);
    let mut modules = 0;
    for build in builds {
        if matches!(build.bench, Some(Ok(_))) && build.config.feature != configs::WASM_BASELINE {
            let module = build.bench_module(paths);
            command.arg(format!("{}={}", build.config.feature, module.display()));
            modules += 1;
        }
    }
    if modules == 0 {
        return Err("no speed build (`bench` feature) of any module".to_string());
    }
    let done = exec::run(&mut command, BENCH_LIMIT)
        .map_err(|error| format!("node could not be started: {error}"))?;
    let speeds = parse_tsv(&done.stdout);
    if speeds.is_empty() {
        return Err(format!("bench.mjs printed no results ({})", done.failure()));
    }
    Ok(speeds)
}

/// Reads bench.mjs's `--tsv` lines: `allocator`, `max`, nanoseconds per action (or `-`) and
/// the checksum (or `error: …`).
pub fn parse_tsv(text: &str) -> Vec<Speed> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let allocator = fields.next()?.to_string();
            let max = fields.next()?.parse().ok()?;
            let ns = fields.next()?;
            let checksum = fields.next()?;
            let result = match (ns.parse::<f64>(), checksum.parse::<u32>()) {
                (Ok(ns), Ok(checksum)) => Ok((ns, checksum)),
                _ => Err(checksum.trim_start_matches("error: ").to_string()),
            };
            Some(Speed {
                allocator,
                max,
                result,
            })
        })
        .collect()
}

/// Marks the measurements whose checksum is not the one every correct allocator returns
/// (`random_actions` depends only on the random sequence): the reference's (talc's arena), or
/// failing that the most common one, for each `max`; a checksum of 2^31 or more is a failed
/// check or allocation inside the module.
pub fn verify_checksums(speeds: &mut [Speed]) {
    for max in configs::SPEED_MAXIMA {
        let checksums: Vec<(String, u32)> = speeds
            .iter()
            .filter(|s| s.max == max)
            .filter_map(|s| s.result.as_ref().ok().map(|r| (s.allocator.clone(), r.1)))
            .collect();
        let expected = checksums
            .iter()
            .find(|(allocator, _)| allocator == configs::TALC_ARENA)
            .map(|(_, checksum)| *checksum)
            .or_else(|| {
                checksums
                    .iter()
                    .max_by_key(|(_, c)| checksums.iter().filter(|(_, d)| d == c).count())
                    .map(|(_, c)| *c)
            });
        for speed in speeds.iter_mut().filter(|s| s.max == max) {
            let wrong = match &speed.result {
                Ok((_, checksum)) if *checksum >= 1 << 31 => Some(if *checksum == u32::MAX {
                    "a block's bytes changed".to_string()
                } else {
                    "the allocator returned null".to_string()
                }),
                Ok((_, checksum)) if Some(*checksum) != expected => {
                    Some(format!("checksum {checksum}, expected {expected:?}"))
                }
                _ => None,
            };
            if let Some(wrong) = wrong {
                speed.result = Err(wrong);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_size_and_speed_builds_are_apart() {
        let config = configs::WASM[1];
        let size = WasmVariant::Size;
        let speed = WasmVariant::Bench;
        assert_eq!(size.features(config), config.feature);
        assert_eq!(speed.features(config), format!("{},bench", config.feature));
        let names = [
            size.file_name(config, false),
            size.file_name(config, true),
            speed.file_name(config, false),
            speed.file_name(config, true),
        ];
        assert_eq!(names[1], format!("{}.opt.wasm", config.feature));
        assert_eq!(names[3], format!("{}.bench.opt.wasm", config.feature));
        for (i, name) in names.iter().enumerate() {
            assert!(names[i + 1..].iter().all(|other| other != name));
        }
        let paths = Paths::new(PathBuf::from("/repo"));
        let build = WasmBuild {
            config,
            sizes: Err(String::new()),
            bench: None,
        };
        assert_ne!(
            wasm_module(&paths, config, size, true),
            build.bench_module(&paths)
        );
    }

    #[test]
    fn reads_tsv_and_verifies_checksums() {
        let text = "talc-arena\t200\t81.5\t1234\nx\t200\t90\t1234\ny\t200\t-\terror: RuntimeError: unreachable\nz\t200\t70\t99\nw\t200\t70\t4294967295\nnot a line\n";
        let mut speeds = parse_tsv(text);
        assert_eq!(speeds.len(), 5);
        assert_eq!(speeds[0].result, Ok((81.5, 1234)));
        assert_eq!(
            speeds[2].result,
            Err("RuntimeError: unreachable".to_string())
        );
        verify_checksums(&mut speeds);
        assert!(speeds[1].result.is_ok());
        assert!(speeds[3].result.as_ref().unwrap_err().contains("expected"));
        assert!(speeds[4].result.as_ref().unwrap_err().contains("changed"));
    }
}
