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
//!          ──► run                every workload on every allocator, measured (clock)
//!              (or bench          seed 001's benchmark, cycles per allocation)
//!          ──► workloads          Vec, BTreeMap and String code, checking its own results
//!          ──► summary            the table that ends the run
//!          ──► sys::exit_group    the exit status: did every check pass?
//!
//!   beside them: selection (the Named choices and sets of them, shared by cli, heap,
//!                workloads), sys (the only system calls), io (print! without allocating),
//!                panic (message + exit 101), libc (memcpy & co. for core),
//!                thread (clone(2) threads joined with a futex), picture (heaps as text),
//!                rng (fixed-seed random numbers), units (byte counts)
//! ```

#![no_std]
#![no_main]

extern crate alloc;

mod bench;
mod cli;
mod clock;
mod heap;
mod io;
mod libc;
mod panic;
mod picture;
mod process;
mod rng;
mod run;
mod selection;
mod start;
mod summary;
mod sys;
mod thread;
mod tls;
mod units;
mod workloads;

use cli::{Command, Usage};
use process::InitialStack;

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
    /// Writing the output failed (a full disk, a closed standard output); the reason was
    /// printed on standard error.
    OutputLost = 3,
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
            placement,
        }) => {
            announce_page_size(stack);
            heap::set_placement(placement);
            run::run(allocators, workloads, placement)
        }
        Ok(Command::Bench {
            allocators,
            placement,
        }) => {
            announce_page_size(stack);
            heap::set_placement(placement);
            bench::run(allocators)
        }
        Err(error) => {
            eprintln!("bareheap-demo: {error}\n\n{Usage}");
            ExitCode::Usage
        }
    };
    code as u8
}

/// Passes the kernel's page size to the allocators that map memory, and says where it came
/// from.
fn announce_page_size(stack: &InitialStack) {
    match stack.page_size() {
        Some(page_size) => {
            heap::init(page_size);
            println!("page size: {page_size} bytes (AT_PAGESZ)");
        }
        None => println!("page size: not given by the kernel; the mmap grower assumes 4096"),
    }
}
