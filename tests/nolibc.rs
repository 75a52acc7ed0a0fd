//! README section 9's program with no libc, rebuilt from the README's own words: the complete
//! listing at the end of the section is written out as a crate, built as a static executable,
//! checked to need no dynamic loader, and run (through `$BAREHEAP_RUNNER` when it is set, as
//! `make test` does with qemu-user). Every code block of the steps before it must appear in the
//! listing, so the steps cannot drift from the program either.
//!
//! The README marks the blocks with a comment on the line before them:
//!
//! ```text
//!   <!-- nolibc: src/main.rs -->              this block is the whole file src/main.rs
//!   <!-- nolibc: draft -->                    a step's first version, replaced later
//!   <!-- nolibc: output of nolibc a b -->     what the program prints when run as `nolibc a b`
//! ```
//!
//! The crate is `target/nolibc/PROFILE/crate`, built as `tests/fresh_crate` builds every
//! crate made from the README.

use std::fs;
use std::path::Path;

#[allow(dead_code)] // this test runs its own program, not the demo
mod common;
mod elf;
mod fresh_crate;

use elf::Executable;

const README: &str = include_str!("../README.md");
const MARKER: &str = "<!-- nolibc: ";
const CHECKOUT_PLACEHOLDER: &str = "/path/to/bareheap";
const OUTPUT_MARK: &str = "output of ";

/// A fenced code block of section 9.
struct Block {
    /// What the marker line before it says, if there is one.
    mark: Option<&'static str>,
    /// The info string: `rust,ignore`, `toml`, `text`, `sh`.
    info: &'static str,
    text: String,
    /// The README's line number of the opening fence, for messages.
    line_number: usize,
}

/// The fenced blocks of README section 9, in order.
fn section_blocks() -> Vec<Block> {
    let lines: Vec<&str> = README.lines().collect();
    let start = lines
        .iter()
        .position(|line| line.starts_with("## 9. "))
        .expect("README has a section 9");
    let end = start
        + lines[start..]
            .iter()
            .position(|line| line.starts_with("## 10. "))
            .expect("and a section 10");
    let mut blocks = Vec::new();
    let mut index = start;
    while index < end {
        let Some(info) = lines[index].strip_prefix("```") else {
            index += 1;
            continue;
        };
        let mark = lines[..index]
            .iter()
            .rev()
            .find(|line| !line.trim().is_empty())
            .and_then(|line| line.trim().strip_prefix(MARKER))
            .map(|rest| rest.strip_suffix(" -->").expect("a marker ends with -->"));
        let body: Vec<&str> = lines[index + 1..]
            .iter()
            .take_while(|line| line.trim_end() != "```")
            .copied()
            .collect();
        blocks.push(Block {
            mark,
            info,
            text: body.iter().map(|line| format!("{line}\n")).collect(),
            line_number: index + 1,
        });
        index += body.len() + 2;
    }
    blocks
}

/// The listing's files: `(path in the crate, text)`.
fn listing(blocks: &[Block]) -> Vec<(&'static str, &str)> {
    blocks
        .iter()
        .filter_map(|block| Some((block.mark?, block.text.as_str())))
        .filter(|(mark, _)| *mark != "draft" && !mark.starts_with(OUTPUT_MARK))
        .collect()
}

/// True if `part`'s lines (at least one) appear in `whole` as consecutive lines.
fn contains_lines(whole: &str, part: &str) -> bool {
    let whole: Vec<&str> = whole.lines().map(str::trim_end).collect();
    let part: Vec<&str> = part.lines().map(str::trim_end).collect();
    !part.is_empty() && whole.windows(part.len()).any(|window| window == part)
}

#[test]
fn every_step_of_section_9_is_part_of_its_listing() {
    let blocks = section_blocks();
    let files = listing(&blocks);
    let paths: Vec<&str> = files.iter().map(|(path, _)| *path).collect();
    assert_eq!(
        paths,
        ["Cargo.toml", "build.rs", "src/main.rs", "src/libc.rs"],
        "the listing's files, in order"
    );
    let steps = blocks
        .iter()
        .filter(|block| block.mark.is_none())
        .filter(|block| block.info.starts_with("rust") || block.info == "toml");
    let mut checked = 0;
    for step in steps {
        assert!(
            files
                .iter()
                .any(|(_, file)| contains_lines(file, &step.text)),
            "README.md:{}: this step's code is not in the complete listing:\n{}",
            step.line_number,
            step.text
        );
        checked += 1;
    }
    assert!(
        checked >= 8,
        "section 9 shows its steps' code ({checked} blocks)"
    );
}

#[test]
fn the_listing_of_section_9_builds_a_static_program_that_prints_what_the_readme_says() {
    let blocks = section_blocks();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    // One crate per profile of this test: `make test` runs it from debug and release builds,
    // which must not rewrite each other's files if they ever run at once.
    let profile = if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    };
    let dir = workspace.join("target/nolibc").join(profile).join("crate");
    let _ = fs::remove_dir_all(dir.join("src"));
    fs::create_dir_all(dir.join("src")).unwrap();
    let checkout = workspace.to_str().expect("a UTF-8 path");
    for (path, text) in listing(&blocks) {
        let mut text = text.replace(CHECKOUT_PLACEHOLDER, checkout);
        if path == "Cargo.toml" {
            // Its own workspace, or cargo takes it for a stray member of this one.
            text.push_str("\n[workspace]\n");
        }
        fs::write(dir.join(path), text).unwrap();
    }
    let target = fresh_crate::build(&dir, &["--release"], "section 9's listing");

    let program = target.join("release/nolibc");
    let elf = Executable::read(&program);
    assert!(elf.is_fixed_address(), "linked at a fixed address, not PIE");
    assert!(!elf.asks_for_interpreter(), "no dynamic loader");
    assert!(elf.loadable_addresses().count() > 0, "segments to map");

    let expected = blocks
        .iter()
        .find_map(|block| Some((block.mark?.strip_prefix(OUTPUT_MARK)?, &block.text)))
        .expect("section 9 shows the program's output");
    let (name, args) = expected.0.split_once(' ').unwrap_or((expected.0, ""));
    assert_eq!(name, "nolibc", "the output marker names the program");
    let args: Vec<&str> = args.split_whitespace().collect();
    let run = common::run(&program, &args);
    assert_eq!(
        String::from_utf8_lossy(&run.stdout),
        *expected.1,
        "what section 9 says the program prints"
    );
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
}
