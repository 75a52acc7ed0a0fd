//! The size budgets of `size/budgets.txt`: one line per limit,
//! `<target> <allocator> <metric> <bytes>`, where the target is `cortex-m-z` (or `cortex-m-s`)
//! with the metrics `text`, `rodata`, `data` and `bss`, or `wasm` with the metric `bytes`, and
//! the bytes are a net size (the build's, minus the baseline's) that must not be exceeded.
//! `#` starts a comment.

use std::fmt::Write;

/// One limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Budget {
    /// `cortex-m-s`, `cortex-m-z` or `wasm`.
    pub target: String,
    /// The allocator's feature name.
    pub allocator: String,
    /// `text`, `rodata`, `data`, `bss` (Cortex-M) or `bytes` (wasm).
    pub metric: String,
    /// The largest net size allowed, in bytes.
    pub limit: i64,
}

/// One measured net size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Measured {
    /// As in [`Budget`].
    pub target: String,
    /// As in [`Budget`].
    pub allocator: String,
    /// As in [`Budget`].
    pub metric: String,
    /// The net size, in bytes.
    pub net: i64,
}

/// The metrics each target has.
fn metrics_of(target: &str) -> Option<&'static [&'static str]> {
    match target {
        "cortex-m-s" | "cortex-m-z" => Some(&["text", "rodata", "data", "bss"]),
        "wasm" => Some(&["bytes"]),
        _ => None,
    }
}

/// Reads the budgets file's text.
///
/// # Errors
/// A line that is not `<target> <allocator> <metric> <bytes>` with a known target and metric,
/// or a limit given twice, with its line number.
pub fn parse(text: &str) -> Result<Vec<Budget>, String> {
    let mut budgets: Vec<Budget> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let at = |what: String| format!("budgets.txt line {}: {what}", number + 1);
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [target, allocator, metric, limit] = fields[..] else {
            return Err(at(format!(
                "expected `<target> <allocator> <metric> <bytes>`, got `{line}`"
            )));
        };
        let metrics = metrics_of(target).ok_or_else(|| {
            at(format!(
                "unknown target `{target}` (cortex-m-s, cortex-m-z or wasm)"
            ))
        })?;
        if !metrics.contains(&metric) {
            return Err(at(format!(
                "`{target}` has no metric `{metric}` ({})",
                metrics.join(", ")
            )));
        }
        let limit = limit
            .parse()
            .map_err(|_| at(format!("`{limit}` is not a number of bytes")))?;
        let budget = Budget {
            target: target.to_string(),
            allocator: allocator.to_string(),
            metric: metric.to_string(),
            limit,
        };
        if budgets.iter().any(|b| b.same_key(&budget)) {
            return Err(at(format!(
                "a second limit for {target} {allocator} {metric}"
            )));
        }
        budgets.push(budget);
    }
    Ok(budgets)
}

impl Budget {
    fn same_key(&self, other: &Budget) -> bool {
        self.target == other.target
            && self.allocator == other.allocator
            && self.metric == other.metric
    }

    /// Whether `measured` is this budget's size.
    fn measures(&self, measured: &Measured) -> bool {
        self.target == measured.target
            && self.allocator == measured.allocator
            && self.metric == measured.metric
    }
}

/// How one budget fared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The budget.
    pub budget: Budget,
    /// Its measured net size (`None`: this run did not measure it, which fails the check).
    pub net: Option<i64>,
}

impl Verdict {
    /// Whether the size is measured and within the limit.
    pub fn passed(&self) -> bool {
        self.net.is_some_and(|net| net <= self.budget.limit)
    }
}

/// Each budget with its measurement, in the budgets' order.
pub fn check(budgets: &[Budget], measured: &[Measured]) -> Vec<Verdict> {
    budgets
        .iter()
        .map(|budget| Verdict {
            budget: budget.clone(),
            net: measured.iter().find(|m| budget.measures(m)).map(|m| m.net),
        })
        .collect()
}

/// Measurements no budget covers (not a failure: a new allocator or metric, say).
pub fn unbudgeted<'a>(budgets: &[Budget], measured: &'a [Measured]) -> Vec<&'a Measured> {
    measured
        .iter()
        .filter(|m| !budgets.iter().any(|b| b.measures(m)))
        .collect()
}

/// `net` plus 1 %, rounded up: the initial limit for a measured size.
pub fn with_margin(net: i64) -> i64 {
    if net <= 0 {
        net
    } else {
        net + (net + 99) / 100
    }
}

/// The text of a budgets file giving each measurement its size plus 1 %.
pub fn render(measured: &[Measured], header: &str) -> String {
    let mut text = String::from(header);
    let mut last_target = "";
    for m in measured {
        if m.target != last_target {
            text.push('\n');
            last_target = &m.target;
        }
        let _ = writeln!(
            text,
            "{} {} {} {}",
            m.target,
            m.allocator,
            m.metric,
            with_margin(m.net)
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measured(target: &str, allocator: &str, metric: &str, net: i64) -> Measured {
        Measured {
            target: target.into(),
            allocator: allocator.into(),
            metric: metric.into(),
            net,
        }
    }

    #[test]
    fn parses_lines_and_comments() {
        let budgets = parse(
            "# header\n\ncortex-m-z bareheap-free-list text 1180  # a note\nwasm none bytes 0\n",
        )
        .unwrap();
        assert_eq!(budgets.len(), 2);
        assert_eq!(
            budgets[0],
            Budget {
                target: "cortex-m-z".into(),
                allocator: "bareheap-free-list".into(),
                metric: "text".into(),
                limit: 1180
            }
        );
    }

    #[test]
    fn refuses_bad_lines() {
        for (text, says) in [
            ("cortex-m-z a text", "line 1: expected"),
            ("riscv a text 1", "unknown target"),
            ("wasm a text 1", "no metric `text`"),
            ("cortex-m-z a bss many", "not a number"),
            ("wasm a bytes 1\nwasm a bytes 2", "line 2: a second limit"),
        ] {
            let error = parse(text).unwrap_err();
            assert!(error.contains(says), "{error}");
        }
    }

    #[test]
    fn checks_limits() {
        let budgets = parse("wasm a bytes 100\nwasm b bytes 100\nwasm c bytes 100").unwrap();
        let sizes = [
            measured("wasm", "a", "bytes", 100),
            measured("wasm", "b", "bytes", 101),
            measured("wasm", "d", "bytes", 5),
        ];
        let verdicts = check(&budgets, &sizes);
        let passed: Vec<bool> = verdicts.iter().map(Verdict::passed).collect();
        assert_eq!(passed, [true, false, false]);
        assert_eq!(verdicts[2].net, None);
        assert_eq!(unbudgeted(&budgets, &sizes), [&sizes[2]]);
    }

    #[test]
    fn margins_round_up_and_render_back() {
        assert_eq!(
            [
                with_margin(0),
                with_margin(1),
                with_margin(100),
                with_margin(1168)
            ],
            [0, 2, 101, 1180]
        );
        let sizes = [
            measured("cortex-m-z", "x", "text", 1000),
            measured("wasm", "x", "bytes", 250),
        ];
        let text = render(&sizes, "# limits\n");
        assert_eq!(
            text,
            "# limits\n\ncortex-m-z x text 1010\n\nwasm x bytes 253\n"
        );
        assert_eq!(parse(&text).unwrap().len(), 2);
    }
}
