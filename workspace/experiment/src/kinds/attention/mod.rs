//! `[[attention]]`: statistics of every head's attention pattern at the chosen layers over an
//! input set, the average pattern when the inputs are short and equally long, and attention
//! rollout and flow per input on request.

mod findings;
mod flow;
mod patterns;
mod report;
mod spec;
mod statistics;
mod tables;

pub use spec::{AttentionSpec, FlowMethod, MAX_PATTERN_TOKENS, RawAttention};
pub use tables::{AttentionHeadRow, AttentionOutput, FlowCell, PatternCell};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[attention]]` study kind.
pub struct Attention;

impl Study for Attention {
    const NAME: &'static str = "attention";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("attention_inputs");
    type Raw = RawAttention;
    type Spec = AttentionSpec;
    type Output = AttentionOutput;

    fn resolve(raw: &Parsed<RawAttention>, resolver: &mut Resolver<'_>) -> Option<AttentionSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &AttentionSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(spec: &AttentionSpec) -> usize {
        spec.layers.len()
    }

    fn run(
        spec: &AttentionSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<AttentionOutput, StudyError> {
        cx.progress
            .set_message(format!("attention study {}", cx.index));
        let (model, batch_size) = (cx.model, cx.batch_size());
        let (encodings, special) = patterns::encode_inputs(model, &spec.inputs)?;
        let inputs = (encodings.as_slice(), special.as_slice());
        let (heads, pattern) = statistics::statistics(cx.index, spec, model, inputs, batch_size)?;
        cx.progress.inc(spec.layers.len() as u64);
        let flow = flow::flow(cx.index, spec, model, inputs, batch_size)?;
        Ok(AttentionOutput {
            heads,
            pattern,
            flow,
        })
    }

    fn summary(output: &mut AttentionOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.heads]
    }

    fn findings(output: &AttentionOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &AttentionOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{encoder, problems, section, spec};

    #[test]
    fn the_average_pattern_is_asked_for_and_flow_is_not_by_default() {
        let tables = "[[attention]]\ninputs = { examples = [\"x\"] }\nlayers = [1]";
        let attention = spec::<Attention>(tables, encoder());
        assert!(attention.average_pattern && attention.flow.is_empty());
        let tables = format!("{tables}\nflow = [\"flow\", \"rollout\"]\naverage_pattern = false");
        let attention = spec::<Attention>(&tables, encoder());
        assert_eq!(attention.flow, [FlowMethod::Flow, FlowMethod::Rollout]);
        assert!(!attention.average_pattern);
        let found = problems::<Attention>(
            "[[attention]]\ninputs = { examples = [\"x\"] }\nlayers = [2]\nflow = [\"flow\", \"flow\"]",
            encoder(),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("layer 2 is out of range"), "{found:?}");
        assert!(
            found[1].contains("flow method `flow` is listed twice"),
            "{found:?}"
        );
    }

    /// An `attention_heads` row of study 0 with the given entropy and previous-token weight.
    fn head(layer: usize, head: usize, entropy: f64, previous: f64) -> AttentionHeadRow {
        AttentionHeadRow {
            study: 0,
            layer,
            head,
            n_inputs: 8,
            min_tokens: 5,
            max_tokens: 9,
            entropy_mean: entropy,
            entropy_std: 0.1,
            quality_mean: 1.0 - entropy / 2.0,
            quality_std: 0.1,
            self_mean: 0.2,
            previous_mean: previous,
            first_mean: 0.3,
            special_mean: 0.0,
            average_pattern: "lengths_differ".into(),
        }
    }

    #[test]
    fn the_section_names_the_sharpest_and_the_previous_token_head_per_layer() {
        let output = AttentionOutput {
            heads: vec![
                head(0, 0, 0.9, 0.1),
                head(0, 1, 0.25, 0.05),
                head(0, 2, 0.6, 0.875),
                head(1, 0, f64::NAN, f64::NAN),
            ],
            ..AttentionOutput::default()
        };
        let html = section::<Attention>(output).expect("a section");
        assert!(
            html.contains("Study 0 · 8 inputs of 5 to 9 tokens"),
            "{html}"
        );
        assert!(html.contains("the inputs have 5 to 9 tokens"), "{html}");
        // Layer 0: head 1 is the sharpest (entropy 0.25, Q 0.875), head 2 the previous-token head.
        let layer0 = concat!(
            r#"<tr><td class="num">0</td><td class="num">3</td><td class="num">1</td>"#,
            r#"<td class="num">0.250</td><td class="num">0.875</td>"#,
            r#"<td class="num">2</td><td class="num">0.875</td>"#,
        );
        assert!(html.contains(layer0), "{html}");
        // Layer 1 has no defined entropy or previous-token weight (one-token inputs only).
        let layer1 = r#"<tr><td class="num">1</td><td class="num">1</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>"#;
        assert!(html.contains(layer1), "{html}");
        assert!(
            !html.contains("Attention rollout and flow"),
            "no flow rows, no flow part"
        );
    }

    const EVIL: &str = "<script>alert(1)</script>";

    /// Rollout of one two-token input `<script> good` at layer 0, the first token special: it
    /// receives 0.75 of 1 on average, `good` 0.25.
    fn flow_rows() -> Vec<FlowCell> {
        let tokens = [EVIL, "good"];
        let values = [[1.0, 0.0], [0.5, 0.5]];
        let mut rows = Vec::new();
        for (from, row) in values.iter().enumerate() {
            for (to, &value) in row.iter().enumerate() {
                rows.push(FlowCell {
                    study: 0,
                    input: 0,
                    text: format!("{EVIL} good"),
                    method: "rollout".into(),
                    layer: 0,
                    from_position: from,
                    from_token: tokens[from].into(),
                    to_position: to,
                    to_token: tokens[to].into(),
                    to_special: to == 0,
                    value,
                });
            }
        }
        rows
    }

    #[test]
    fn the_section_colours_tokens_by_the_flow_they_receive() {
        let output = AttentionOutput {
            flow: flow_rows(),
            ..AttentionOutput::default()
        };
        let html = section::<Attention>(output).expect("a section");
        let flow = html
            .split("<h2>Attention rollout and flow</h2>")
            .nth(1)
            .expect("a flow part");
        assert!(
            flow.contains("Study 0 · rollout through layer 0 · 1 inputs"),
            "{flow}"
        );
        // Scaled by the largest mean among tokens that are not special (0.25): `good` fully
        // blue, and the special token, three times stronger, no more.
        assert!(
            flow.contains(r#"<span class="tok" style="background-color: rgba(33, 102, 172, 0.65)" title="good · mean rollout received: 0.2500">good</span>"#),
            "{flow}"
        );
        assert!(
            flow.contains(r#"<span class="tok special" style="background-color: rgba(33, 102, 172, 0.65)" title="&lt;script&gt;"#),
            "{flow}"
        );
    }
}
