//! `[[pruning]]`: every head removed alone, head importance |∂m/∂ξₕ| (Michel et al. 2019) and
//! the pruning curve.

mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use spec::{Ablation, PruningSpec, RawPruning};
pub use tables::{CurveRow, PrunedHead, PruningOutput};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;

/// The `[[pruning]]` study kind.
pub struct Pruning;

impl Study for Pruning {
    const NAME: &'static str = "pruning";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("pruning_prompts");
    type Raw = RawPruning;
    type Spec = PruningSpec;
    type Output = PruningOutput;

    fn resolve(raw: &Parsed<RawPruning>, resolver: &mut Resolver<'_>) -> Option<PruningSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &PruningSpec) -> Vec<String> {
        spec.prompts.iter().map(|p| p.clean.clone()).collect()
    }

    fn work(_spec: &PruningSpec) -> usize {
        2
    }

    fn run(spec: &PruningSpec, cx: &mut StudyContext<'_, '_>) -> Result<PruningOutput, StudyError> {
        run::run(spec, cx)
    }

    fn summary(output: &mut PruningOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.curve]
    }

    fn findings(output: &PruningOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &PruningOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::MetricKind;
    use crate::testing::{decoder, encoder, problems, section, spec};

    #[test]
    fn prompts_render_and_the_metric_is_checked() {
        let tables = "[[pruning]]\nprompts = \"{{ x }} =\"\nvars = { x = [\"a\", \"b\"] }\nmetric = { logprob = \"a\" }\nmethod = \"mean\"";
        let study = spec::<Pruning>(tables, decoder());
        assert_eq!(study.method, Ablation::Mean);
        assert_eq!(study.metric, MetricKind::Logprob);
        assert_eq!(study.layers, [0, 1, 2]);
        assert_eq!((study.curve_steps, study.rescore), (10, false));
        assert_eq!(Pruning::inputs(&study), ["a =", "b ="]);
        let found = problems::<Pruning>(
            "[[pruning]]\nprompts = \"x\"\nmetric = { kl = false }",
            encoder(),
        );
        assert!(
            found[0].contains("`kl = false` in [[pruning]] chooses no metric"),
            "{found:?}"
        );
    }

    #[test]
    fn the_section_ranks_heads_by_the_cost_of_removing_them() {
        let head = |head: usize, change: f64| PrunedHead {
            study: 0,
            layer: 1,
            head,
            importance: 0.5,
            metric: 2.0 + change,
            metric_change: change,
            accuracy: None,
        };
        let output = PruningOutput {
            heads: vec![head(0, -0.5), head(1, -2.0), head(2, 0.25)],
            curve: vec![CurveRow {
                study: 0,
                step: 0,
                heads_removed: 0,
                fraction_removed: 0.0,
                metric: 2.0,
                accuracy: Some(1.0),
                removed_now: String::new(),
            }],
        };
        let html = section::<Pruning>(output).expect("a section");
        let costliest = html.find("<td class=\"num\">-2.0000</td>").unwrap();
        let next = html.find("<td class=\"num\">-0.5000</td>").unwrap();
        assert!(costliest < next, "{html}");
        assert!(
            html.contains("the 3 of 3 heads whose removal costs most"),
            "{html}"
        );
        assert!(
            html.contains("<td class=\"num\">1.000</td>"),
            "curve accuracy\n{html}"
        );
    }
}
