//! # bareheap-demo: heap allocators at work in a program with no libstd and no libc
//!
//! This binary is the tutorial's running example. It is linked without the C runtime, so
//! everything a hosted program gets for free is built here, one module per concern, in the
//! order a run goes through them:
//!
//! ```text
//!   kernel ──► start::_start      the entry point: hands the initial stack to Rust
//!          ──► process            argc, argv and the auxiliary vector, typed
//!          ──► cli                the command line: which allocators, which workloads
//!          ──► heap               the global allocator and its statistics
//!          ──► workloads          Vec, BTreeMap and String code, checking its own results
//!          ──► sys::exit_group    the exit status: did every check pass?
//!
//!   beside them: sys (the only system calls), io (print! without allocating),
//!                panic (message + exit 101), libc (memcpy & co. for core)
//! ```

#![no_std]
#![no_main]

extern crate alloc;

mod cli;
mod heap;
mod io;
mod libc;
mod panic;
mod process;
mod start;
mod sys;
mod thread;
mod units;
mod workloads;

use cli::{Command, Named, Selection, Usage};
use heap::AllocatorChoice;
use process::InitialStack;
use workloads::{Checks, Workload};

/// The exit statuses of this program (also listed in `--help` and the README).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ExitCode {
    /// Every check passed.
    Success = 0,
    /// At least one check failed.
    CheckFailed = 1,
    /// The command line was not understood.
    Usage = 2,
    /// The program panicked, or an allocation failed.
    Panic = 101,
}

/// The program proper, called by `start::rust_start`; returns the exit status.
fn main(stack: &InitialStack) -> u8 {
    let code = match cli::parse(stack.args().skip(1)) {
        Ok(Command::Help) => {
            println!("{Usage}");
            ExitCode::Success
        }
        Ok(Command::Run {
            allocators,
            workloads,
        }) => run(stack, allocators, workloads),
        Err(error) => {
            eprintln!("bareheap-demo: {error}\n\n{Usage}");
            ExitCode::Usage
        }
    };
    code as u8
}

/// Runs every chosen workload on every chosen allocator and prints the tally.
fn run(
    stack: &InitialStack,
    allocators: Selection<AllocatorChoice>,
    workloads: Selection<Workload>,
) -> ExitCode {
    match stack.page_size() {
        Some(page_size) => {
            heap::init(page_size);
            println!("page size: {page_size} bytes (AT_PAGESZ)");
        }
        None => println!("page size: not given by the kernel; the mmap grower assumes 4096"),
    }
    let mut checks = Checks::default();
    for allocator in allocators.iter() {
        println!();
        println!("== {} allocator: {}", allocator.name(), allocator.summary());
        allocator.activate();
        println!("   heap before:{}", allocator.stats());
        for workload in workloads.iter() {
            run_workload(allocator, workload, &mut checks);
        }
    }
    println!();
    println!(
        "{} checks passed, {} failed",
        checks.passed(),
        checks.failed()
    );
    if checks.failed() == 0 {
        ExitCode::Success
    } else {
        ExitCode::CheckFailed
    }
}

/// Runs one workload and checks that it gave back every byte it took.
fn run_workload(allocator: AllocatorChoice, workload: Workload, checks: &mut Checks) {
    println!();
    println!("-- {}: {}", workload.name(), workload.summary());
    let before = allocator.stats();
    workload.run(checks);
    let after = allocator.stats();
    checks.expect(
        after.bytes_in_use() == before.bytes_in_use(),
        format_args!(
            "every block freed: {} bytes in use before and after",
            after.bytes_in_use()
        ),
    );
    println!("   heap after:{after}");
}
