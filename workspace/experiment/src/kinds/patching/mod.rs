//! `[[patching]]`: activation patching over prompt pairs at every (site, layer, position or
//! head), exact and by attribution patching.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{Direction, PatchSite, PatchingSpec, RawPatching};
pub use tables::{PatchingOutput, PatchingPair, PatchingRow, PatchingSummary};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[patching]]` study kind.
pub struct Patching;

impl Study for Patching {
    const NAME: &'static str = "patching";
    const SCHEMA: &'static str = include_str!("schema.md");
    type Raw = RawPatching;
    type Spec = PatchingSpec;
    type Output = PatchingOutput;

    fn resolve(raw: &Parsed<RawPatching>, resolver: &mut Resolver<'_>) -> Option<PatchingSpec> {
        spec::resolve(raw, resolver)
    }

    fn work(spec: &PatchingSpec) -> usize {
        spec.sites.len() * spec.directions.len()
    }

    fn run(
        spec: &PatchingSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<PatchingOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut PatchingOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.summary]
    }

    fn findings(output: &PatchingOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &PatchingOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{MetricKind, RenderedPrompt};
    use crate::testing::{decoder, problems, section, spec};

    const STUDY: &str = "[[patching]]\nclean = \"{{ a }} {{ b }} =\"\ncorrupted = \"{{ b }} {{ a }} =\"\nvars = { a = [\" Mary\", \" John\"], b = [\" John\", \" Mary\"] }\nmetric = { logit_diff = [\"{{ a }}\", \"{{ b }}\"] }";

    #[test]
    fn pairs_render_over_distinct_values_with_their_targets() {
        let study = spec::<Patching>(STUDY, decoder());
        assert_eq!(study.metric, MetricKind::LogitDiff);
        assert_eq!(study.layers, [0, 1, 2], "every layer by default");
        assert_eq!(study.sites, [PatchSite::ResidPre]);
        assert_eq!(study.directions, [Direction::Denoise]);
        assert!(study.attribution && study.align_last.is_none());
        // `distinct` (the default) drops the combinations that repeat a name.
        assert_eq!(
            study.pairs,
            [
                RenderedPrompt {
                    clean: "Mary  John =".into(),
                    corrupted: "John  Mary =".into(),
                    targets: vec![" Mary".into(), " John".into()],
                },
                RenderedPrompt {
                    clean: "John  Mary =".into(),
                    corrupted: "Mary  John =".into(),
                    targets: vec![" John".into(), " Mary".into()],
                },
            ]
        );
        assert_eq!(Patching::work(&study), 1);
        let found = problems::<Patching>(
            &STUDY.replace("\"{{ b }}\"] }", "\"{{ b }}x\"] }"),
            decoder(),
        );
        assert!(found[0].contains("is not in the vocabulary"), "{found:?}");
    }

    const EVIL: &str = "<script>alert(1)</script>";

    #[test]
    fn the_section_shows_the_grid_with_escaped_tokens() {
        let rows = [(0, EVIL, 0.25), (1, "=", 1.0)]
            .into_iter()
            .map(|(position, token, recovered)| PatchingRow {
                study: 0,
                direction: "denoise".into(),
                site: "resid_pre".into(),
                layer: 0,
                position: Some(position),
                token: token.into(),
                head: None,
                recovered,
                recovered_std: 0.125,
                attribution: Some(recovered / 2.0),
                pairs: 2,
            })
            .collect();
        let output = PatchingOutput {
            rows,
            summary: vec![PatchingSummary {
                study: 0,
                direction: "denoise".into(),
                site: "resid_pre".into(),
                correlation: Some(0.875),
                variants_run: 3,
                variants: 4,
            }],
            pairs: Vec::new(),
        };
        let html = section::<Patching>(output).expect("a section");
        assert!(html.contains("Pearson r = 0.875"), "{html}");
        assert!(html.contains("3 of 4 patches run"), "{html}");
        assert!(html.contains("0 &lt;script&gt;"), "{html}");
        assert!(
            html.contains(r#"title="recovered 1.000 ± 0.125; attribution patching 0.500">1.00<"#),
            "{html}"
        );
    }
}
