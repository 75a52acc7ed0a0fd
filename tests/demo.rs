//! Runs the freestanding `bareheap-demo` binary and checks what it prints and how it exits.
//!
//! Set `BAREHEAP_RUNNER` to run it through an emulator instead of natively, e.g.
//! `BAREHEAP_RUNNER=qemu-x86_64 cargo test --test demo` (what `make test` does for qemu-user).

use std::path::Path;
use std::process::{Command, Output};

mod common;
mod elf;

use common::{DEMO, demo, runner};
use elf::Executable;

/// Runs the demo with `args` from `sh`, after the shell commands `setup` (a `ulimit`) and with
/// the redirections `redirect` on its `exec` line, through `$BAREHEAP_RUNNER` when it is set.
fn demo_in_shell(setup: &str, redirect: &str, args: &[&str]) -> Output {
    let script = format!(r#"{setup} exec "$@" {redirect}"#);
    let mut command = Command::new("sh");
    command.args(["-c", &script, "sh"]);
    command.args(runner());
    command
        .arg(DEMO)
        .args(args)
        .output()
        .expect("sh and the demo start")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

#[test]
fn default_run_passes_every_check() {
    let output = demo(&[]);
    let out = stdout(&output);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{out}\nstderr:\n{}",
        stderr(&output)
    );
    assert!(!out.contains("FAIL"), "{out}");
    let summary = out.lines().last().expect("a summary line");
    assert!(summary.ends_with(" checks passed, 0 failed"), "{summary}");
    let passed: u32 = summary.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 45, "{summary}");
    for allocator in ["chunk", "pools", "freelist", "cached"] {
        let section = out
            .split(&format!("== {allocator} allocator:"))
            .nth(1)
            .unwrap_or_else(|| panic!("no {allocator} section in:\n{out}"));
        let section = section.split("\n== ").next().unwrap();
        for workload in [
            "vec", "btreemap", "strings", "fragment", "realloc", "threads",
        ] {
            let heading = format!("-- {workload}:");
            assert!(
                section.contains(&heading),
                "{allocator}: {workload} missing"
            );
        }
        assert_eq!(
            section.matches("ok   every block freed").count(),
            6,
            "{section}"
        );
    }
    assert!(out.contains("every block freed"), "{out}");
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
}

/// Four `clone` threads allocate through each allocator at once; each reports its own blocks.
#[test]
fn four_threads_share_each_allocator() {
    for allocator in ["chunk", "pools", "freelist", "cached"] {
        let output = demo(&["--allocator", allocator, "--workload", "threads"]);
        let out = stdout(&output);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{allocator}: stdout:\n{out}\nstderr:\n{}",
            stderr(&output)
        );
        for index in 0..4 {
            let line = out
                .lines()
                .find(|line| line.contains(&format!(" thread {index} (tid ")))
                .unwrap_or_else(|| panic!("{allocator}: no line for thread {index}:\n{out}"));
            assert!(line.starts_with("    ok   thread "), "{allocator}: {line}");
            assert!(
                line.contains(" 0 corrupt, map+strings intact"),
                "{allocator}: {line}"
            );
        }
        if allocator == "cached" {
            // Each thread had a cache of its own, and gave its blocks back as it ended.
            let caches: Vec<&str> = out
                .lines()
                .filter(|l| l.trim_start().starts_with("cache "))
                .collect();
            assert_eq!(caches.len(), 4, "{out}");
            let ends = out.matches("; 0 blocks held after its exit").count();
            assert_eq!(ends, 4, "{out}");
        }
        assert!(out.contains("ok   every block freed"), "{allocator}: {out}");
        assert!(
            // Four threads, "every block freed", and the keepsake freed at the end.
            out.ends_with("6 checks passed, 0 failed\n"),
            "{allocator}: {out}"
        );
        assert!(output.stderr.is_empty(), "{}", stderr(&output));
    }
}

#[test]
fn page_size_comes_from_the_auxiliary_vector() {
    let out = stdout(&demo(&["--workload", "vec"]));
    assert!(
        out.starts_with("page size: 4096 bytes (AT_PAGESZ)"),
        "{out}"
    );
}

#[test]
fn a_chosen_workload_runs_alone() {
    let output = demo(&["--workload=strings"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(
        out.contains("-- strings:") && !out.contains("-- vec:"),
        "{out}"
    );
}

#[test]
fn help_prints_usage_and_exits_zero() {
    for flag in ["--help", "-h"] {
        let output = demo(&[flag]);
        let out = stdout(&output);
        assert_eq!(output.status.code(), Some(0));
        assert!(out.starts_with("usage: bareheap-demo"), "{out}");
        assert!(
            out.contains("--workload LIST") && out.contains("oom"),
            "{out}"
        );
        assert!(output.stderr.is_empty());
    }
}

#[test]
fn bad_command_lines_get_usage_and_exit_two() {
    let cases: [(&[&str], &str); 4] = [
        (&["--bogus"], "unknown argument '--bogus'"),
        (&["--workload", "nope"], "unknown name 'nope'"),
        (&["--allocator=chunk,nope"], "unknown name 'nope'"),
        (&["--workload"], "'--workload' needs a value"),
    ];
    for (args, message) in cases {
        let output = demo(args);
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("bareheap-demo: {message}")),
            "{args:?}: {err}"
        );
        assert!(err.contains("usage: bareheap-demo"), "{err}");
        assert!(output.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn a_panic_prints_message_and_location_and_exits_101() {
    let output = demo(&["--workload", "vec,panic"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(101), "{err}");
    assert!(
        err.contains("panicked at src/workloads/failure.rs:"),
        "{err}"
    );
    assert!(
        err.contains("the 'panic' workload panics on purpose"),
        "{err}"
    );
    // Output printed before the panic was flushed, not lost in the buffer.
    assert!(
        stdout(&output).contains("sum of 0..200000"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn allocation_failure_names_the_size_and_exits_101() {
    let output = demo(&["--workload", "oom"]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(101), "{err}");
    assert!(
        err.contains("memory allocation of 70368744177664 bytes failed"),
        "{err}"
    );
}

/// A static executable has no INTERP header (no dynamic loader) and every loadable segment
/// starts on a page boundary.
#[test]
fn the_binary_is_static_with_page_aligned_segments() {
    let elf = Executable::read(Path::new(DEMO));
    assert!(
        elf.is_fixed_address(),
        "a fixed-address executable, not PIE"
    );
    assert!(
        !elf.asks_for_interpreter(),
        "a static binary asks for no interpreter"
    );
    let loads: Vec<u64> = elf.loadable_addresses().collect();
    for (index, address) in loads.iter().enumerate() {
        assert_eq!(address % 4096, 0, "segment {index} is page-aligned");
    }
    assert_eq!(loads.len(), 3, "text, rodata and data segments");
}

#[test]
fn a_chosen_allocator_runs_alone_and_reports_its_statistics() {
    let output = demo(&["--allocator", "pools", "--workload", "btreemap"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("== pools allocator:") && !out.contains("== chunk allocator:"));
    for row in ["slabs ", "class ", "used ", "free ", "backing "] {
        assert!(
            out.contains(&format!("     {row}")),
            "{row} missing from:\n{out}"
        );
    }
    // Five checks of the workload, its "every block freed", and the keepsake freed at the end.
    assert!(out.ends_with("7 checks passed, 0 failed\n"), "{out}");
}

#[test]
fn the_free_list_grows_through_mmap_and_gives_regions_back() {
    let output = demo(&["--allocator", "freelist", "--workload", "vec"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    let after = out
        .split("heap after:")
        .nth(1)
        .expect("a report after the workload");
    let regions = after
        .lines()
        .find_map(|line| line.trim().strip_prefix("regions"))
        .expect("a regions line");
    let counts: Vec<u32> = regions
        .split(|c: char| !c.is_ascii_digit())
        .filter(|word| !word.is_empty())
        .take(2)
        .map(|count| count.parse().unwrap())
        .collect();
    let (mapped, released) = (counts[0], counts[1]);
    assert!(
        mapped >= 2,
        "the 1.6 MiB Vec needs several regions: {regions}"
    );
    assert!(
        released >= 1,
        "emptied regions go back to the kernel: {regions}"
    );
}

#[test]
fn the_default_run_ends_with_a_summary_table() {
    let out = stdout(&demo(&[]));
    let table = out
        .split("\nallocator workload")
        .nth(1)
        .expect("a summary table after the workloads");
    for allocator in ["chunk", "pools", "freelist", "cached"] {
        for workload in [
            "vec", "btreemap", "strings", "fragment", "realloc", "threads",
        ] {
            let row = table
                .lines()
                .find(|line| line.starts_with(allocator) && line.contains(&format!(" {workload} ")))
                .unwrap_or_else(|| panic!("no row for {allocator} {workload} in:\n{table}"));
            let checks = row.split_whitespace().nth(3).unwrap();
            let (passed, made) = checks.split_once('/').expect("a passed/made column");
            assert_eq!(passed, made, "{row}");
        }
    }
    assert!(
        out.contains("survived every switch and was freed back to it"),
        "{out}"
    );
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "wider than 80 columns: {line}");
    }
}

#[test]
fn the_fragmentation_workload_draws_each_heap() {
    let out = stdout(&demo(&["--workload", "fragment"]));
    assert!(out.contains("chunk bitmap, 32768 chunks"), "{out}");
    assert!(
        out.contains("size classes: blocks in use / blocks held"),
        "{out}"
    );
    assert!(out.contains("free-list regions:"), "{out}");
    assert!(out.contains("legend: ' ' free"), "{out}");
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "wider than 80 columns: {line}");
    }
}

#[test]
fn bench_times_every_allocator() {
    let output = demo(&["bench"]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    for (allocator, phase) in [
        ("chunk", "roomy"),
        ("chunk", "nearly full"),
        ("pools", "roomy"),
        ("pools", "nearly full"),
        ("freelist", "roomy"),
        ("cached", "roomy"),
        ("cached", "nearly full"),
    ] {
        let row = out
            .lines()
            .find(|line| line.starts_with(allocator) && line.contains(phase))
            .unwrap_or_else(|| panic!("no {allocator} {phase} row in:\n{out}"));
        let figures: Vec<u64> = row[21..]
            .split_whitespace()
            .map(|figure| figure.parse().unwrap())
            .collect();
        assert_eq!(figures.len(), 8, "{row}");
        assert_eq!(figures[0], 2000, "a fixed number of attempts: {row}");
        if phase == "roomy" {
            assert_eq!(figures[1], 0, "a roomy heap serves every request: {row}");
        }
        assert!(
            figures[4] <= figures[2] && figures[2] <= figures[7],
            "min <= median <= max: {row}"
        );
    }
    let bad = demo(&["bench", "--workload", "vec"]);
    assert_eq!(bad.status.code(), Some(2));
}

/// A 1 MiB stack is enough: no frame of the program is large (the benchmark's ring of live
/// blocks is a `static`).
#[test]
fn a_one_mebibyte_stack_is_enough() {
    for args in [&["--help"][..], &["--workload", "vec,threads"], &["bench"]] {
        let output = demo_in_shell("ulimit -s 1024 &&", "", args);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{args:?}: stdout:\n{}\nstderr:\n{}",
            stdout(&output),
            stderr(&output)
        );
    }
}

/// The whole default run fits 36,000 KB of address space: the three static heaps, the free
/// list's mappings and the threads' stacks. The free list's growth step follows its heap down
/// as well as up, and a step the kernel refuses falls back to the size needed, so its threads
/// workload (which grows and shrinks the heap in turn) never fails an allocation that fits.
/// Natively only: an emulator reserves address space of its own.
#[test]
fn the_default_run_fits_a_limited_address_space() {
    if runner().is_some() {
        return;
    }
    let output = demo_in_shell("ulimit -v 36000 &&", "", &[]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "stdout:\n{}\nstderr:\n{}",
        stdout(&output),
        stderr(&output)
    );
}

/// Output that cannot be written is reported once on stderr, and the status says so: 3.
#[test]
fn lost_output_is_reported_with_exit_three() {
    for (redirect, reason) in [
        ("> /dev/full", "No space left on device"),
        (">&-", "Bad file number"),
    ] {
        let output = demo_in_shell("", redirect, &["--workload", "vec"]);
        assert_eq!(
            output.status.code(),
            Some(3),
            "{redirect}: {}",
            stderr(&output)
        );
        assert_eq!(
            stderr(&output),
            format!("bareheap-demo: write error: {reason}\n"),
            "{redirect}"
        );
    }
}

/// A repeated option adds its list to the earlier ones.
#[test]
fn a_repeated_option_adds_its_list() {
    let output = demo(&[
        "--allocator",
        "chunk",
        "--allocator=pools",
        "--workload",
        "vec",
        "--workload",
        "strings",
    ]);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(out.contains("== chunk allocator:") && out.contains("== pools allocator:"));
    assert!(!out.contains("== freelist allocator:"), "{out}");
    assert_eq!(out.matches("-- vec:").count(), 2, "{out}");
    assert_eq!(out.matches("-- strings:").count(), 2, "{out}");
    assert!(!out.contains("-- btreemap:"), "{out}");
}

/// `--placement first-fit` packs the chunk allocator: the 8 KiB blocks of the fragmentation
/// workload go into the holes, where next-fit puts them after the last block.
#[test]
fn first_fit_fills_the_holes_next_fit_passes_them() {
    let landed = |placement: &str| {
        let output = demo(&[
            "--allocator",
            "chunk",
            "--workload",
            "fragment",
            "--placement",
            placement,
        ]);
        let out = stdout(&output);
        assert_eq!(output.status.code(), Some(0), "{out}");
        let line = out
            .lines()
            .find(|line| line.contains("landed among the holes"))
            .unwrap_or_else(|| panic!("no count of blocks in holes:\n{out}"));
        line.split_whitespace()
            .nth(3)
            .unwrap()
            .parse::<u32>()
            .unwrap()
    };
    assert_eq!(landed("first-fit"), 100);
    assert!(landed("next-fit") < 10);
    let bad = demo(&["--placement", "best-fit"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("unknown name 'best-fit'"));
}
