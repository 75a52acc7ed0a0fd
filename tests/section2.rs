//! README section 2, as a new user pastes it: a fresh crate whose `Cargo.toml` has the
//! section's dependency lines (the checkout's path in place of `/path/to/bareheap`), each
//! `rust` block of the section verbatim as one of its programs, built, and run unless the
//! block is marked `no_run`.
//!
//! ```text
//!   target/section2/crate/Cargo.toml      [package] + the section's ```toml block
//!                        src/bin/example_N.rs   the N-th ```rust block
//! ```
//!
//! The crate is built as `tests/fresh_crate` builds every crate made from the README: from
//! this workspace's `Cargo.lock`, `--offline`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

mod fresh_crate;

const README: &str = include_str!("../README.md");
const CHECKOUT_PLACEHOLDER: &str = "/path/to/bareheap";

/// A fenced block of the section: its info string (`rust`, `rust,no_run`, `toml`) and text.
struct Block {
    info: &'static str,
    text: String,
}

/// The fenced blocks of README section 2, in order.
fn section_blocks() -> Vec<Block> {
    let start = README.find("\n## 2. ").expect("README has a section 2");
    let end = start + README[start..].find("\n## 3. ").expect("and a section 3");
    let mut blocks = Vec::new();
    let mut lines = README[start..end].lines();
    while let Some(line) = lines.next() {
        let Some(info) = line.strip_prefix("```").filter(|info| !info.is_empty()) else {
            continue;
        };
        let text = lines
            .by_ref()
            .take_while(|line| line.trim_end() != "```")
            .fold(String::new(), |text, line| text + line + "\n");
        blocks.push(Block { info, text });
    }
    blocks
}

/// Writes the fresh crate and returns its directory and the names of the programs to run.
fn write_crate(blocks: &[Block]) -> (PathBuf, Vec<String>) {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = workspace.join("target/section2/crate");
    let _ = fs::remove_dir_all(dir.join("src"));
    fs::create_dir_all(dir.join("src/bin")).unwrap();
    let toml = blocks
        .iter()
        .find(|block| block.info == "toml")
        .expect("section 2 shows the Cargo.toml lines");
    let checkout = workspace.to_str().expect("a UTF-8 path");
    let manifest = format!(
        "[package]\nname = \"section2\"\nversion = \"0.1.0\"\nedition = \"2024\"\n\n[workspace]\n\n{}",
        toml.text.replace(CHECKOUT_PLACEHOLDER, checkout)
    );
    fs::write(dir.join("Cargo.toml"), manifest).unwrap();
    let mut to_run = Vec::new();
    // What rustdoc would not run is not run here either; what it would not build (`ignore`,
    // `compile_fail`), and a hidden `# ` line, which a reader does not see, have no place in a
    // section meant to be pasted.
    for block in blocks.iter().filter(|block| block.info.starts_with("rust")) {
        for refused in ["ignore", "compile_fail", "should_panic"] {
            assert!(
                !block.info.contains(refused),
                "a `{}` block in section 2",
                block.info
            );
        }
        assert!(
            !block
                .text
                .lines()
                .any(|line| line.starts_with("# ") || line == "#"),
            "a hidden line in section 2:\n{}",
            block.text
        );
    }
    let programs = blocks.iter().filter(|block| block.info.starts_with("rust"));
    for (index, block) in programs.enumerate() {
        let name = format!("example_{}", index + 1);
        fs::write(dir.join(format!("src/bin/{name}.rs")), &block.text).unwrap();
        if !block.info.contains("no_run") {
            to_run.push(name);
        }
    }
    (dir, to_run)
}

#[test]
fn every_program_of_section_2_builds_and_runs_as_pasted() {
    let blocks = section_blocks();
    let (dir, to_run) = write_crate(&blocks);
    let programs = blocks.iter().filter(|b| b.info.starts_with("rust")).count();
    assert!(
        programs >= 4,
        "section 2 has its programs ({programs} found)"
    );
    let target = fresh_crate::build(&dir, &["--bins"], "section 2's programs, as pasted,");
    for name in to_run {
        let run = Command::new(target.join("debug").join(&name))
            .output()
            .expect("the program starts");
        assert!(
            run.status.success(),
            "{name} (README section 2) failed: {}\n{}",
            run.status,
            String::from_utf8_lossy(&run.stderr)
        );
    }
}
