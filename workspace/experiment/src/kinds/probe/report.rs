//! The report's probe section: per site, accuracy against layer for each concept beside the
//! random-vs-random baseline, and the table of every row.

use super::tables::ProbeOutput;
use super::tables::ProbeRow;
use cavern_runfolder::report::svg::*;
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");
const LAYER_STEP: f64 = 90.0;
const X_AXIS_SPACE: f64 = 44.0;
const BASELINE_COLOR: &str = "#6b6b6b";

pub(super) fn section(output: &ProbeOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let charts: Vec<Value> = group_by(&output.rows, |r| r.site.clone())
        .into_iter()
        .map(|(site, rows)| {
            let svg = Value::from_safe_string(probe_chart(&site, &rows));
            context! { site, svg }
        })
        .collect();
    env.render(TEMPLATE, context! { rows => output.rows, charts })
}

/// Line chart of probe accuracy against layer for one site, one line per concept.
fn probe_chart(site: &str, rows: &[&ProbeRow]) -> String {
    let mut layers: Vec<usize> = rows.iter().map(|r| r.layer).collect();
    layers.sort_unstable();
    layers.dedup();
    let plot = Plot::new(MARGIN_LEFT, layers.len() as f64 * LAYER_STEP);
    let step = plot.width / layers.len().max(1) as f64;
    let x_of = |layer: usize| {
        let index = layers.binary_search(&layer).unwrap_or_default();
        plot.left + (index as f64 + 0.5) * step
    };
    let concepts = group_by(rows.iter().copied(), |r| r.concept.clone());
    let legend_top = plot.bottom() + X_AXIS_SPACE;
    let mut s = svg_open(
        plot.right() + MARGIN_RIGHT,
        legend_top + legend_height(concepts.len() + 1),
        &format!("Probe accuracy by layer at site {site}"),
    );
    s.push_str(&unit_y_axis(&plot, "probe accuracy"));
    s.push_str(&layer_axis(&plot, &layers, x_of));
    s.push_str(&baseline_line(&plot, rows, &x_of));
    let mut legend_items = vec![(Some(BASELINE_COLOR), "random vs random (dotted)".to_owned())];
    for (i, (concept, points)) in concepts.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        s.push_str(&probe_line(&plot, points, color, x_of));
        legend_items.push((Some(color), concept.clone()));
    }
    s.push_str(&legend(plot.left, legend_top + 12.0, &legend_items));
    s.push_str("</svg>");
    s
}

/// The random-vs-random accuracy at each layer as a dashed grey line.
fn baseline_line(plot: &Plot, rows: &[&ProbeRow], x_of: &impl Fn(usize) -> f64) -> String {
    let mut points: Vec<(usize, f64)> = rows
        .iter()
        .filter(|r| r.random_accuracy_mean.is_finite())
        .map(|r| (r.layer, r.random_accuracy_mean))
        .collect();
    points.sort_by_key(|p| p.0);
    points.dedup_by_key(|p| p.0);
    let coords: Vec<String> = points
        .iter()
        .map(|&(layer, y)| format!("{:.1},{:.1}", x_of(layer), plot.y(y)))
        .collect();
    format!(
        r#"<polyline points="{}" fill="none" stroke="{BASELINE_COLOR}" stroke-width="2.5" stroke-dasharray="1 4" stroke-linecap="round"/>"#,
        coords.join(" ")
    )
}

/// Layer tick labels under the x axis and the axis title.
fn layer_axis(plot: &Plot, layers: &[usize], x_of: impl Fn(usize) -> f64) -> String {
    let mut s = String::new();
    for &layer in layers {
        s.push_str(&format!(
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">{layer}</text>"#,
            x = x_of(layer),
            y = plot.bottom() + 16.0,
        ));
    }
    s.push_str(&format!(
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">layer</text>"#,
        x = plot.left + plot.width / 2.0,
        y = plot.bottom() + 34.0,
    ));
    s
}

/// One concept's accuracies joined in layer order, with a marker per point.
fn probe_line(
    plot: &Plot,
    points: &[&ProbeRow],
    color: &str,
    x_of: impl Fn(usize) -> f64,
) -> String {
    let mut sorted: Vec<&ProbeRow> = points
        .iter()
        .copied()
        .filter(|p| p.accuracy_mean.is_finite())
        .collect();
    sorted.sort_by_key(|p| p.layer);
    let coords: Vec<String> = sorted
        .iter()
        .map(|p| format!("{:.1},{:.1}", x_of(p.layer), plot.y(p.accuracy_mean)))
        .collect();
    let mut s = format!(
        r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
        coords.join(" ")
    );
    for p in sorted {
        let tip = format!(
            "{} · layer {}: accuracy {:.3} (train {}, test {})",
            p.concept, p.layer, p.accuracy_mean, p.n_train, p.n_test
        );
        s.push_str(&format!(
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{color}"><title>{}</title></circle>"#,
            escape_html(&tip),
            x = x_of(p.layer),
            y = plot.y(p.accuracy_mean),
        ));
    }
    s
}
