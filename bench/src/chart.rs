//! The SVG chart of the random-actions results: nanoseconds per action against `M`, one line
//! per subject, logarithmic time axis (the slowest subjects are ten times slower than the
//! fastest).
//!
//! ```text
//!   ns ▲ (log)
//!  1000┤                         ___/ linked_list
//!   100┤        ____/‾‾‾‾‾‾‾‾‾‾‾
//!    10┤ ──────────────────────── talc, bareheap ...
//!      └──┬─────┬─────┬─────┬─────┬──► M
//!        200  1000  3000 10000 30000
//! ```
//!
//! Written by hand: a few dozen SVG elements do not need a plotting crate.

use std::fmt::Write as _;

/// A line: a name and one value per x position (`None` where the subject failed).
pub type Series = (String, Vec<Option<f64>>);

const WIDTH: f64 = 860.0;
const HEIGHT: f64 = 460.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 600.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 400.0;
const COLORS: [&str; 12] = [
    "#999999", "#1f77b4", "#17becf", "#d62728", "#2ca02c", "#ff7f0e", "#8c564b", "#9467bd",
    "#e377c2", "#bcbd22", "#7f7f7f", "#000000",
];

/// The powers of ten (and 2x, 5x) between `lo` and `hi`, for grid lines.
fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut ticks = Vec::new();
    let mut decade = 10f64.powf(lo.log10().floor());
    while decade <= hi {
        ticks.extend(
            [1.0, 2.0, 5.0]
                .map(|m| m * decade)
                .into_iter()
                .filter(|t| (lo..=hi).contains(t)),
        );
        decade *= 10.0;
    }
    ticks
}

/// The chart as an SVG document.
pub fn line_chart(title: &str, x_labels: &[String], series: &[Series]) -> String {
    let values = series.iter().flat_map(|(_, v)| v.iter().flatten().copied());
    let (lo, hi) = values.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let (lo, hi) = ((lo * 0.8).max(0.1).log10(), (hi * 1.25).log10());
    let y = |v: f64| BOTTOM - (v.log10() - lo) / (hi - lo) * (BOTTOM - TOP);
    let step = (RIGHT - LEFT) / (x_labels.len().max(2) - 1) as f64;
    let x = |i: usize| LEFT + i as f64 * step;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{LEFT}\" y=\"22\" font-size=\"15\">{title}</text>\n"
    );
    for t in ticks(10f64.powf(lo), 10f64.powf(hi)) {
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{RIGHT}\" y1=\"{0:.1}\" y2=\"{0:.1}\" stroke=\"#e0e0e0\"/>\
             <text x=\"{1}\" y=\"{2:.1}\" text-anchor=\"end\">{t}</text>",
            y(t),
            LEFT - 6.0,
            y(t) + 4.0
        );
    }
    for (i, label) in x_labels.iter().enumerate() {
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>",
            x(i),
            BOTTOM + 20.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">M (maximum request size, bytes)</text>\
         <text x=\"16\" y=\"{:.1}\" transform=\"rotate(-90 16 {:.1})\" text-anchor=\"middle\">ns per action (log scale)</text>",
        (LEFT + RIGHT) / 2.0,
        BOTTOM + 42.0,
        (TOP + BOTTOM) / 2.0,
        (TOP + BOTTOM) / 2.0
    );
    for (n, (name, points)) in series.iter().enumerate() {
        let color = COLORS[n % COLORS.len()];
        let path: Vec<String> = points
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"/>\
             <rect x=\"{}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{color}\"/>\
             <text x=\"{}\" y=\"{:.1}\">{name}</text>",
            path.join(" "),
            RIGHT + 20.0,
            TOP + n as f64 * 20.0 - 2.0,
            RIGHT + 40.0,
            TOP + n as f64 * 20.0 + 4.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::{line_chart, ticks};

    #[test]
    fn ticks_cover_the_range() {
        assert_eq!(ticks(8.0, 120.0), vec![10.0, 20.0, 50.0, 100.0]);
    }

    #[test]
    fn chart_has_one_line_per_series() {
        let series = vec![
            ("a".to_owned(), vec![Some(10.0), Some(20.0)]),
            ("b".to_owned(), vec![None, Some(300.0)]),
        ];
        let svg = line_chart("t", &["1".to_owned(), "2".to_owned()], &series);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    }
}
