//! `[[attention]]` as written and resolved.

use crate::choice_enum;
use crate::plan::raw::{RawInputs, RawLayers, RawSource};
use crate::plan::{Parsed, RawTable, Resolver, TableCtx};
use serde::Deserialize;
use toml::Spanned;

/// Longest input (in tokens) a study writes the average pattern, rollout and flow for.
pub const MAX_PATTERN_TOKENS: usize = 64;

/// `[[attention]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawAttention {
    pub inputs: Option<Spanned<RawInputs>>,
    pub layers: Option<Spanned<RawLayers>>,
    pub average_pattern: Option<Spanned<bool>>,
    pub flow: Option<Spanned<Vec<Spanned<String>>>>,
}

impl RawTable for RawAttention {
    const KEYS: &'static [&'static str] = &["inputs", "layers", "average_pattern", "flow"];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("inputs", RawSource::KEYS)];
}

choice_enum! {
    /// How `[[attention]]` propagates attention through the layers to the input tokens.
    FlowMethod {
        /// Attention rollout: the product of the residual-adjusted, head-averaged layers.
        Rollout = "rollout",
        /// Attention flow: maximum flow through the same layers as a graph.
        Flow = "flow",
    }
}

/// A resolved `[[attention]]`: attention statistics per layer and head over an input set.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionSpec {
    pub inputs: Vec<String>,
    pub layers: Vec<usize>,
    /// Also write the average pattern (when every input has the same token length, at most
    /// [`MAX_PATTERN_TOKENS`]).
    pub average_pattern: bool,
    /// Attention rollout and/or flow per input, through blocks `0..=layer` for every layer
    /// (none when empty).
    pub flow: Vec<FlowMethod>,
}

pub(super) fn resolve(
    parsed: &Parsed<RawAttention>,
    r: &mut Resolver<'_>,
) -> Option<AttentionSpec> {
    let (t, raw) = (TableCtx::new("[[attention]]", parsed), parsed.raw.get_ref());
    let inputs = r.required_inputs(&raw.inputs, &t);
    let layers = r.required(&raw.layers, "layers", &t, None);
    let layers = layers.and_then(|layers| r.layers(layers, t.name));
    let average_pattern = r.flag(&raw.average_pattern, true, "average_pattern", &t);
    let flow = r.optional_choice_list::<FlowMethod>(&raw.flow, "flow", "flow method", &t);
    Some(AttentionSpec {
        inputs: inputs?,
        layers: layers?,
        average_pattern: average_pattern?,
        flow: flow?.unwrap_or_default(),
    })
}
