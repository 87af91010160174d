//! The report's pruning section: per study, the heads whose removal costs most, and the
//! pruning curve.

use super::tables::{CurveRow, PrunedHead, PruningOutput};
use cavern_runfolder::report::svg::{
    MARGIN_LEFT, MARGIN_RIGHT, PALETTE, Plot, legend, legend_height, svg_open,
};
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

/// Heads listed per pruning study, by cost of removal.
const SHOWN_HEADS: usize = 10;

/// Width of the curve's plot area, in pixels.
const CURVE_WIDTH: f64 = 420.0;

/// Room under the plot for the x axis's ticks and label.
const X_AXIS_SPACE: f64 = 40.0;

/// Ticks on each axis.
const TICKS: usize = 5;

pub(super) fn section(output: &PruningOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let views = pruning_views(&output.heads, &output.curve);
    env.render(TEMPLATE, context! { pruning_views => views })
}

/// Per pruning study: the heads whose removal costs most, and the pruning curve.
fn pruning_views(heads: &[PrunedHead], curve: &[CurveRow]) -> Vec<Value> {
    group_by(heads, |h| h.study)
        .into_iter()
        .map(|(study, mut rows)| {
            rows.sort_by(|a, b| a.metric_change.total_cmp(&b.metric_change));
            let costliest: Vec<Value> = rows
                .iter()
                .take(SHOWN_HEADS)
                .map(|h| {
                    context! {
                        layer => h.layer,
                        head => h.head,
                        importance => h.importance,
                        metric => h.metric,
                        change => h.metric_change,
                        accuracy => h.accuracy,
                    }
                })
                .collect();
            let points: Vec<&CurveRow> = curve.iter().filter(|c| c.study == study).collect();
            let chart = Value::from_safe_string(curve_chart(&points));
            context! {
                study,
                n_heads => rows.len(),
                costliest,
                curve => points,
                chart,
            }
        })
        .collect()
}

/// The pruning curve as an SVG line chart: the metric (and the accuracy, where the metric has
/// one, on the right-hand 0–1 axis, dashed) against the fraction of heads removed. Empty for a
/// curve without a finite metric.
fn curve_chart(points: &[&CurveRow]) -> String {
    let metrics: Vec<f64> = points
        .iter()
        .map(|p| p.metric)
        .filter(|m| m.is_finite())
        .collect();
    let (Some(low), Some(high)) = (
        metrics.iter().copied().reduce(f64::min),
        metrics.iter().copied().reduce(f64::max),
    ) else {
        return String::new();
    };
    let span = if high > low { high - low } else { 1.0 };
    let plot = Plot::new(MARGIN_LEFT, CURVE_WIDTH);
    // The metric's own scale, mapped onto the plot's unit interval.
    let unit = |metric: f64| (metric - low) / span;
    let x_of = |fraction: f64| plot.left + fraction.clamp(0.0, 1.0) * plot.width;
    let legend_top = plot.bottom() + X_AXIS_SPACE;
    let has_accuracy = points.iter().any(|p| p.accuracy.is_some());
    let mut s = svg_open(
        plot.right() + MARGIN_RIGHT + 40.0,
        legend_top + legend_height(1 + usize::from(has_accuracy)),
        "Metric against the fraction of heads removed",
    );
    for i in 0..TICKS {
        let t = i as f64 / (TICKS - 1) as f64;
        let y = plot.y(t);
        let x = x_of(t);
        s.push_str(&format!(
            r##"<line x1="{l:.1}" y1="{y:.1}" x2="{r:.1}" y2="{y:.1}" stroke="#e6e6e6"/><text x="{tl:.1}" y="{ty:.1}" text-anchor="end">{metric:.2}</text><text x="{x:.1}" y="{tx:.1}" text-anchor="middle">{t}</text>"##,
            l = plot.left,
            r = plot.right(),
            tl = plot.left - 6.0,
            ty = y + 4.0,
            metric = low + t * span,
            tx = plot.bottom() + 16.0,
        ));
        if has_accuracy {
            s.push_str(&format!(
                r#"<text x="{x:.1}" y="{ty:.1}">{t}</text>"#,
                x = plot.right() + 6.0,
                ty = y + 4.0,
            ));
        }
    }
    s.push_str(&format!(
        r##"<path d="M{l:.1} {top:.1}V{b:.1}H{r:.1}" stroke="#333" fill="none"/><text x="{cx:.1}" y="{ly:.1}" text-anchor="middle">fraction of heads removed (least important first)</text><text transform="translate({yl:.1} {ym:.1}) rotate(-90)" text-anchor="middle">metric</text>"##,
        l = plot.left,
        r = plot.right(),
        top = plot.top,
        b = plot.bottom(),
        cx = plot.left + plot.width / 2.0,
        ly = plot.bottom() + 34.0,
        yl = plot.left - 44.0,
        ym = plot.top + plot.height / 2.0,
    ));
    let line = |values: Vec<(f64, f64)>, color: &str, dash: &str| {
        let points: Vec<String> = values
            .iter()
            .filter(|(_, v)| v.is_finite())
            .map(|(x, v)| format!("{:.1},{:.1}", x_of(*x), plot.y(*v)))
            .collect();
        format!(
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
            points.join(" ")
        )
    };
    let mut items = vec![(Some(PALETTE[0]), "metric".to_owned())];
    s.push_str(&line(
        points
            .iter()
            .map(|p| (p.fraction_removed, unit(p.metric)))
            .collect(),
        PALETTE[0],
        "",
    ));
    if has_accuracy {
        s.push_str(&line(
            points
                .iter()
                .filter_map(|p| p.accuracy.map(|a| (p.fraction_removed, a)))
                .collect(),
            PALETTE[1],
            r#" stroke-dasharray="5 4""#,
        ));
        items.push((Some(PALETTE[1]), "accuracy (right axis, dashed)".to_owned()));
    }
    s.push_str(&legend(plot.left, legend_top + 12.0, &items));
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(fraction_removed: f64, metric: f64, accuracy: Option<f64>) -> CurveRow {
        CurveRow {
            study: 0,
            step: 0,
            heads_removed: 0,
            fraction_removed,
            metric,
            accuracy,
            removed_now: String::new(),
        }
    }

    #[test]
    fn the_curve_spans_the_plot_on_the_metrics_own_scale() {
        let rows = [
            step(0.0, 2.0, None),
            step(0.5, 1.0, None),
            step(1.0, 0.0, None),
        ];
        let points: Vec<&CurveRow> = rows.iter().collect();
        let chart = curve_chart(&points);
        // Plot area: left 56, width 420, top 26, height 260; the metric runs from 0 to 2.
        assert!(
            chart.contains(r#"<polyline points="56.0,26.0 266.0,156.0 476.0,286.0""#),
            "{chart}"
        );
        assert_eq!(chart.matches("<polyline").count(), 1, "no accuracy line");
        assert!(chart.contains(">2.00</text>") && chart.contains(">0.00</text>"));
        let with_accuracy = [step(0.0, 2.0, Some(1.0)), step(1.0, 2.0, Some(0.5))];
        let points: Vec<&CurveRow> = with_accuracy.iter().collect();
        let chart = curve_chart(&points);
        assert_eq!(chart.matches("<polyline").count(), 2, "{chart}");
        assert!(
            chart.contains(r##"points="56.0,26.0 476.0,156.0" fill="none" stroke="#f28e2b""##),
            "{chart}"
        );
        assert!(curve_chart(&[&step(0.0, f64::NAN, None)]).is_empty());
    }
}
