//! The report's TCAV section: per (target, site), each concept's score at each layer beside the
//! random baseline, with every CAV's score as a dot and a star where significant; and the table.

use super::run::RANDOM;
use super::tables::{TcavOutput, TcavRow, TcavRunRow};
use cavern_runfolder::report::svg::*;
use cavern_runfolder::report::{ReportEnv, ReportError, group_by, pvalue};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

pub(super) fn section(output: &TcavOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let charts: Vec<Value> = group_by(&output.rows, |r| (r.target.clone(), r.site.clone()))
        .into_iter()
        .map(|((target, site), rows)| {
            let svg = Value::from_safe_string(tcav_chart(&target, &site, &rows, &output.runs));
            context! { target, site, svg }
        })
        .collect();
    env.render(TEMPLATE, context! { rows => output.rows, charts })
}

const GROUP_WIDTH: f64 = 84.0;
const BAR_GAP: f64 = 6.0;
const TCAV_LABEL_SPACE: f64 = 120.0;
const TCAV_LABEL_CHARS: usize = 20;
/// Approximate width of one character of 11px label text.
const CHAR_WIDTH: f64 = 6.8;
/// Counter-clockwise rotation of TCAV group labels, in degrees.
const LABEL_ANGLE: f64 = 40.0;
const TCAV_COLOR: &str = "#4e79a7";
const RANDOM_COLOR: &str = "#bab0ac";

/// Bar chart of TCAV scores for one (target, site): per concept×layer group a
/// score bar and a grey random-baseline bar, each with its runs' scores as dots,
/// `*` over significant scores.
fn tcav_chart(target: &str, site: &str, rows: &[&TcavRow], runs: &[TcavRunRow]) -> String {
    let plot = Plot::new(tcav_left_margin(rows), rows.len() as f64 * GROUP_WIDTH);
    let legend_items = [
        (
            Some(TCAV_COLOR),
            "concept TCAV score (mean ± std)".to_owned(),
        ),
        (
            Some(RANDOM_COLOR),
            "random baseline (mean ± std)".to_owned(),
        ),
        (None, "• one CAV's score (one random set)".to_owned()),
        (None, significance_note(rows)),
    ];
    let legend_top = plot.bottom() + TCAV_LABEL_SPACE;
    let width = plot.right() + MARGIN_RIGHT;
    let axis_title = format!(
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">concept · layer</text>"#,
        x = plot.left + plot.width / 2.0,
        y = legend_top - 14.0,
    );
    let height = legend_top + legend_height(legend_items.len());
    let mut s = svg_open(
        width,
        height,
        &format!("TCAV scores for target {target} at site {site}"),
    );
    s.push_str(&unit_y_axis(&plot, "TCAV score"));
    s.push_str(&axis_title);
    for (i, row) in rows.iter().enumerate() {
        s.push_str(&tcav_group(
            &plot,
            plot.left + i as f64 * GROUP_WIDTH,
            row,
            runs,
        ));
    }
    s.push_str(&legend(plot.left, legend_top + 12.0, &legend_items));
    s.push_str("</svg>");
    s
}

/// The legend line for `*`: the significance level and correction of these rows' study.
fn significance_note(rows: &[&TcavRow]) -> String {
    match rows.first() {
        Some(row) => format!(
            "* significant: adjusted p < {} ({})",
            row.alpha, row.correction
        ),
        None => "* significant".to_owned(),
    }
}

/// The x-axis label of a concept×layer group.
fn tcav_label(row: &TcavRow) -> String {
    format!(
        "{} · L{}",
        truncate(&row.concept, TCAV_LABEL_CHARS),
        row.layer
    )
}

/// Left margin wide enough that no rotated group label leaves the chart.
fn tcav_left_margin(rows: &[&TcavRow]) -> f64 {
    let cos = LABEL_ANGLE.to_radians().cos();
    rows.iter()
        .enumerate()
        .map(|(i, row)| {
            let reach = tcav_label(row).chars().count() as f64 * CHAR_WIDTH * cos;
            reach - (i as f64 + 0.5) * GROUP_WIDTH + 4.0
        })
        .fold(MARGIN_LEFT, f64::max)
}

/// One concept×layer group of [`tcav_chart`], starting at pixel `x`.
fn tcav_group(plot: &Plot, x: f64, row: &TcavRow, runs: &[TcavRunRow]) -> String {
    let score_x = x + (GROUP_WIDTH - 2.0 * BAR_WIDTH - BAR_GAP) / 2.0;
    let center = x + GROUP_WIDTH / 2.0;
    let details = format!(
        "{} · layer {}: TCAV {:.3} ± {:.3}, random {:.3} ± {:.3}, adjusted p {}",
        row.concept,
        row.layer,
        row.tcav_mean,
        row.tcav_std,
        row.random_mean,
        row.random_std,
        pvalue(row.p_adjusted),
    );
    let mut s = format!("<g><title>{}</title>", escape_html(&details));
    s.push_str(&bar(plot, score_x, row.tcav_mean, row.tcav_std, TCAV_COLOR));
    s.push_str(&bar(
        plot,
        score_x + BAR_WIDTH + BAR_GAP,
        row.random_mean,
        row.random_std,
        RANDOM_COLOR,
    ));
    let same_cell = |run: &&TcavRunRow| {
        run.target == row.target && run.site == row.site && run.layer == row.layer
    };
    let concept_runs = runs
        .iter()
        .filter(same_cell)
        .filter(|r| r.concept == row.concept);
    let random_runs = runs
        .iter()
        .filter(same_cell)
        .filter(|r| r.concept == RANDOM);
    s.push_str(&run_dots(plot, score_x + BAR_WIDTH / 2.0, concept_runs));
    s.push_str(&run_dots(
        plot,
        score_x + 1.5 * BAR_WIDTH + BAR_GAP,
        random_runs,
    ));
    if row.significant {
        s.push_str(&significance_star(plot, score_x + BAR_WIDTH / 2.0));
    }
    let label = tcav_label(row);
    s.push_str(&format!(
        r#"<text transform="translate({center:.1} {y:.1}) rotate(-{LABEL_ANGLE})" text-anchor="end">{}</text></g>"#,
        escape_html(&label),
        y = plot.bottom() + 14.0,
    ));
    s
}

/// Each run's score as a small dot around `center`, spread sideways by run index so that
/// equal scores stay visible.
fn run_dots<'a>(plot: &Plot, center: f64, runs: impl Iterator<Item = &'a TcavRunRow>) -> String {
    runs.filter(|r| r.tcav_score.is_finite())
        .map(|r| {
            let spread = ((r.run * 7) % 11) as f64 / 10.0 - 0.5;
            format!(
                r##"<circle cx="{x:.1}" cy="{y:.1}" r="2" fill="#111" fill-opacity="0.35" stroke="#fff" stroke-width="0.5"/>"##,
                x = center + spread * BAR_WIDTH * 0.7,
                y = plot.y(r.tcav_score),
            )
        })
        .collect()
}

/// The `*` drawn above the plot area over a significant score, clear of its dots.
fn significance_star(plot: &Plot, x: f64) -> String {
    format!(
        r#"<text class="star" x="{x:.1}" y="{y:.1}" text-anchor="middle">*</text>"#,
        y = plot.top - 4.0,
    )
}
