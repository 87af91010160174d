//! Resolving `[[attention]]` studies: their inputs and layers.

use super::parse::Parsed;
use super::{Resolver, TableCtx};
use crate::schema::{AttentionStudy, FlowMethod, RawAttention};

impl Resolver<'_> {
    pub(super) fn attention(&mut self, parsed: &Parsed<RawAttention>) -> Option<AttentionStudy> {
        let (t, raw) = (TableCtx::new("[[attention]]", parsed), parsed.raw.get_ref());
        let help = "give a file of texts, one per line, or a table with `file`, `examples` or \
                    `template`";
        let inputs = self.required(&raw.inputs, "inputs", &t, Some(help.into()));
        let inputs = inputs.and_then(|inputs| self.inputs(inputs, &t));
        let layers = self.required(&raw.layers, "layers", &t, None);
        let layers = layers.and_then(|layers| self.layers(layers, t.name));
        let average_pattern = t
            .optional(&raw.average_pattern, "average_pattern")
            .map(|value| value.is_none_or(|v| *v.get_ref()));
        let flow = self.optional_choice_list::<FlowMethod>(&raw.flow, "flow", "flow method", &t);
        Some(AttentionStudy {
            inputs: inputs?,
            layers: layers?,
            average_pattern: average_pattern?,
            flow: flow?.unwrap_or_default(),
        })
    }
}
