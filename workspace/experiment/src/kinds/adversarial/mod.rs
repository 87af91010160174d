//! `[[adversarial]]`: for each input, the fewest token substitutions or deletions that flip the
//! classifier's decision, found by a greedy search whose substitutions are ranked by HotFlip's
//! first-order scores and checked with exact forward passes.

mod findings;
mod hotflip;
mod report;
mod run;
mod search;
mod spec;
mod tables;

pub use spec::{AdversarialSpec, RawAdversarial};
pub use tables::{AdversarialOutput, AdversarialRow, AdversarialToken};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[adversarial]]` study kind.
pub struct Adversarial;

impl Study for Adversarial {
    const NAME: &'static str = "adversarial";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("adversarial_inputs");
    type Raw = RawAdversarial;
    type Spec = AdversarialSpec;
    type Output = AdversarialOutput;

    fn resolve(
        raw: &Parsed<RawAdversarial>,
        resolver: &mut Resolver<'_>,
    ) -> Option<AdversarialSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &AdversarialSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(spec: &AdversarialSpec) -> usize {
        spec.inputs.len()
    }

    fn run(
        spec: &AdversarialSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<AdversarialOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut AdversarialOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.rows]
    }

    fn findings(output: &AdversarialOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &AdversarialOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decoder, encoder, problems, spec};

    const STUDY: &str = "[[adversarial]]\ninputs = { examples = [\"the film was good\"] }";

    #[test]
    fn defaults_a_vocabulary_and_what_is_refused() {
        let study = spec::<Adversarial>(STUDY, encoder());
        assert_eq!((study.max_edits, study.candidates), (3, 20));
        assert_eq!(study.vocabulary, None);
        let study = spec::<Adversarial>(
            &format!("{STUDY}\nvocabulary = {{ examples = [\"bad\", \"dull\"] }}\nmax_edits = 1"),
            encoder(),
        );
        assert_eq!(study.vocabulary, Some(vec!["bad".into(), "dull".into()]));
        assert_eq!(study.max_edits, 1);
        let classes = "word_classes = { examples = [\"good bad\", \"red  blue\"] }";
        let study = spec::<Adversarial>(&format!("{STUDY}\n{classes}"), encoder());
        let pair = |a: &str, b: &str| vec![a.to_string(), b.to_string()];
        assert_eq!(
            study.word_classes,
            Some(vec![pair("good", "bad"), pair("red", "blue")])
        );
        let found = problems::<Adversarial>(
            &format!("{STUDY}\n{classes}\nvocabulary = {{ examples = [\"bad\"] }}"),
            encoder(),
        );
        assert!(
            found[0].contains("has both `vocabulary` and `word_classes`"),
            "{found:?}"
        );
        let found = problems::<Adversarial>(&format!("{STUDY}\ncandidates = 0"), encoder());
        assert!(
            found[0].contains("`candidates` in [[adversarial]] must be at least 1"),
            "{found:?}"
        );
        let found = problems::<Adversarial>(STUDY, decoder());
        assert!(
            found[0].contains(
                "[[adversarial]] flips a classifier's decision, and model `toy` has no classifier"
            ),
            "{found:?}"
        );
        let found = problems::<Adversarial>("[[adversarial]]\nmax_edits = 2", encoder());
        assert!(
            found[0].contains("missing required key `inputs`"),
            "{found:?}"
        );
    }
}
