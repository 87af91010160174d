//! `[[probe]]`: CAV accuracy for concepts × layers (× sites), against every random set, with the
//! random-vs-random accuracy as the chance baseline, control-task selectivity, mutual
//! information and MDL; relative CAVs and the examples that carry each direction on request.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{ProbeSpec, RawProbe};
pub use tables::{DecompositionRow, ProbeOutput, ProbeRow, RelativeRow};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[probe]]` study kind.
pub struct Probe;

impl Study for Probe {
    const NAME: &'static str = "probe";
    const SCHEMA: &'static str = include_str!("schema.md");
    const NEEDS_RANDOM: bool = true;
    type Raw = RawProbe;
    type Spec = ProbeSpec;
    type Output = ProbeOutput;

    fn resolve(raw: &Parsed<RawProbe>, resolver: &mut Resolver<'_>) -> Option<ProbeSpec> {
        spec::resolve(raw, resolver)
    }

    fn work(spec: &ProbeSpec) -> usize {
        spec.concepts.len() * spec.layers.len() * spec.sites.len()
    }

    fn run(spec: &ProbeSpec, cx: &mut StudyContext<'_, '_>) -> Result<ProbeOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut ProbeOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.rows]
    }

    fn findings(output: &ProbeOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &ProbeOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{encoder, problems, section, spec};
    use cavern_model::SitePoint;
    use cavern_probe::{Pooling, Validation};

    #[test]
    fn defaults_resolve_and_sites_sweep() {
        let probe = spec::<Probe>(
            "[[probe]]\nconcepts = [\"good\"]\nlayers = \"all\"",
            encoder(),
        );
        assert_eq!(probe.layers, [0, 1]);
        assert_eq!(probe.sites, [SitePoint::ResidPost]);
        assert_eq!(probe.pooling, Pooling::Mean);
        assert_eq!(probe.cav.validation, Validation::Holdout(0.3));
        assert!(!probe.relative && !probe.decompose);
        let tables =
            "[[probe]]\nconcepts = [\"good\"]\nlayers = [1]\nsites = [\"embed\", \"mlp_out\"]";
        let probe = spec::<Probe>(tables, encoder());
        assert_eq!(probe.sites, [SitePoint::Embed, SitePoint::MlpOut]);
        assert_eq!(Probe::work(&probe), 2);
    }

    #[test]
    fn relative_needs_two_concepts_and_site_excludes_sites() {
        let found = problems::<Probe>(
            "[[probe]]\nconcepts = [\"good\"]\nlayers = [0]\nrelative = true",
            encoder(),
        );
        assert_eq!(found.len(), 1);
        assert!(found[0].contains("`relative` in [[probe]] needs at least two concepts"));
        let found = problems::<Probe>(
            "[[probe]]\nconcepts = [\"good\"]\nlayers = [0]\nsite = \"embed\"\nsites = [\"embed\"]",
            encoder(),
        );
        assert!(
            found[0].contains("has both `site` and `sites`"),
            "{found:?}"
        );
    }

    fn row(concept: &str, layer: usize, accuracy: f64) -> ProbeRow {
        ProbeRow {
            concept: concept.into(),
            layer,
            site: "resid_post".into(),
            pooling: "mean".into(),
            accuracy_mean: accuracy,
            accuracy_std: 0.02,
            accuracy_ci_low: accuracy - 0.01,
            accuracy_ci_high: accuracy + 0.01,
            random_accuracy_mean: 0.5,
            control_accuracy: 0.5,
            selectivity: accuracy - 0.5,
            mi_bits: 0.3,
            mi_ci_low: 0.2,
            mi_ci_high: 0.4,
            mdl_compression: 2.0,
            control_mdl_compression: 0.9,
            random_sets: 10,
            n_train: 35,
            n_test: 15,
        }
    }

    #[test]
    fn the_section_draws_a_chart_per_site_with_escaped_concepts() {
        let output = ProbeOutput {
            rows: vec![row("<b>", 0, 0.6), row("<b>", 1, 0.9), row("warm", 0, 0.55)],
            ..ProbeOutput::default()
        };
        let html = section::<Probe>(output).expect("a section");
        assert_eq!(html.matches("<svg").count(), 1, "one chart for one site");
        assert!(html.contains("<h3>Site resid_post</h3>"), "{html}");
        assert!(
            html.contains("&lt;b&gt;") && !html.contains("<b>"),
            "{html}"
        );
        assert!(html.contains("0.590–0.610"), "{html}");
        assert!(section::<Probe>(ProbeOutput::default()).is_none());
    }
}
