//! Running the freestanding demo binary, or another static program, from the integration
//! tests (`tests/demo.rs`, `tests/readme.rs`, `tests/nolibc.rs`): natively, or through
//! `$BAREHEAP_RUNNER` (an emulator such as `qemu-x86_64`) when it is set.

use std::path::Path;
use std::process::{Command, Output};

/// The demo binary cargo built for these tests.
pub const DEMO: &str = env!("CARGO_BIN_EXE_bareheap-demo");

/// The emulator to run the demo through, if `$BAREHEAP_RUNNER` names one.
pub fn runner() -> Option<std::ffi::OsString> {
    std::env::var_os("BAREHEAP_RUNNER").filter(|runner| !runner.is_empty())
}

/// Runs the demo with `args`, through `$BAREHEAP_RUNNER` when it is set.
pub fn demo(args: &[&str]) -> Output {
    run(Path::new(DEMO), args)
}

/// Runs `program` with `args`, through `$BAREHEAP_RUNNER` when it is set.
pub fn run(program: &Path, args: &[&str]) -> Output {
    let mut command = match runner() {
        Some(runner) => {
            let mut command = Command::new(runner);
            command.arg(program);
            command
        }
        None => Command::new(program),
    };
    command
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{} does not start: {e}", program.display()))
}
