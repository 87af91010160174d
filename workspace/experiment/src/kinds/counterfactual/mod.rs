//! `[[counterfactual]]`: minimal pairs from a template's slots. Every combination of the slot
//! values is a base text; each edit swaps one slot's value for another, and the prediction
//! change per edit is reported, and averaged per (slot, from, to) swap.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{CounterfactualSpec, RawCounterfactual};
pub use tables::{CounterfactualOutput, CounterfactualRow, CounterfactualSwap};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[counterfactual]]` study kind.
pub struct Counterfactual;

impl Study for Counterfactual {
    const NAME: &'static str = "counterfactual";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("counterfactual_texts");
    type Raw = RawCounterfactual;
    type Spec = CounterfactualSpec;
    type Output = CounterfactualOutput;

    fn resolve(
        raw: &Parsed<RawCounterfactual>,
        resolver: &mut Resolver<'_>,
    ) -> Option<CounterfactualSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &CounterfactualSpec) -> Vec<String> {
        spec.texts.clone()
    }

    fn work(_spec: &CounterfactualSpec) -> usize {
        1
    }

    fn run(
        spec: &CounterfactualSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<CounterfactualOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut CounterfactualOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.swaps]
    }

    fn findings(output: &CounterfactualOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &CounterfactualOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{encoder, problems, section, spec};

    #[test]
    fn every_combination_is_rendered_with_its_slots() {
        let tables = "[[counterfactual]]\ntemplate = \"the {{ noun }} was {{ adj }}\"\nvars = { noun = [\"film\", \"meal\"], adj = [\"good\", \"bad\"] }";
        let study = spec::<Counterfactual>(tables, encoder());
        assert_eq!(
            study.texts,
            // Slots in name order, the last varying fastest.
            [
                "the film was good",
                "the meal was good",
                "the film was bad",
                "the meal was bad"
            ]
        );
        assert_eq!(
            study.slots[0],
            (
                "adj".to_string(),
                vec!["good".to_string(), "bad".to_string()]
            )
        );
        let found = problems::<Counterfactual>(
            "[[counterfactual]]\ntemplate = \"the {{ noun }}\"\nvars = { noun = [\"film\"] }",
            encoder(),
        );
        assert!(
            found[0].contains("slot `noun` in [[counterfactual]] has one value"),
            "{found:?}"
        );
    }

    #[test]
    fn the_section_shows_the_largest_swaps_first() {
        let swap = |to: &str, mean_delta_p: f64| CounterfactualSwap {
            study: 0,
            slot: "adj".into(),
            from: "good".into(),
            to: to.into(),
            target: "predicted".into(),
            n_pairs: 2,
            mean_delta_p,
            flip_rate: 0.5,
        };
        let output = CounterfactualOutput {
            rows: Vec::new(),
            swaps: vec![swap("fine", 0.01), swap("<i>", -0.6)],
        };
        let html = section::<Counterfactual>(output).expect("a section");
        let large = html.find("&lt;i&gt;").expect("escaped");
        let small = html.find("<td>fine</td>").expect("shown");
        assert!(large < small, "{html}");
        assert!(html.contains("(2 of 2)"), "{html}");
    }
}
