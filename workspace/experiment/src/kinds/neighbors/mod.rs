//! `[[neighbors]]`: example-based explanations in activation space — each input's nearest
//! examples of the `[concepts]` sets, and MMD-critic prototypes and criticisms of that
//! reference set.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{NeighborsSpec, RawNeighbors, WitnessChoice};
pub use tables::{Neighbor, NeighborsOutput, Prototype};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};

/// The `[[neighbors]]` study kind.
pub struct Neighbors;

impl Study for Neighbors {
    const NAME: &'static str = "neighbors";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("neighbors_inputs");
    type Raw = RawNeighbors;
    type Spec = NeighborsSpec;
    type Output = NeighborsOutput;

    fn resolve(raw: &Parsed<RawNeighbors>, resolver: &mut Resolver<'_>) -> Option<NeighborsSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &NeighborsSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(_spec: &NeighborsSpec) -> usize {
        1
    }

    fn run(
        spec: &NeighborsSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<NeighborsOutput, StudyError> {
        run::run(spec, cx)
    }

    fn findings(output: &NeighborsOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &NeighborsOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{encoder, problems, section, spec};
    use cavern_model::SitePoint;

    const STUDY: &str = "[[neighbors]]\ninputs = { examples = [\"x\"] }";

    #[test]
    fn every_concept_at_the_last_layer_by_default() {
        let study = spec::<Neighbors>(STUDY, encoder());
        assert_eq!(
            study.concepts,
            ["bad", "good"],
            "every [concepts] set, by name"
        );
        assert_eq!((study.site, study.layer), (SitePoint::ResidPost, Some(1)));
        assert_eq!((study.k, study.prototypes, study.criticisms), (5, 4, 4));
        assert_eq!(study.witness, WitnessChoice::Positive);
        let study = spec::<Neighbors>(&format!("{STUDY}\nprototypes = 0"), encoder());
        assert_eq!(study.criticisms, 0, "no criticisms without prototypes");
        let found = problems::<Neighbors>(
            &format!("{STUDY}\nprototypes = 0\ncriticisms = 2"),
            encoder(),
        );
        assert!(
            found[0].contains("`criticisms` in [[neighbors]] needs prototypes"),
            "{found:?}"
        );
    }

    const EVIL: &str = "<script>alert(1)</script>";

    #[test]
    fn the_section_lists_neighbors_and_criticisms_escaped() {
        let output = NeighborsOutput {
            neighbors: vec![Neighbor {
                study: 0,
                input: 0,
                text: format!("input {EVIL}"),
                prediction: "positive".into(),
                rank: 1,
                example: format!("example {EVIL}"),
                label: "praise".into(),
                cosine: 0.875,
                example_prediction: "positive".into(),
            }],
            prototypes: vec![Prototype {
                study: 0,
                kind: "criticism".into(),
                rank: 1,
                example: format!("odd {EVIL}"),
                label: "praise".into(),
                witness: 0.0125,
                prediction: "negative".into(),
            }],
        };
        let html = section::<Neighbors>(output).expect("a section");
        assert!(
            html.contains("<td>example &lt;script&gt;alert(1)&lt;&#x2f;script&gt;</td><td>praise</td><td class=\"num\">0.875</td><td>positive</td>"),
            "{html}"
        );
        assert!(
            html.contains("<td>criticism</td><td class=\"num\">1</td><td>odd &lt;script&gt;"),
            "{html}"
        );
    }
}
