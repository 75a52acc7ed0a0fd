//! Markdown output: a document built section by section, tables with a ratio column against
//! talc for each figure.

use std::fmt::Write as _;

use crate::kinds::Kind;
use crate::workloads::Outcome;

/// The growing text of BENCHMARKS.md.
#[derive(Default)]
pub struct Report {
    text: String,
}

/// A figure and how to print it.
pub type Cell = Outcome<f64>;

impl Report {
    /// Appends raw markdown.
    pub fn push(&mut self, markdown: &str) {
        self.text.push_str(markdown);
    }

    /// Appends a table: one row per subject, and for each column the figure and its ratio to
    /// talc's figure in the same column (`decimals` for the figures).
    pub fn ratio_table(
        &mut self,
        columns: &[String],
        rows: &[(String, Vec<Cell>)],
        decimals: usize,
    ) {
        let talc = rows
            .iter()
            .find(|(name, _)| name == Kind::Talc.name())
            .map(|(_, cells)| cells);
        let mut head = String::from("| subject |");
        let mut rule = String::from("|---|");
        for column in columns {
            let _ = write!(head, " {column} | × talc |");
            rule.push_str("---:|---:|");
        }
        let _ = writeln!(self.text, "{head}\n{rule}");
        for (name, cells) in rows {
            let _ = write!(self.text, "| {name} |");
            for (i, cell) in cells.iter().enumerate() {
                let reference = talc.and_then(|t| t[i].as_ref().ok()).copied();
                let _ = write!(self.text, " {} |", fmt_cell(cell, decimals, reference));
            }
            self.text.push('\n');
        }
        self.text.push('\n');
    }

    /// Appends a table of figures alone (no ratio columns): one row per subject.
    pub fn plain_table(
        &mut self,
        columns: &[String],
        rows: &[(String, Vec<Cell>)],
        decimals: usize,
    ) {
        let _ = writeln!(
            self.text,
            "| subject |{}\n|---|{}",
            columns
                .iter()
                .map(|c| format!(" {c} |"))
                .collect::<String>(),
            "---:|".repeat(columns.len())
        );
        for (name, cells) in rows {
            let _ = write!(self.text, "| {name} |");
            for cell in cells {
                let _ = match cell {
                    Ok(value) => write!(self.text, " {value:.decimals$} |"),
                    Err(why) => write!(self.text, " FAILED: {} |", why.replace('|', "/")),
                };
            }
            self.text.push('\n');
        }
        self.text.push('\n');
    }

    /// The finished document.
    pub fn into_text(self) -> String {
        self.text
    }
}

/// A figure and its ratio cell: `12.3 | 1.05` or `FAILED: why | –`.
fn fmt_cell(cell: &Cell, decimals: usize, talc: Option<f64>) -> String {
    match cell {
        Ok(value) => {
            let ratio = talc
                .filter(|t| *t > 0.0)
                .map_or("–".to_owned(), |t| format!("{:.2}", value / t));
            format!("{value:.decimals$} | {ratio}")
        }
        Err(why) => format!("FAILED: {} | –", why.replace('|', "/")),
    }
}

/// Rows labelled with their subjects' names.
pub fn named(rows: &[(Kind, Vec<Cell>)]) -> Vec<(String, Vec<Cell>)> {
    rows.iter()
        .map(|(kind, cells)| (kind.name().to_owned(), cells.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{Report, named};
    use crate::kinds::Kind;

    #[test]
    fn ratio_tables_divide_by_talc_and_show_failures() {
        let mut report = Report::default();
        let rows = vec![
            (Kind::Talc, vec![Ok(20.0)]),
            (Kind::FreeList, vec![Ok(30.0)]),
            (Kind::Buddy, vec![Err("out of memory".to_owned())]),
        ];
        report.ratio_table(&["ns".to_owned()], &named(&rows), 1);
        let text = report.into_text();
        assert!(
            text.contains("| bareheap free list | 30.0 | 1.50 |"),
            "{text}"
        );
        assert!(text.contains("FAILED: out of memory | – |"), "{text}");
    }
}
