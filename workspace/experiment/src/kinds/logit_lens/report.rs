//! The report's logit lens section: per study, a layer table of the answer's and distractor's
//! probability and rank (averaged over prompts) with the first prompt's top token, and a layer ×
//! component grid of direct logit attribution averaged over prompts.

use super::tables::{AttributionRow, LensRow, LensTopRow, LogitLensOutput};
use crate::views::signed_colour;
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

pub(super) fn section(output: &LogitLensOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let studies: Vec<Value> = group_by(&output.totals, |r| r.study)
        .into_iter()
        .map(|(study, totals)| {
            let n = totals.len().max(1) as f64;
            let mean = |f: &dyn Fn(&super::tables::AttributionTotal) -> f64| {
                totals.iter().map(|t| f(t)).sum::<f64>() / n
            };
            let lens: Vec<&LensRow> = output.lens.iter().filter(|r| r.study == study).collect();
            let top: Vec<&LensTopRow> = output.top.iter().filter(|r| r.study == study).collect();
            let parts: Vec<&AttributionRow> = (output.attribution.iter())
                .filter(|r| r.study == study)
                .collect();
            context! {
                study,
                prompts => totals.len(),
                example => totals.first().map(|t| t.text.clone()),
                logit_diff => mean(&|t| t.logit_diff),
                attributed => mean(&|t| t.attributed),
                lens => lens_rows(&lens, &top),
                attribution => attribution_view(&parts, n),
            }
        })
        .collect();
    env.render(TEMPLATE, context! { studies })
}

/// Per layer: the answer's and the distractor's mean probability and rank, how many prompts
/// have the answer top-1, and the first prompt's top token.
fn lens_rows(lens: &[&LensRow], top: &[&LensTopRow]) -> Vec<Value> {
    group_by(lens.iter().copied(), |r| r.layer)
        .into_iter()
        .map(|(layer, rows)| {
            let of = |target: &str| -> (f64, f64, usize) {
                let picked: Vec<_> = rows.iter().filter(|r| r.target == target).collect();
                let n = picked.len().max(1) as f64;
                let prob = picked.iter().map(|r| r.prob).sum::<f64>() / n;
                let rank = picked.iter().map(|r| r.rank as f64).sum::<f64>() / n;
                (prob, rank, picked.iter().filter(|r| r.rank == 0).count())
            };
            let (answer_prob, answer_rank, answer_top1) = of("answer");
            let (distractor_prob, distractor_rank, _) = of("distractor");
            let first_top = top
                .iter()
                .find(|r| r.layer == layer && r.prompt == 0 && r.rank == 0);
            context! {
                layer,
                answer_prob => format!("{answer_prob:.3}"),
                answer_colour => signed_colour(answer_prob),
                answer_rank => format!("{answer_rank:.1}"),
                answer_top1,
                distractor_prob => format!("{distractor_prob:.3}"),
                distractor_colour => signed_colour(-distractor_prob),
                distractor_rank => format!("{distractor_rank:.1}"),
                top_token => first_top.map(|r| format!("{:?} {:.2}", r.token, r.prob)),
            }
        })
        .collect()
}

/// The mean contribution of every component over prompts: a layer × (heads, attention bias,
/// MLP) grid coloured against the largest |mean|, and the components outside blocks.
fn attribution_view(parts: &[&AttributionRow], prompts: f64) -> Value {
    let means: Vec<(&AttributionRow, f64)> = group_by(parts.iter().copied(), |r| {
        (r.component.clone(), r.layer, r.head)
    })
    .into_iter()
    .map(|(_, rows)| {
        (
            rows[0],
            rows.iter().map(|r| r.contribution).sum::<f64>() / prompts,
        )
    })
    .collect();
    let largest = means
        .iter()
        .fold(0.0f64, |m, (_, v)| m.max(v.abs()))
        .max(1e-12);
    let cell = |v: f64| {
        context! { text => format!("{v:.2}"), color => signed_colour(v / largest) }
    };
    let heads = (parts.iter().filter_map(|r| r.head).max()).map_or(0, |h| h + 1);
    let in_blocks: Vec<&(&AttributionRow, f64)> =
        means.iter().filter(|(r, _)| r.layer.is_some()).collect();
    let grid: Vec<Value> = group_by(in_blocks.iter().copied(), |(r, _)| r.layer)
        .into_iter()
        .map(|(layer, rows)| {
            let find = |component: &str, head: Option<usize>| {
                (rows.iter())
                    .find(|(r, _)| r.component == component && r.head == head)
                    .map_or(0.0, |(_, v)| *v)
            };
            let mut values: Vec<Value> = (0..heads).map(|h| cell(find("head", Some(h)))).collect();
            values.push(cell(find("attn_bias", None)));
            values.push(cell(find("mlp", None)));
            context! { layer, values }
        })
        .collect();
    let outside: Vec<Value> = (means.iter())
        .filter(|(r, _)| r.layer.is_none())
        .map(|(r, v)| context! { component => r.component.clone(), value => format!("{v:.3}") })
        .collect();
    context! { heads => (0..heads).collect::<Vec<_>>(), grid, outside }
}
