//! The report's attention sections: per study and layer the sharpest head and the heads that
//! attend most to the previous and the first token; and each input's tokens coloured by the
//! attention rollout or flow they receive.

use super::spec::MAX_PATTERN_TOKENS;
use super::tables::{AttentionHeadRow, AttentionOutput, FlowCell};
use crate::views::{signed_colour, token_pieces};
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

pub(super) fn section(output: &AttentionOutput, env: &ReportEnv) -> Result<String, ReportError> {
    env.render(
        TEMPLATE,
        context! {
            attention_studies => attention_summary(&output.heads),
            flow_studies => flow_views(&output.flow),
        },
    )
}

/// Per attention study: how its average pattern went, and per layer the head with the lowest
/// mean entropy and the heads that attend most to the previous and to the first token.
fn attention_summary(rows: &[AttentionHeadRow]) -> Vec<Value> {
    group_by(rows, |r| r.study)
        .into_iter()
        .map(|(study, heads)| {
            let first = heads[0];
            let pattern = match first.average_pattern.as_str() {
                "written" => format!(
                    "written to tables/attention_pattern ({} tokens per input)",
                    first.max_tokens
                ),
                "lengths_differ" => format!(
                    "not written, since the inputs have {} to {} tokens and an average needs \
                     equal lengths",
                    first.min_tokens, first.max_tokens
                ),
                "too_long" => format!(
                    "not written, since the inputs have {} tokens, more than {}",
                    first.max_tokens, MAX_PATTERN_TOKENS
                ),
                _ => "not asked for (average_pattern = false)".to_owned(),
            };
            let layers: Vec<Value> = group_by(heads.iter().copied(), |r| r.layer)
                .into_iter()
                .map(|(layer, heads)| {
                    let best = |score: fn(&AttentionHeadRow) -> f64| {
                        let finite = heads.iter().filter(|h| score(h).is_finite());
                        finite
                            .max_by(|a, b| score(a).total_cmp(&score(b)))
                            .map(|h| context! { head => h.head, value => score(h) })
                    };
                    let sharpest = heads
                        .iter()
                        .filter(|h| h.entropy_mean.is_finite())
                        .min_by(|a, b| a.entropy_mean.total_cmp(&b.entropy_mean))
                        .map(|h| {
                            let (entropy, quality) = (h.entropy_mean, h.quality_mean);
                            context! { head => h.head, entropy, quality }
                        });
                    context! {
                        layer,
                        heads => heads.len(),
                        sharpest,
                        previous => best(|h| h.previous_mean),
                        first => best(|h| h.first_mean),
                    }
                })
                .collect();
            context! {
                study,
                n_inputs => first.n_inputs,
                min_tokens => first.min_tokens,
                max_tokens => first.max_tokens,
                pattern,
                layers,
            }
        })
        .collect()
}

/// Inputs of each attention study shown with their rollout and flow.
const SHOWN_FLOW_INPUTS: usize = 10;

/// Per (attention study, method): at the study's top layer, each shown input's tokens coloured
/// by the mean over output positions of the value they receive (for a mean-pooled classifier,
/// the share of the pooled output that comes from the token), relative to the input's largest
/// among tokens that are not special (`[CLS]` and `[SEP]` collect most of it in BERT models).
fn flow_views(cells: &[FlowCell]) -> Vec<Value> {
    group_by(cells, |c| (c.study, c.method.clone()))
        .into_iter()
        .map(|((study, method), rows)| {
            let layer = rows.iter().map(|c| c.layer).max().unwrap_or(0);
            let inputs = group_by(rows.into_iter().filter(|c| c.layer == layer), |c| c.input);
            let n_inputs = inputs.len();
            let shown: Vec<Value> = inputs
                .into_iter()
                .take(SHOWN_FLOW_INPUTS)
                .map(|(input, rows)| flow_input(input, &rows, &method))
                .collect();
            context! { study, method, layer, n_inputs, inputs => shown }
        })
        .collect()
}

/// One input's tokens coloured by the mean value they receive over output positions.
fn flow_input(input: usize, rows: &[&FlowCell], method: &str) -> Value {
    let n = rows.iter().map(|c| c.to_position + 1).max().unwrap_or(0);
    let mut tokens = vec![String::new(); n];
    let mut special = vec![false; n];
    let mut received = vec![0.0f64; n];
    for c in rows {
        tokens[c.to_position] = c.to_token.clone();
        special[c.to_position] = c.to_special;
        received[c.to_position] += c.value / n as f64;
    }
    let scale = received
        .iter()
        .zip(&special)
        .filter(|(_, s)| !**s)
        .fold(0.0f64, |m, (v, _)| m.max(*v));
    let texts: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let token_views: Vec<Value> = received
        .iter()
        .zip(tokens.iter().zip(&special))
        .zip(token_pieces(&texts))
        .map(|((&value, (token, &special)), (space, text))| {
            let share = if scale > 0.0 { value / scale } else { 0.0 };
            context! {
                space,
                text,
                special,
                color => signed_colour(share),
                title => format!("{token} · mean {method} received: {value:.4}"),
            }
        })
        .collect();
    context! { input, text => rows[0].text, tokens => token_views }
}
