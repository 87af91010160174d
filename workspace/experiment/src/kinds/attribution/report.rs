//! The report's attribution section: per study, its first inputs' tokens coloured by the
//! preferred method it ran, the largest token of every method, integrated gradients'
//! completeness, LIME's fidelity and SHAP's efficiency.

use super::tables::{AttributionOutput, AttributionSummary, TokenAttribution};
use crate::views::{signed_colour, signed_legend, token_pieces};
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

pub(super) fn section(output: &AttributionOutput, env: &ReportEnv) -> Result<String, ReportError> {
    env.render(
        TEMPLATE,
        context! {
            attribution_studies => attribution_views(&output.tokens, &output.summary),
            legend => Value::from_safe_string(signed_legend()),
        },
    )
}

/// Inputs of each attribution study shown as coloured text.
const SHOWN_ATTRIBUTION_INPUTS: usize = 10;
/// The method that colours the text, in order of preference.
const COLOURING_METHODS: [&str; 5] = [
    "shap",
    "integrated_gradients",
    "occlusion",
    "gradient_x_input",
    "saliency",
];
/// Per attribution study: its first inputs as coloured tokens (by the preferred method the
/// study ran), the largest token of every method, and integrated gradients' completeness.
fn attribution_views(tokens: &[TokenAttribution], summary: &[AttributionSummary]) -> Vec<Value> {
    group_by(tokens, |r| r.study)
        .into_iter()
        .map(|(study, rows)| {
            let methods: Vec<String> = group_by(rows.iter().copied(), |r| r.method.clone())
                .into_iter()
                .map(|(m, _)| m)
                .collect();
            let colouring = COLOURING_METHODS
                .iter()
                .find(|m| methods.iter().any(|x| x == *m))
                .map_or_else(|| methods[0].clone(), |m| m.to_string());
            let inputs = group_by(rows.iter().copied(), |r| r.input);
            let n_inputs = inputs.len();
            let of_method = |method: &str| -> Vec<&AttributionSummary> {
                let rows = summary.iter().filter(|s| s.study == study);
                rows.filter(|s| s.method == method).collect()
            };
            let gaps = of_method("integrated_gradients");
            let fits = of_method("lime");
            let games = of_method("shap");
            let shown: Vec<Value> = inputs
                .into_iter()
                .take(SHOWN_ATTRIBUTION_INPUTS)
                .map(|(input, rows)| {
                    attribution_input(input, &rows, &methods, &colouring, &gaps, &fits)
                })
                .collect();
            let worst_gap = gaps
                .iter()
                .map(|s| relative_gap(s))
                .filter(|g| g.is_finite())
                .fold(None, |m: Option<f64>, g| Some(m.map_or(g, |m| m.max(g))));
            let first = rows[0];
            let ig = gaps.first().map(|s| {
                context! {
                    site => s.site,
                    baseline => s.baseline,
                    steps => s.steps,
                    worst_gap,
                }
            });
            let lime = fits.first().map(|s| {
                let r2: Vec<f64> = fits.iter().map(|s| s.fidelity_r2).collect();
                context! {
                    samples => s.steps,
                    mean_r2 => cavern_stats::mean(&r2),
                    lowest_r2 => r2.iter().copied().fold(f64::INFINITY, f64::min),
                }
            });
            let shap = (!games.is_empty()).then(|| {
                let gaps = games.iter().map(|s| s.completeness_gap.abs());
                context! {
                    exact => games.iter().filter(|s| s.exact).count(),
                    inputs => games.len(),
                    worst_gap => format!("{:.1e}", gaps.fold(0.0f64, f64::max)),
                }
            });
            context! {
                study,
                target => first.target,
                shap,
                n_inputs,
                methods,
                colouring,
                ig,
                lime,
                inputs => shown,
            }
        })
        .collect()
}

/// |completeness gap| / |f(x) − f(baseline)|.
fn relative_gap(s: &AttributionSummary) -> f64 {
    s.completeness_gap.abs() / (s.f_x - s.f_baseline).abs()
}

/// One shown input: its tokens coloured by `colouring`, and per method the token with the
/// largest |attribution| (special tokens aside).
fn attribution_input(
    input: usize,
    rows: &[&TokenAttribution],
    methods: &[String],
    colouring: &str,
    gaps: &[&AttributionSummary],
    fits: &[&AttributionSummary],
) -> Value {
    let of = |method: &str| -> Vec<&TokenAttribution> {
        let mut v: Vec<&TokenAttribution> = rows
            .iter()
            .copied()
            .filter(|r| r.method == method)
            .collect();
        v.sort_by_key(|r| r.position);
        v
    };
    let coloured = of(colouring);
    let scale = coloured
        .iter()
        .map(|r| r.attribution.abs())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let texts: Vec<&str> = coloured.iter().map(|r| r.token.as_str()).collect();
    let token_views: Vec<Value> = coloured
        .iter()
        .zip(token_pieces(&texts))
        .map(|(r, (space, text))| {
            let share = if scale > 0.0 {
                r.attribution / scale
            } else {
                0.0
            };
            let special = if r.is_special { ", special token" } else { "" };
            context! {
                space,
                text,
                special => r.is_special,
                color => signed_colour(share),
                title => format!("{} · {}: {:+.4}{special}", r.token, colouring, r.attribution),
            }
        })
        .collect();
    let top: Vec<Value> = methods
        .iter()
        .map(|method| {
            let best = of(method)
                .into_iter()
                .filter(|r| !r.is_special && r.attribution.is_finite())
                .max_by(|a, b| a.attribution.abs().total_cmp(&b.attribution.abs()));
            match best {
                Some(r) => context! { token => r.token, value => r.attribution },
                None => context! { token => "-", value => f64::NAN },
            }
        })
        .collect();
    let ig = gaps.iter().find(|s| s.input == input).map(|s| {
        context! {
            f_x => s.f_x,
            f_baseline => s.f_baseline,
            gap => s.completeness_gap,
            relative_gap => relative_gap(s),
        }
    });
    let lime_r2 = fits
        .iter()
        .find(|s| s.input == input)
        .map(|s| s.fidelity_r2);
    context! {
        input,
        text => rows[0].text,
        tokens => token_views,
        top,
        ig,
        lime_r2,
    }
}
