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

/// The README's prose, outside code blocks, tables, headings and comments, as paragraphs (a
/// list item is a paragraph of its own).
fn prose_paragraphs() -> Vec<String> {
    let mut paragraphs = Vec::new();
    let mut current = String::new();
    let mut in_code = false;
    for line in README.lines() {
        let line = line.trim();
        let ends_paragraph = line.is_empty() || line.starts_with(['#', '|']);
        let list_item = line.starts_with("- ")
            || line.starts_with("* ")
            || line
                .split_once(". ")
                .is_some_and(|(n, _)| n.parse::<u32>().is_ok());
        if line.starts_with("```") {
            in_code = !in_code;
        }
        if line.starts_with("```") || ends_paragraph || list_item {
            paragraphs.push(std::mem::take(&mut current));
        }
        if in_code || line.starts_with("```") || line.starts_with("<!--") || ends_paragraph {
            continue;
        }
        let text = if list_item {
            line.split_once(' ').map_or("", |(_, rest)| rest)
        } else {
            line
        };
        current.push(' ');
        current.push_str(text);
    }
    paragraphs.push(current);
    paragraphs.retain(|p| !p.trim().is_empty());
    paragraphs
}

/// The sentences of a paragraph, as word lists. A sentence ends with `.`, `!` or `?` right
/// before a word that starts with a capital letter: strict, since a sentence that starts with a
/// `code span` or a digit is counted with the one before it.
fn sentences(paragraph: &str) -> Vec<Vec<&str>> {
    let words: Vec<&str> = paragraph.split_whitespace().collect();
    let mut found = vec![Vec::new()];
    for (index, word) in words.iter().enumerate() {
        found.last_mut().unwrap().push(*word);
        let next_is_capital = words
            .get(index + 1)
            .is_some_and(|next| next.starts_with(|c: char| c.is_ascii_uppercase()));
        if word.ends_with(['.', '!', '?']) && next_is_capital {
            found.push(Vec::new());
        }
    }
    found.retain(|sentence| sentence.len() >= 3);
    found
}

/// A tutorial reads best in short sentences: on average at most 22 words, none over 50 (code
/// spans count their words).
#[test]
fn the_prose_is_short_sentences() {
    let paragraphs = prose_paragraphs();
    let all: Vec<Vec<&str>> = paragraphs.iter().flat_map(|p| sentences(p)).collect();
    let words: usize = all.iter().map(Vec::len).sum();
    let mean = words as f64 / all.len() as f64;
    assert!(
        all.len() > 300,
        "the README has its prose ({} sentences)",
        all.len()
    );
    assert!(mean <= 22.0, "sentences average {mean:.1} words");
    let long: Vec<String> = all
        .iter()
        .filter(|sentence| sentence.len() > 50)
        .map(|sentence| format!("({} words) {}", sentence.len(), sentence.join(" ")))
        .collect();
    assert!(
        long.is_empty(),
        "sentences over 50 words:\n{}",
        long.join("\n")
    );
}

#[test]
fn sentences_end_before_a_capital() {
    assert_eq!(
        sentences("One two three. Four five six. `seven` eight nine ten.").len(),
        2
    );
    assert_eq!(sentences("See 4.2 for one. Two words").len(), 1);
}

const BENCHMARKS: &str = include_str!("../BENCHMARKS.md");
const FIGURES_MARKER: &str = "<!-- figures: BENCHMARKS.md -->";

/// The numbers in `text`: runs of digits, `.` and `,`, without the thousands commas.
fn numbers(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map(|token| token.trim_matches(['.', ',']).replace(',', ""))
        .filter(|token| token.contains(|c: char| c.is_ascii_digit()))
}

/// Every figure of a README table marked as coming from BENCHMARKS.md is in BENCHMARKS.md, so a
/// new `make bench` or `make size` run that changes them fails here until the README follows.
#[test]
fn figures_quoted_from_benchmarks_md_are_in_it() {
    let known: std::collections::HashSet<String> = numbers(BENCHMARKS).collect();
    let lines: Vec<&str> = README.lines().collect();
    let mut tables = 0;
    let mut missing = Vec::new();
    for (index, _) in lines
        .iter()
        .enumerate()
        .filter(|(_, l)| **l == FIGURES_MARKER)
    {
        tables += 1;
        let rows = lines[index + 1..].iter().take_while(|l| l.starts_with('|'));
        // The header row names columns (M = 1000, 16 threads), it quotes no figure.
        for (row, line) in rows.enumerate().skip(2) {
            let figures = line.split('|').skip(2).flat_map(numbers);
            for figure in figures.filter(|figure| !known.contains(figure)) {
                missing.push(format!("README.md:{}: {figure}", index + 2 + row));
            }
        }
    }
    assert!(
        tables >= 5,
        "the README quotes BENCHMARKS.md's tables ({tables} marked)"
    );
    assert!(
        missing.is_empty(),
        "not in BENCHMARKS.md:\n{}",
        missing.join("\n")
    );
}

/// A date quoted with `make bench` or `make size` is the date of that run in BENCHMARKS.md.
#[test]
fn quoted_runs_are_the_runs_in_benchmarks_md() {
    let run_dates: Vec<&str> = BENCHMARKS
        .lines()
        .filter_map(|line| line.strip_prefix("- Date: "))
        .map(|date| &date[..10])
        .collect();
    let [bench, size] = run_dates[..] else {
        panic!("BENCHMARKS.md dates its bench and size runs: {run_dates:?}");
    };
    let mut quoted = 0;
    for (command, date) in [("make bench`, ", bench), ("make size` (", size)] {
        for (at, _) in README.match_indices(command) {
            let after = &README[at + command.len()..];
            if after.starts_with("20") {
                quoted += 1;
                assert_eq!(&after[..10], date, "the `{command}` run the README quotes");
            }
        }
    }
    assert!(quoted >= 2, "the README dates the runs it quotes");
}
