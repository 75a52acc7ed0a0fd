//! Keeps the README's quoted demo output honest: every excerpt marked with the command that
//! printed it is compared with what that command prints now.
//!
//! In README.md, an excerpt is a ```` ```text ```` block right after a marker line:
//!
//! ```text
//!   <!-- demo: --allocator chunk --workload vec -->     the arguments, split on spaces
//!   ```text
//!   ...the excerpt...
//!   ```
//! ```
//!
//! The excerpt's lines must appear in the output as consecutive lines, in order; a line that is
//! just `...` lets the next lines start anywhere further down. What changes from run to run is
//! masked on both sides before comparing: a number followed by a time unit, the cycle count
//! before it, a thread id, and the machine's name after "cycles and times: ... on".
//!
//! Set `BAREHEAP_RUNNER` to run the demo through an emulator, as for `tests/demo.rs`.

mod common;

const README: &str = include_str!("../README.md");
const MARKER: &str = "<!-- demo:";

/// One quoted excerpt: the demo's arguments and the lines quoted.
struct Excerpt {
    args: Vec<&'static str>,
    lines: Vec<&'static str>,
    /// The README's line number of the marker, for messages.
    line_number: usize,
}

/// Every marked excerpt of the README, in order.
fn excerpts() -> Vec<Excerpt> {
    let lines: Vec<&str> = README.lines().collect();
    let mut found = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim().strip_prefix(MARKER) else {
            continue;
        };
        let args = rest
            .strip_suffix("-->")
            .unwrap_or_else(|| panic!("README.md:{}: marker without -->", index + 1))
            .split_whitespace()
            .collect();
        assert_eq!(
            lines.get(index + 1).map(|l| l.trim()),
            Some("```text"),
            "README.md:{}: a marker must be followed by a ```text block",
            index + 1
        );
        let body = lines[index + 2..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .copied()
            .collect();
        found.push(Excerpt {
            args,
            lines: body,
            line_number: index + 1,
        });
    }
    found
}

/// The demo's standard output for `args`, which must exit with status 0.
fn run_demo(args: &[&str]) -> String {
    let output = common::demo(args);
    assert!(
        output.status.success(),
        "demo {args:?}: {:?}",
        output.status
    );
    String::from_utf8(output.stdout).expect("the demo prints UTF-8")
}

fn is_number(token: &str) -> bool {
    !token.is_empty() && token.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// `line` with what varies between runs replaced by `#`, and runs of spaces collapsed (a
/// masked column may change width).
fn mask(line: &str) -> String {
    if let Some((head, _machine)) = line.split_once(" on ")
        && head.starts_with("cycles and times:")
    {
        return format!("{head} on #");
    }
    let mut tokens: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
    for i in 0..tokens.len() {
        let next = tokens.get(i + 1).map(String::as_str);
        if is_number(&tokens[i]) && matches!(next, Some("ms" | "µs" | "ns" | "s")) {
            tokens[i] = "#".to_owned();
            // In the summary, the cycle count is the column before the time.
            if i > 0 && is_number(&tokens[i - 1]) && tokens[i - 1].contains('.') {
                tokens[i - 1] = "#".to_owned();
            }
        }
        if tokens[i] == "(tid"
            && let Some(id) = tokens.get_mut(i + 1)
        {
            *id = "#):".to_owned();
        }
    }
    tokens.join(" ")
}

/// Checks that `excerpt` (masked) appears in `output` (masked), segment by segment.
fn check(excerpt: &Excerpt, output: &str) -> Result<(), String> {
    let output: Vec<String> = output.lines().map(mask).collect();
    let mut from = 0;
    for segment in excerpt.lines.split(|line| line.trim() == "...") {
        let segment: Vec<String> = segment.iter().map(|l| mask(l)).collect();
        if segment.is_empty() {
            continue;
        }
        let start = (from..output.len())
            .find(|&at| output[at..].starts_with(&segment))
            .ok_or_else(|| {
                format!(
                    "README.md:{}: `bareheap-demo {}` no longer prints:\n{}",
                    excerpt.line_number,
                    excerpt.args.join(" "),
                    segment.join("\n")
                )
            })?;
        from = start + segment.len();
    }
    Ok(())
}

#[test]
fn every_quoted_excerpt_is_what_its_command_prints() {
    let excerpts = excerpts();
    assert!(excerpts.len() >= 5, "the README quotes the demo");
    let failures: Vec<String> = excerpts
        .iter()
        .filter_map(|excerpt| check(excerpt, &run_demo(&excerpt.args)).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn masking_keeps_what_is_deterministic() {
    assert_eq!(
        mask("chunk     vec               21     5/5     2.0 MiB       2.2     1.0 ms"),
        "chunk vec 21 5/5 2.0 MiB # # ms"
    );
    assert_eq!(
        mask("    ok   thread 0 (tid 8312): 9961 blocks"),
        "ok thread 0 (tid #): 9961 blocks"
    );
    assert_eq!(
        mask("cycles and times: this run only, on Some CPU"),
        "cycles and times: this run only, on #"
    );
    assert_ne!(mask("blocks 1 live"), mask("blocks 2 live"));
}
