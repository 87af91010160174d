//! `[[logit_lens]]`: the logit lens (each layer's residual stream read through the final norm
//! and unembedding) and direct logit attribution of a logit difference to every head, MLP,
//! embedding and bias, at each prompt's last token.

mod attribution;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{LogitLensSpec, RawLogitLens};
pub use tables::{AttributionRow, AttributionTotal, LensRow, LensTopRow, LogitLensOutput};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[logit_lens]]` study kind.
pub struct LogitLens;

impl Study for LogitLens {
    const NAME: &'static str = "logit_lens";
    const SCHEMA: &'static str = include_str!("schema.md");
    type Raw = RawLogitLens;
    type Spec = LogitLensSpec;
    type Output = LogitLensOutput;

    fn resolve(raw: &Parsed<RawLogitLens>, resolver: &mut Resolver<'_>) -> Option<LogitLensSpec> {
        spec::resolve(raw, resolver)
    }

    fn work(spec: &LogitLensSpec) -> usize {
        spec.prompts.len()
    }

    fn run(
        spec: &LogitLensSpec,
        cx: &mut StudyContext<'_, '_>,
    ) -> Result<LogitLensOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut LogitLensOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.totals]
    }

    fn report(output: &LogitLensOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decoder, problems, section, spec};

    const STUDY: &str = "[[logit_lens]]\nprompts = \"{{ a }} {{ b }} =\"\nvars = { a = [\" Mary\", \" John\"], b = [\" John\", \" Mary\"] }\nmetric = { logit_diff = [\"{{ a }}\", \"{{ b }}\"] }";

    #[test]
    fn prompts_render_with_their_answer_and_distractor() {
        let study = spec::<LogitLens>(STUDY, decoder());
        assert_eq!(study.top_k, 5);
        assert_eq!(study.prompts.len(), 2, "distinct by default");
        assert_eq!(study.prompts[0].clean, "Mary  John =");
        assert_eq!(study.prompts[0].targets, [" Mary", " John"]);
        assert_eq!(LogitLens::work(&study), 2);
        let found = problems::<LogitLens>(
            &STUDY.replace("logit_diff = [\"{{ a }}\", \"{{ b }}\"]", "kl = true"),
            decoder(),
        );
        assert!(
            found[0].contains("attributes a logit difference"),
            "{found:?}"
        );
    }

    #[test]
    fn the_section_shows_lens_and_attribution_with_escaped_tokens() {
        let evil = "<script>alert(1)</script>";
        let lens = (0..2)
            .flat_map(|layer| {
                [("answer", 0.9), ("distractor", 0.05)].map(|(target, prob)| LensRow {
                    study: 0,
                    prompt: 0,
                    layer,
                    target: target.into(),
                    token: evil.into(),
                    rank: usize::from(target != "answer"),
                    prob,
                    logit: 1.0,
                })
            })
            .collect();
        let part = |component: &str, layer, head, contribution| AttributionRow {
            study: 0,
            prompt: 0,
            component: component.into(),
            layer,
            head,
            contribution,
        };
        let output = LogitLensOutput {
            lens,
            top: vec![LensTopRow {
                study: 0,
                prompt: 0,
                layer: 1,
                rank: 0,
                token: evil.into(),
                prob: 0.9,
            }],
            attribution: vec![
                part("embed", None, None, 0.5),
                part("head", Some(0), Some(1), 2.0),
                part("mlp", Some(0), None, -1.0),
            ],
            totals: vec![AttributionTotal {
                study: 0,
                prompt: 0,
                text: evil.into(),
                answer: evil.into(),
                distractor: "b".into(),
                top_token: "a".into(),
                logit_diff: 1.5,
                logit_diff_pre_cap: 1.5,
                attributed: 1.5,
            }],
        };
        let html = section::<LogitLens>(output).expect("a section");
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("sum to 1.500"), "{html}");
        assert!(
            html.contains(">2.00<") && html.contains(">-1.00<"),
            "{html}"
        );
        assert!(html.contains("embed 0.500"), "{html}");
    }
}
