//! `[[attention]] flow`: attention rollout and attention flow (Abnar & Zuidema 2020, see
//! [`cavern_probe::attention_flow`]) per input, as token-to-token tables. For every layer `ℓ` of
//! the study the heads of blocks `0..=ℓ` are averaged, the residual connection added
//! (`0.5·A + 0.5·I`), and the result propagated from the embeddings up to block `ℓ`'s output:
//! the value of (from, to) is how much output position `from` after block `ℓ` draws on input
//! token `to`. Rollout rows sum to 1; flow values are the raw maximum flows, in `[0, 1]` and
//! never below rollout's. Inputs longer than [`MAX_PATTERN_TOKENS`] tokens get no rows (flow
//! costs `O(ℓ·t⁴)` and the table `t²` rows per layer and method).

use super::StudyError;
use super::attention::{encode_inputs, host_patterns};
use crate::schema::{AttentionStudy, FlowMethod, MAX_PATTERN_TOKENS};
use crate::table::{Table, TableError};
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::attention::head_block;
use cavern_probe::attention_flow::{Matrix, attention_flow, average_heads_flat, rollout_per_layer};
use serde::Serialize;

/// One (study, input, method, layer, from, to) row of the `attention_flow` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowCell {
    /// Index of the `[[attention]]` study in the file, from 0.
    pub study: usize,
    /// Index of the input in the study's inputs, from 0.
    pub input: usize,
    /// The input text.
    pub text: String,
    /// `rollout` or `flow`.
    pub method: String,
    /// The top block the attention is propagated through.
    pub layer: usize,
    /// Output position after block `layer`, from 0.
    pub from_position: usize,
    /// The token at `from_position`.
    pub from_token: String,
    /// Input token position, from 0.
    pub to_position: usize,
    /// The token at `to_position`.
    pub to_token: String,
    /// Whether the token at `to_position` is a special token (`[CLS]`, `[SEP]`).
    pub to_special: bool,
    /// Rollout or maximum flow from `from_position` to `to_position`.
    pub value: f64,
}

/// Rollout and/or flow of the `index`-th attention study's inputs: one forward pass per batch
/// of inputs, recording the pattern of every block up to the study's highest layer.
pub fn run(
    index: usize,
    study: &AttentionStudy,
    model: &LoadedModel,
    batch_size: usize,
) -> Result<Vec<FlowCell>, StudyError> {
    let Some(&top) = study.layers.iter().max() else {
        return Ok(Vec::new());
    };
    if study.flow.is_empty() {
        return Ok(Vec::new());
    }
    let (encodings, special) = encode_inputs(model, &study.inputs)?;
    let sites: Vec<Site> = (0..=top)
        .map(|layer| Site::new(SitePoint::Pattern, layer))
        .collect();
    let batch_size = batch_size.max(1);
    let mut out = Vec::new();
    for (chunk_index, chunk) in encodings.chunks(batch_size).enumerate() {
        let patterns = host_patterns(model, chunk, &sites)?;
        for (b, encoding) in chunk.iter().enumerate() {
            let n = encoding.ids.len();
            if n > MAX_PATTERN_TOKENS {
                continue;
            }
            let mut layers: Vec<Matrix> = Vec::with_capacity(patterns.len());
            for (flat, dims) in &patterns {
                let heads = dims[1];
                let mut blocks = Vec::with_capacity(heads * n * n);
                for h in 0..heads {
                    blocks.extend(head_block(flat, *dims, b, h, n)?);
                }
                layers.push(average_heads_flat(&blocks, heads, n));
            }
            let input = chunk_index * batch_size + b;
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
        }
    }
    Ok(out)
}

/// The `attention_flow` table.
pub fn table(rows: &[FlowCell]) -> Result<Table, TableError> {
    let int = |f: fn(&FlowCell) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    let text = |f: fn(&FlowCell) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    Table::new("attention_flow")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("input", int(|r| r.input))?
        .with_str("text", text(|r| &r.text))?
        .with_str("method", text(|r| &r.method))?
        .with_u64("layer", int(|r| r.layer))?
        .with_u64("from_position", int(|r| r.from_position))?
        .with_str("from_token", text(|r| &r.from_token))?
        .with_u64("to_position", int(|r| r.to_position))?
        .with_str("to_token", text(|r| &r.to_token))?
        .with_bool("to_special", rows.iter().map(|r| r.to_special).collect())?
        .with_f64("value", rows.iter().map(|r| r.value).collect())
}
