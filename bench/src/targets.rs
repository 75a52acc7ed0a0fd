//! The targets, checked against this run's figures: what was measured, met or missed.
//! (Explanations of what limits a missed target live in `bench/notes.md`, appended after.)

use std::fmt::Write as _;

use crate::Results;
use crate::kinds::Kind;
use crate::report::Cell;

/// The published median of seed 001's chunk allocator with 256-byte chunks, in cycles.
const SEED_MEDIAN: f64 = 592.0;
/// The published maximum of the same run.
const SEED_MAX: f64 = 53_578.0;

/// The cells of `kind` in `rows`.
fn cells(rows: &[(Kind, Vec<Cell>)], kind: Kind) -> Vec<Option<f64>> {
    rows.iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, c)| c.iter().map(|c| c.as_ref().ok().copied()).collect())
        .unwrap_or_default()
}

/// Per-column ratios `a / b` (None where either failed).
fn ratios(a: &[Option<f64>], b: &[Option<f64>]) -> Vec<Option<f64>> {
    a.iter().zip(b).map(|(a, b)| Some((*a)? / (*b)?)).collect()
}

fn list(values: &[Option<f64>], decimals: usize) -> String {
    let shown: Vec<String> = values
        .iter()
        .map(|v| v.map_or("failed".to_owned(), |v| format!("{v:.decimals$}")))
        .collect();
    shown.join(" / ")
}

fn verdict(met: bool) -> &'static str {
    if met { "**met**" } else { "**missed**" }
}

fn all(values: &[Option<f64>], ok: impl Fn(f64) -> bool) -> bool {
    !values.is_empty() && values.iter().all(|v| v.is_some_and(&ok))
}

/// The "Targets" section.
pub fn section(r: &Results) -> String {
    let mut out = String::from(
        "## Targets\n\nFigures from the tables above (same run); M = 200 / 1000 / 3000 / 10000 / 30000. \
         \"Net of the harness\": both times minus the baseline row's (the allocators' own cost).\n\n\
         | target | measured | verdict |\n|---|---|---|\n",
    );
    let free_list = cells(&r.random, Kind::FreeList);
    let vs_talc = ratios(&free_list, &cells(&r.random, Kind::Talc));
    let lla_vs = ratios(&cells(&r.random, Kind::LinkedList), &free_list);
    let harness = cells(&r.random, Kind::Baseline);
    let net = |kind: Kind| -> Vec<Option<f64>> {
        let total = cells(&r.random, kind);
        total
            .iter()
            .zip(&harness)
            .map(|(t, h)| Some((*t)? - (*h)?).filter(|v| *v > 0.0))
            .collect()
    };
    let _ = writeln!(
        out,
        "| free list (`GlobalAlloc` path's free), random actions without realloc: ≤ 1.3 × talc at every M | {} × talc (net of the harness: {}) | {} |",
        list(&vs_talc, 2),
        list(&ratios(&net(Kind::FreeList), &net(Kind::Talc)), 2),
        verdict(all(&vs_talc, |v| v <= 1.3))
    );
    let checked = cells(&r.random, Kind::FreeListChecked);
    let _ = writeln!(
        out,
        "| (for comparison, no target) free list with every free checked (raw `deallocate`) | {} × talc (net of the harness: {}) | – |",
        list(&ratios(&checked, &cells(&r.random, Kind::Talc)), 2),
        list(&ratios(&net(Kind::FreeListChecked), &net(Kind::Talc)), 2),
    );
    let _ = writeln!(
        out,
        "| free list: ≥ 5 × faster than linked_list_allocator | {} × faster (net of the harness: {}) | {} |",
        list(&lla_vs, 1),
        list(&ratios(&net(Kind::LinkedList), &net(Kind::FreeList)), 1),
        verdict(all(&lla_vs, |v| v >= 5.0))
    );
    let pools = ratios(
        &cells(&r.random, Kind::Pools),
        &cells(&r.random, Kind::Talc),
    );
    let pools_net = ratios(&net(Kind::Pools), &net(Kind::Talc));
    let _ = writeln!(
        out,
        "| pools (`GlobalAlloc` path's free), random actions M = 200 and 1000: faster than talc | {} × talc (net: {}) | {} |",
        list(&pools[..2.min(pools.len())], 2),
        list(&pools_net[..2.min(pools_net.len())], 2),
        verdict(all(&pools[..2.min(pools.len())], |v| v < 1.0))
    );
    let efficiency = cells(&r.efficiency, Kind::FreeList);
    let _ = writeln!(
        out,
        "| free list, heap efficiency ≥ 96 % | {} % (talc {} %) | {} |",
        list(&efficiency, 1),
        list(&cells(&r.efficiency, Kind::Talc), 1),
        verdict(all(&efficiency, |v| v >= 96.0))
    );
    out.push_str(&chunk_targets(r));
    out.push_str(&fixed_targets(r));
    out.push('\n');
    out
}

fn chunk_targets(r: &Results) -> String {
    let seed = cells(&r.seed, Kind::Chunk);
    let [
        Some(_),
        Some(median),
        _,
        Some(p999),
        Some(max),
        Some(full_count),
        _,
        Some(full_p999),
        Some(full_max),
    ] = seed[..]
    else {
        return "| chunk allocator, seed 001 workload | failed | **missed** |\n".to_owned();
    };
    let net = median - r.tsc_overhead as f64;
    let mut out = format!(
        "| chunk (256 B), seed 001: median ≤ 592 / 5 = {:.0} cycles | {median:.0} raw ({net:.0} without the \
         {} cycles of the empty measurement) | {} |\n",
        SEED_MEDIAN / 5.0,
        r.tsc_overhead,
        verdict(median <= SEED_MEDIAN / 5.0)
    );
    let bounded = full_count > 0.0 && full_max < SEED_MAX && full_p999 <= 20.0 * median;
    let _ = writeln!(
        out,
        "| chunk: p99.9 and max bounded on a nearly full heap (≥ 90 % full: p99.9 ≤ 20 × the median, \
         max below the seed's {SEED_MAX}) | whole run: p99.9 {p999:.0}, max {max:.0}; ≥ 90 % full \
         ({full_count:.0} allocations): p99.9 {full_p999:.0}, max {full_max:.0} | {} |",
        verdict(bounded)
    );
    out
}

fn fixed_targets(r: &Results) -> String {
    let small = cells(&r.pairs, Kind::FixedSmall).first().copied().flatten();
    let large: Vec<f64> = r
        .pairs
        .iter()
        .filter(|(k, _)| *k == Kind::FixedLarge)
        .filter_map(|(_, c)| c.first()?.as_ref().ok().copied())
        .collect();
    let (Some(small), Some(&worst)) = (small, large.iter().max_by(|a, b| a.total_cmp(b))) else {
        return "| fixed pool, alloc+free pair | failed | **missed** |\n".to_owned();
    };
    let same = worst <= small * 1.25 && small <= worst * 1.25;
    format!(
        "| fixed pool, alloc+free pair: a few ns, the same for N = 64 and N = 1,048,576 (within 25 %) | \
         N = 64: {small:.2} ns; N = 1,048,576: {} ns | {} |\n",
        large
            .iter()
            .map(|v| format!("{v:.2}"))
            .collect::<Vec<_>>()
            .join(" / "),
        verdict(small <= 5.0 && same)
    )
}
