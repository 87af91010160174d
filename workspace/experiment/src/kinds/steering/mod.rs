//! `[[steering]]`: add α·v at a site and sweep α; per input the tracked probability, the logit
//! margin, the KL divergence to the unsteered output, top-k changes and (decoders) greedy
//! continuations; per α the flip rate and mean shifts; per input the smallest |α| that flips
//! the prediction (the activation-space counterfactual).

mod findings;
mod per_row;
mod report;
mod run;
mod spec;
mod steer;
mod tables;
mod vector;

pub use spec::{RawSteering, SteeringPositions, SteeringSource, SteeringSpec};
pub use tables::{SteeringFlip, SteeringOutput, SteeringRow, SteeringSummary};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[steering]]` study kind.
pub struct Steering;

impl Study for Steering {
    const NAME: &'static str = "steering";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("steering_inputs");
    type Raw = RawSteering;
    type Spec = SteeringSpec;
    type Output = SteeringOutput;

    fn resolve(raw: &Parsed<RawSteering>, resolver: &mut Resolver<'_>) -> Option<SteeringSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &SteeringSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(spec: &SteeringSpec) -> usize {
        spec.layers.len()
    }

    fn run(
        spec: &SteeringSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<SteeringOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut SteeringOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.summary]
    }

    fn findings(output: &SteeringOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &SteeringOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decoder, encoder, problems, section, spec};
    use cavern_model::SitePoint;

    const STUDY: &str =
        "[[steering]]\ninputs = { examples = [\"x\"] }\nlayers = [0]\nalphas = [1, -0.5]";

    #[test]
    fn alphas_are_sorted_with_the_baseline_and_bound_the_flip_search() {
        let study = spec::<Steering>(&format!("{STUDY}\nconcept = \"good\""), encoder());
        assert_eq!(study.alphas, [-0.5, 0.0, 1.0]);
        assert_eq!(study.flip_bound, 1.0);
        assert_eq!(study.source, SteeringSource::Concept("good".into()));
        assert_eq!(
            (study.site, study.positions),
            (SitePoint::ResidPost, SteeringPositions::All)
        );
        assert_eq!(
            (study.top_k, study.continue_tokens, study.target.clone()),
            (5, 0, None)
        );
        let study = spec::<Steering>(
            &format!("{STUDY}\ncontrast = {{ positive = \"good\", negative = [\"meh\"] }}"),
            encoder(),
        );
        let SteeringSource::Contrast {
            label, negative, ..
        } = &study.source
        else {
            panic!("{:?}", study.source);
        };
        assert_eq!(
            (label.as_str(), negative.as_slice()),
            ("contrast:good-inline", &["meh".to_string()][..])
        );
    }

    #[test]
    fn one_source_distinct_alphas_and_continuations_on_decoders_only() {
        let found = problems::<Steering>(STUDY, encoder());
        assert!(found[0].contains("needs exactly one of `concept`, `contrast` or `vector`"));
        let found = problems::<Steering>(
            &STUDY
                .replace("[1, -0.5]", "[1, 1]")
                .replace("layers", "concept = \"good\"\nlayers"),
            encoder(),
        );
        assert!(found[0].contains("α = 1 is listed twice"), "{found:?}");
        let tables = format!("{STUDY}\nconcept = \"good\"\ncontinue = 3");
        let found = problems::<Steering>(&tables, encoder());
        assert!(
            found[0].contains("`continue` in [[steering]] needs a decoder"),
            "{found:?}"
        );
        assert_eq!(spec::<Steering>(&tables, decoder()).continue_tokens, 3);
    }

    fn summary(alpha: f64, flip_rate: f64) -> SteeringSummary {
        SteeringSummary {
            study: 0,
            layer: 0,
            site: "resid_post".into(),
            vector: "concept:<b>".into(),
            target: "class:positive".into(),
            alpha,
            n_inputs: 2,
            flip_rate,
            mean_p_target: 0.5,
            mean_delta_p: 0.1,
            mean_logit_margin: 0.2,
            mean_kl: 0.01,
            mean_top_k_changed: 0.0,
            activation_scale: 3.0,
            vector_norm: 1.0,
            cav_accuracy: f64::NAN,
        }
    }

    #[test]
    fn the_section_charts_flips_against_alpha() {
        let output = SteeringOutput {
            summary: vec![summary(0.0, 0.0), summary(1.0, 0.5)],
            ..SteeringOutput::default()
        };
        let html = section::<Steering>(output).expect("a section");
        assert!(
            html.contains("Study 0 · concept:&lt;b&gt; at resid_post"),
            "{html}"
        );
        assert_eq!(html.matches("<svg").count(), 1);
        assert!(html.contains("<td class=\"num\">0.500</td>"), "{html}");
        assert!(
            html.contains("<td class=\"num\">–</td>"),
            "a NaN CAV accuracy is a dash"
        );
    }
}
