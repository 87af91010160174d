//! `[[influence]]`: influence functions (Koh & Liang 2017) of the `[head]`'s training examples
//! on each input's prediction — the examples that most help and most harm it — optionally
//! checked against leave-one-out retraining.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{InfluenceSpec, RawInfluence};
pub use tables::{InfluenceOutput, InfluenceRow, InfluenceSummary};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[influence]]` study kind.
pub struct Influence;

impl Study for Influence {
    const NAME: &'static str = "influence";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("influence_inputs");
    type Raw = RawInfluence;
    type Spec = InfluenceSpec;
    type Output = InfluenceOutput;

    fn resolve(raw: &Parsed<RawInfluence>, resolver: &mut Resolver<'_>) -> Option<InfluenceSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &InfluenceSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(spec: &InfluenceSpec) -> usize {
        spec.inputs.len()
    }

    fn run(
        spec: &InfluenceSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<InfluenceOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut InfluenceOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.summary]
    }

    fn findings(output: &InfluenceOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &InfluenceOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{encoder, problems, section, spec};

    const HEAD: &str = "[head]\nclasses = [\"bad\", \"good\"]\n";
    const STUDY: &str = "[[influence]]\ninputs = { examples = [\"x\", \"y\"] }";

    #[test]
    fn defaults_and_the_heads_penalty() {
        let study = spec::<Influence>(&format!("{HEAD}\n{STUDY}"), encoder());
        assert_eq!((study.top, study.retrain, study.l2), (10, false, 1.0));
        assert_eq!(study.inputs, ["x", "y"]);
        let study = spec::<Influence>(
            &format!("{HEAD}l2 = 0.5\n{STUDY}\ntop = 3\nretrain = true"),
            encoder(),
        );
        assert_eq!((study.top, study.retrain, study.l2), (3, true, 0.5));
    }

    #[test]
    fn without_a_head_the_table_header_is_the_error() {
        let found = problems::<Influence>(STUDY, encoder());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].ends_with(
                "[[influence]] needs a [head]: it explains the classifier the experiment trains"
            ),
            "{found:?}"
        );
        let found = problems::<Influence>(&format!("{HEAD}l2 = 0.0\n{STUDY}"), encoder());
        assert!(
            found[0].contains("needs a [head] with `l2` above 0"),
            "{found:?}"
        );
        let found = problems::<Influence>(&format!("{HEAD}\n{STUDY}\ntop = 0"), encoder());
        assert!(
            found[0].contains("`top` in [[influence]] must be at least 1"),
            "{found:?}"
        );
    }

    fn row(input: usize, role: &str, rank: usize, example_text: &str, effect: f64) -> InfluenceRow {
        InfluenceRow {
            study: 0,
            input,
            text: format!("<b>input {input}</b>"),
            class: "good".into(),
            role: role.into(),
            rank,
            set: if effect < 0.0 { "good" } else { "bad" }.into(),
            example: rank,
            example_text: example_text.into(),
            effect,
            actual: effect * 1.05,
        }
    }

    pub(super) fn output() -> InfluenceOutput {
        let summary = (0..2)
            .map(|input| InfluenceSummary {
                study: 0,
                input,
                text: format!("<b>input {input}</b>"),
                class: "good".into(),
                log_odds: 2.5,
                head_log_odds: 2.4,
                n_train: 12,
                compared: 12,
                spearman: [0.95, 0.85][input],
                largest_actual: 0.3,
            })
            .collect();
        InfluenceOutput {
            examples: vec![
                row(0, "helpful", 1, "superb film", -0.3),
                row(0, "helpful", 2, "great meal", -0.1),
                row(0, "harmful", 1, "a red film", 0.2),
                row(1, "helpful", 1, "lovely song", -0.25),
            ],
            summary,
        }
    }

    #[test]
    fn the_section_lists_each_inputs_top_examples_escaped() {
        let html = section::<Influence>(output()).expect("a section");
        assert!(
            html.contains("&lt;b&gt;input 0&lt;&#x2f;b&gt;")
                || html.contains("&lt;b&gt;input 0&lt;/b&gt;"),
            "{html}"
        );
        assert!(html.contains("superb film"), "{html}");
        assert!(html.contains("−0.300") || html.contains("-0.300"), "{html}");
        assert!(html.contains("0.850"), "lowest Spearman: {html}");
    }
}
