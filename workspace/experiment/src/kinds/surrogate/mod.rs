//! `[[surrogate]]`: a global student model — a decision tree over word-set features — trained
//! to mimic the model's predicted class on an input set, read as rules, with its held-out
//! fidelity.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{RawSurrogate, RawWords, SurrogateSpec};
pub use tables::{SurrogateOutput, SurrogateRule, SurrogateSummary};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[surrogate]]` study kind.
pub struct Surrogate;

impl Study for Surrogate {
    const NAME: &'static str = "surrogate";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("surrogate_inputs");
    type Raw = RawSurrogate;
    type Spec = SurrogateSpec;
    type Output = SurrogateOutput;

    fn resolve(raw: &Parsed<RawSurrogate>, resolver: &mut Resolver<'_>) -> Option<SurrogateSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &SurrogateSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(spec: &SurrogateSpec) -> usize {
        spec.inputs.len()
    }

    fn run(
        spec: &SurrogateSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<SurrogateOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut SurrogateOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.summary]
    }

    fn findings(output: &SurrogateOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &SurrogateOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decoder, encoder, problems, section, spec};

    const STUDY: &str = "[[surrogate]]\ninputs = { examples = [\"it was not good\", \"a b\", \"c d\", \"e f\"] }\nwords = { negation = [\"not\", \"Never\"], colour = [\"red\"] }";

    #[test]
    fn word_sets_in_name_order_and_defaults() {
        let study = spec::<Surrogate>(STUDY, encoder());
        let names: Vec<&str> = study.words.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["colour", "negation"]);
        assert_eq!(study.words[1].words, ["not", "Never"]);
        assert_eq!((study.max_depth, study.holdout), (3, 0.25));
    }

    #[test]
    fn bad_word_sets_inputs_and_models_are_reported() {
        let found = problems::<Surrogate>(
            "[[surrogate]]\ninputs = { examples = [\"a\", \"b\", \"c\", \"d\"] }\nwords = { x = [\"--\"], y = [] }",
            encoder(),
        );
        assert!(
            found.iter().any(|p| p
                .contains("`words.x` of [[surrogate]] has \"--\", which has no letters or digits")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("`words.y` of [[surrogate]]")),
            "{found:?}"
        );
        let found = problems::<Surrogate>(
            "[[surrogate]]\ninputs = { examples = [\"a\"] }\nwords = { x = \"no_such_file.txt\" }",
            encoder(),
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("has 1 texts; a student needs at least 4")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("cannot read `no_such_file.txt`")),
            "{found:?}"
        );
        let found = problems::<Surrogate>(STUDY, decoder());
        assert!(
            found[0].contains(
                "[[surrogate]] mimics a classifier's predicted class, and model `toy` has none"
            ),
            "{found:?}"
        );
        let found = problems::<Surrogate>(
            "[[surrogate]]\ninputs = { examples = [\"a\", \"b\", \"c\", \"d\"] }",
            encoder(),
        );
        assert!(found[0].contains("`words`"), "{found:?}");
    }

    pub(super) fn output() -> SurrogateOutput {
        let rule = |rule: usize, conditions: &str, class: &str| SurrogateRule {
            study: 0,
            rule,
            conditions: conditions.into(),
            class: class.into(),
            support: 150,
            agree: 150,
            test_support: 50,
            test_agree: 49 + usize::from(rule != 0),
        };
        SurrogateOutput {
            summary: vec![SurrogateSummary {
                study: 0,
                features: "colour, negation, positive".into(),
                used: "negation, positive".into(),
                unused: "colour".into(),
                max_depth: 3,
                depth: 2,
                leaves: 4,
                n_train: 600,
                n_test: 200,
                train_fidelity: 1.0,
                fidelity: 0.995,
                majority: 0.52,
            }],
            rules: vec![
                rule(0, "positive = 0 and negation = 0", "negative"),
                rule(1, "positive = 0 and negation = 1", "positive"),
                rule(2, "positive = 1 and negation = 0", "<i>positive</i>"),
                rule(3, "positive = 1 and negation = 1", "negative"),
            ],
        }
    }

    #[test]
    fn the_section_shows_fidelity_and_rules() {
        let html = section::<Surrogate>(output()).expect("a section");
        assert!(html.contains("fidelity 99.5%"), "{html}");
        assert!(
            html.contains("<td>positive = 0 and negation = 1</td><td>positive</td>"),
            "{html}"
        );
        assert!(html.contains("&lt;i&gt;positive"), "{html}");
        assert!(html.contains("unused: colour"), "{html}");
        assert!(html.contains("<td class=\"num\">50 (49)</td>"), "{html}");
    }
}
