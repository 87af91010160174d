//! The report's steering section: per study a chart of the flip rate and the mean tracked
//! probability against α, the summary, the flip α per input and the texts with their steered
//! predictions (and continuations) side by side.

use super::tables::{SteeringOutput, SteeringRow, SteeringSummary};
use cavern_runfolder::report::svg::*;
use cavern_runfolder::report::{ReportEnv, ReportError};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

/// Inputs per steering study and layer shown with their texts.
const SHOWN_STEERED_INPUTS: usize = 8;
/// Width of the α axis.
const ALPHA_AXIS_WIDTH: f64 = 420.0;
/// Space under the plot for the α axis.
const ALPHA_AXIS_SPACE: f64 = 40.0;

pub(super) fn section(output: &SteeringOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let mut studies: Vec<usize> = output.summary.iter().map(|r| r.study).collect();
    studies.dedup();
    let steering: Vec<Value> = studies
        .into_iter()
        .map(|study| steering_view(study, output))
        .collect();
    env.render(TEMPLATE, context! { studies => steering })
}

fn steering_view(study: usize, output: &SteeringOutput) -> Value {
    let summary: Vec<&SteeringSummary> = (output.summary.iter())
        .filter(|r| r.study == study)
        .collect();
    let first = summary[0];
    let mut layers: Vec<usize> = summary.iter().map(|r| r.layer).collect();
    layers.dedup();
    let alphas: Vec<f64> = {
        let mut a: Vec<f64> = summary.iter().map(|r| r.alpha).collect();
        a.sort_by(f64::total_cmp);
        a.dedup();
        a
    };
    let texts: Vec<Value> = layers
        .iter()
        .map(|&layer| {
            let rows: Vec<&SteeringRow> = (output.rows.iter())
                .filter(|r| r.study == study && r.layer == layer)
                .collect();
            let mut inputs: Vec<usize> = rows.iter().map(|r| r.input).collect();
            inputs.sort_unstable();
            inputs.dedup();
            let n_inputs = inputs.len();
            inputs.truncate(SHOWN_STEERED_INPUTS);
            let shown: Vec<Value> = inputs
                .iter()
                .map(|&input| {
                    let cells: Vec<Value> = alphas
                        .iter()
                        .filter_map(|&alpha| {
                            let row = rows.iter().find(|r| r.input == input && r.alpha == alpha)?;
                            Some(context! {
                                predicted => row.predicted,
                                p => row.p_target,
                                flipped => row.flipped,
                                continuation => row.continuation,
                            })
                        })
                        .collect();
                    let text = rows
                        .iter()
                        .find(|r| r.input == input)
                        .map(|r| r.text.clone());
                    context! { text, cells }
                })
                .collect();
            context! { layer, inputs => shown, n_inputs }
        })
        .collect();
    let flips: Vec<_> = (output.flips.iter()).filter(|r| r.study == study).collect();
    context! {
        study,
        vector => first.vector,
        target => first.target,
        site => first.site,
        scale => first.activation_scale,
        chart => Value::from_safe_string(steering_chart(&summary, &layers, &alphas)),
        summary,
        alphas,
        texts,
        flips,
    }
}

/// Flip rate (solid) and mean tracked probability (dashed) against α, one colour per layer.
fn steering_chart(rows: &[&SteeringSummary], layers: &[usize], alphas: &[f64]) -> String {
    let plot = Plot::new(MARGIN_LEFT, ALPHA_AXIS_WIDTH);
    let (low, high) = (alphas[0], alphas[alphas.len() - 1]);
    let span = if high > low { high - low } else { 1.0 };
    let x_of = |alpha: f64| plot.left + (alpha - low) / span * plot.width;
    let legend_top = plot.bottom() + ALPHA_AXIS_SPACE;
    let mut s = svg_open(
        plot.right() + MARGIN_RIGHT,
        legend_top + legend_height(layers.len() + 1),
        "Flip rate and mean tracked probability against α",
    );
    s.push_str(&unit_y_axis(&plot, "flip rate · p(target)"));
    for &alpha in alphas {
        s.push_str(&format!(
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">{alpha}</text>"#,
            x = x_of(alpha),
            y = plot.bottom() + 16.0,
        ));
    }
    s.push_str(&format!(
        r#"<text x="{x:.1}" y="{y:.1}" text-anchor="middle">α (× mean activation norm)</text>"#,
        x = plot.left + plot.width / 2.0,
        y = plot.bottom() + 34.0,
    ));
    let mut legend_items = Vec::new();
    for (i, &layer) in layers.iter().enumerate() {
        let color = PALETTE[i % PALETTE.len()];
        let line = |value: fn(&SteeringSummary) -> f64, dash: &str| {
            let points: Vec<String> = (rows.iter())
                .filter(|r| r.layer == layer)
                .map(|r| format!("{:.1},{:.1}", x_of(r.alpha), plot.y(value(r))))
                .collect();
            format!(
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"{dash}/>"#,
                points.join(" ")
            )
        };
        s.push_str(&line(|r| r.flip_rate, ""));
        s.push_str(&line(|r| r.mean_p_target, r#" stroke-dasharray="5 4""#));
        legend_items.push((Some(color), format!("layer {layer}")));
    }
    legend_items.push((None, "solid: flip rate · dashed: mean p(target)".to_owned()));
    s.push_str(&legend(plot.left, legend_top + 12.0, &legend_items));
    s.push_str("</svg>");
    s
}
