//! Attention rollout and attention flow (Abnar & Zuidema 2020, see
//! [`cavern_probe::attention_flow`]) per input, as token-to-token tables. For every layer `ℓ` of
//! the study the heads of blocks `0..=ℓ` are averaged, the residual connection added
//! (`0.5·A + 0.5·I`), and the result propagated from the embeddings up to block `ℓ`'s output:
//! the value of (from, to) is how much output position `from` after block `ℓ` draws on input
//! token `to`. Rollout rows sum to 1; flow values are the raw maximum flows, in `[0, 1]` and
//! never below rollout's. Inputs longer than [`MAX_PATTERN_TOKENS`] tokens get no rows (flow
//! costs `O(ℓ·t⁴)` and the table `t²` rows per layer and method).

use super::patterns::each_pattern;
use super::spec::{AttentionSpec, FlowMethod, MAX_PATTERN_TOKENS};
use super::tables::FlowCell;
use crate::engine::StudyError;
use cavern_model::tokenizer::Encoding;
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::attention_flow::{Matrix, attention_flow, average_heads_flat, rollout_per_layer};

/// Rollout and/or flow of the study's inputs: the pattern of every block up to the study's
/// highest layer, `batch_size` inputs a pass.
pub(super) fn flow(
    index: usize,
    study: &AttentionSpec,
    model: &LoadedModel,
    (encodings, special): (&[Encoding], &[Vec<bool>]),
    batch_size: usize,
) -> Result<Vec<FlowCell>, StudyError> {
    let Some(&top) = study.layers.iter().max() else {
        return Ok(Vec::new());
    };
    if study.flow.is_empty() {
        return Ok(Vec::new());
    }
    let sites: Vec<Site> = (0..=top)
        .map(|layer| Site::new(SitePoint::Pattern, layer))
        .collect();
    let mut out = Vec::new();
    let limit = Some(MAX_PATTERN_TOKENS);
    each_pattern(
        model,
        encodings,
        &sites,
        batch_size,
        limit,
        |input, patterns| {
            let encoding = &encodings[input];
            let n = encoding.ids.len();
            let layers: Vec<Matrix> = (patterns.iter())
                .map(|heads| average_heads_flat(&heads.concat(), heads.len(), n))
                .collect();
            let rollouts = rollout_per_layer(&layers);
            for &method in &study.flow {
                for &layer in &study.layers {
                    let values = match method {
                        FlowMethod::Rollout => rollouts[layer].clone(),
                        FlowMethod::Flow => attention_flow(&layers[..=layer]),
                    };
                    let cell = |from: usize, to: usize, value: f64| FlowCell {
                        study: index,
                        input,
                        text: study.inputs[input].clone(),
                        method: method.as_str().to_string(),
                        layer,
                        from_position: from,
                        from_token: encoding.tokens[from].clone(),
                        to_position: to,
                        to_token: encoding.tokens[to].clone(),
                        to_special: special[input].get(to).copied().unwrap_or(false),
                        value,
                    };
                    for (from, row) in values.iter().enumerate() {
                        out.extend(row.iter().enumerate().map(|(to, &v)| cell(from, to, v)));
                    }
                }
            }
            Ok(())
        },
    )?;
    Ok(out)
}
