//! A fresh crate outside this workspace, as a reader makes one from the README (used by
//! `tests/section2.rs` and `tests/nolibc.rs`). It starts from this workspace's `Cargo.lock`
//! and builds `--offline`, so it uses the versions the workspace was tested with and needs no
//! network (the workspace's own build has fetched them).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Builds the crate written in `dir` with `cargo build --offline --quiet` and `args`, after
/// copying this workspace's `Cargo.lock` there. Returns the target directory, `dir/../target`.
/// Panics with cargo's errors, naming `what`, if the build fails.
pub fn build(dir: &Path, args: &[&str], what: &str) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    fs::copy(workspace.join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let target = dir.parent().unwrap().join("target");
    let build = Command::new(cargo)
        .args(["build", "--offline", "--quiet"])
        .args(args)
        .env("CARGO_TARGET_DIR", &target)
        .current_dir(dir)
        .output()
        .expect("cargo runs");
    assert!(
        build.status.success(),
        "{what} does not build:\n{}",
        String::from_utf8_lossy(&build.stderr)
    );
    target
}
