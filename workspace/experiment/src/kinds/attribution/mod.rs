//! `[[attribution]]`: per-token attributions of a target logit over an input set — saliency,
//! gradient × input and integrated gradients at a site, occlusion of input tokens, a LIME
//! surrogate on token-masked inputs and SHAP values of the tokens — with integrated gradients'
//! completeness gap, LIME's fidelity and SHAP's efficiency gap per input.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{
    AttributionBaseline, AttributionMethod, AttributionSpec, DEFAULT_METHODS, RawAttribution,
};
pub use tables::{AttributionOutput, AttributionSummary, TokenAttribution};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[attribution]]` study kind.
pub struct Attribution;

impl Study for Attribution {
    const NAME: &'static str = "attribution";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("attribution_inputs");
    type Raw = RawAttribution;
    type Spec = AttributionSpec;
    type Output = AttributionOutput;

    fn resolve(
        raw: &Parsed<RawAttribution>,
        resolver: &mut Resolver<'_>,
    ) -> Option<AttributionSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &AttributionSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(spec: &AttributionSpec) -> usize {
        spec.inputs.len()
    }

    fn run(
        spec: &AttributionSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<AttributionOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut AttributionOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.summary]
    }

    fn findings(output: &AttributionOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &AttributionOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Target;
    use crate::testing::{encoder, problems, section, spec};
    use cavern_model::SitePoint;

    const STUDY: &str =
        "[[attribution]]\ntarget = { class = \"positive\" }\ninputs = { examples = [\"x\"] }";

    #[test]
    fn every_method_at_embed_by_default_and_a_contrast_is_another_logit() {
        let study = spec::<Attribution>(STUDY, encoder());
        assert_eq!(study.methods, DEFAULT_METHODS);
        assert!(!study.methods.contains(&AttributionMethod::Shap));
        assert_eq!((study.shap_exact_max, study.shap_samples), (12, 64));
        assert_eq!((study.site, study.layer), (SitePoint::Embed, None));
        assert_eq!((study.steps, study.window, study.samples), (32, 1, 200));
        assert_eq!(study.baseline, AttributionBaseline::Pad);
        let study = spec::<Attribution>(
            &format!(
                "{STUDY}\ncontrast = {{ class = \"negative\" }}\nsite = \"resid_pre\"\nlayer = 1"
            ),
            encoder(),
        );
        assert_eq!(study.contrast, Some(Target::Class("negative".into())));
        assert_eq!((study.site, study.layer), (SitePoint::ResidPre, Some(1)));
        let found = problems::<Attribution>(
            &format!("{STUDY}\ncontrast = {{ class = \"positive\" }}"),
            encoder(),
        );
        assert!(found[0].contains("`contrast` in [[attribution]] is the target itself"));
        let found = problems::<Attribution>(&format!("{STUDY}\nsite = \"resid_pre\""), encoder());
        assert!(found[0].contains("site `resid_pre` in [[attribution]] needs a `layer`"));
        let found = problems::<Attribution>(
            &format!("{STUDY}\nshap_samples = 9\nshap_exact_max = 21"),
            encoder(),
        );
        assert!(
            found
                .iter()
                .any(|p| p.contains("`shap_samples` in [[attribution]] is 9, an odd")),
            "{found:?}"
        );
        assert!(
            found
                .iter()
                .any(|p| p
                    .contains("`shap_exact_max` in [[attribution]] must be at most 20, found 21")),
            "{found:?}"
        );
    }

    const EVIL: &str = "<script>alert(1)</script>";

    /// One input of study 0, `[CLS] not <script> good ##ish [SEP]`, by integrated gradients and
    /// occlusion.
    fn tokens() -> Vec<TokenAttribution> {
        let tokens = ["[CLS]", "not", EVIL, "good", "##ish", "[SEP]"];
        let ig = [0.0, -1.0, 0.25, 2.0, 0.75, 0.0];
        let occlusion = [0.1, -0.5, 0.0, 1.0, 0.2, 0.0];
        let mut rows = Vec::new();
        for (method, values) in [("integrated_gradients", ig), ("occlusion", occlusion)] {
            for (position, (token, attribution)) in tokens.iter().zip(values).enumerate() {
                rows.push(TokenAttribution {
                    study: 0,
                    input: 0,
                    text: format!("not {EVIL} goodish"),
                    target: "class:positive".into(),
                    position,
                    token: token.to_string(),
                    is_special: position == 0 || position == 5,
                    method: method.into(),
                    attribution,
                    std_error: f64::NAN,
                });
            }
        }
        rows
    }

    #[test]
    fn the_section_colours_tokens_by_their_integrated_gradients() {
        let summary = vec![AttributionSummary {
            study: 0,
            input: 0,
            target: "class:positive".into(),
            site: "embed".into(),
            baseline: "pad".into(),
            method: "integrated_gradients".into(),
            steps: 32,
            f_x: 1.5,
            f_baseline: -0.5,
            completeness_gap: 0.004,
            fidelity_r2: f64::NAN,
            exact: false,
        }];
        let output = AttributionOutput {
            tokens: tokens(),
            summary,
        };
        let html = section::<Attribution>(output).expect("a section");
        // Scaled by the largest |attribution| (2.0): `good` fully blue, `not` half red, and the
        // WordPiece continuation joined to its word.
        assert!(
            html.contains(r#"style="background-color: rgba(33, 102, 172, 0.65)" title="good · integrated_gradients: +2.0000">good</span><span"#),
            "{html}"
        );
        assert!(
            html.contains(r#"style="background-color: rgba(178, 24, 43, 0.33)" title="not · integrated_gradients: -1.0000">not</span>"#),
            "{html}"
        );
        assert!(html.contains(">ish</span>"), "{html}");
        assert!(html.contains(r#"<span class="tok special""#), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(html.contains("largest completeness gap 0.20%"), "{html}");
        // The largest token of each method, special tokens aside.
        assert!(html.contains("<td>good <span class=\"dim\">2.000</span></td><td>good <span class=\"dim\">1.000</span></td>"), "{html}");
    }
}
