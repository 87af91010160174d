//! `[[erasure]]`: remove a concept from one layer — LEACE, or directional ablation of its CAV —
//! and report a fresh probe's held-out accuracy on the concept before and after, and how far
//! the model's outputs (and its `[head]`'s accuracy on the labelled sets) moved.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{ErasureCovariance, ErasureMethod, ErasureSpec, RawErasure};
pub use tables::ErasureRow;

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[erasure]]` study kind.
pub struct Erasure;

impl Study for Erasure {
    const NAME: &'static str = "erasure";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("erasure_inputs");
    type Raw = RawErasure;
    type Spec = ErasureSpec;
    type Output = Vec<ErasureRow>;

    fn resolve(raw: &Parsed<RawErasure>, resolver: &mut Resolver<'_>) -> Option<ErasureSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &ErasureSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(spec: &ErasureSpec) -> usize {
        spec.methods.len()
    }

    fn run(
        spec: &ErasureSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<Vec<ErasureRow>, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut Vec<ErasureRow>) -> Vec<&mut dyn Rows> {
        vec![output]
    }

    fn findings(output: &Vec<ErasureRow>) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &Vec<ErasureRow>, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{encoder, problems, section, spec};
    use cavern_model::SitePoint;

    const STUDY: &str =
        "[[erasure]]\nconcept = \"good\"\nlayer = 1\ninputs = { examples = [\"x\"] }";

    #[test]
    fn both_methods_on_the_residual_stream_by_default() {
        let study = spec::<Erasure>(STUDY, encoder());
        assert_eq!(study.methods, ErasureMethod::ALL);
        assert_eq!((study.site, study.layer), (SitePoint::ResidPost, 1));
        assert_eq!(
            (study.holdout, study.covariance),
            (0.3, ErasureCovariance::Sample)
        );
        let found = problems::<Erasure>(
            &format!("{STUDY}\nsite = \"embed\"\nmethods = []"),
            encoder(),
        );
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].contains("site `embed` in [[erasure]] has no layer"),
            "{found:?}"
        );
        assert!(
            found[1].contains("`methods` in [[erasure]] is empty"),
            "{found:?}"
        );
    }

    #[test]
    fn the_section_shows_the_probe_before_and_after() {
        let row = ErasureRow {
            study: 0,
            concept: "<b>".into(),
            layer: 1,
            site: "resid_post".into(),
            method: "leace".into(),
            covariance: "sample".into(),
            rank: 1,
            n_per_class: 6,
            probe_before: 1.0,
            probe_after: 0.5,
            target: "predicted".into(),
            n_inputs: 1,
            mean_abs_delta_p: 0.25,
            mean_total_variation: 0.25,
            agreement: 1.0,
            task_accuracy_before: f64::NAN,
            task_accuracy_after: f64::NAN,
        };
        let html = section::<Erasure>(vec![row]).expect("a section");
        assert!(
            html.contains("<td>&lt;b&gt;</td><td>resid_post</td><td>leace</td>"),
            "{html}"
        );
        assert!(html.contains("<td class=\"num\">1.000</td><td class=\"num\">0.500</td>"));
        assert!(section::<Erasure>(Vec::new()).is_none());
    }
}
