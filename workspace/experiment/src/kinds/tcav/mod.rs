//! `[[tcav]]`: TCAV scores of concepts × layers against random-vs-random baselines, with a
//! two-sided Welch t-test per cell and a correction over the study's cells; the concept CAVs
//! are saved in `cavs/`.

mod cav_file;
mod findings;
mod report;
mod run;
mod spec;
mod tables;

pub use cav_file::CavFile;
pub use spec::{RawTcav, TcavSpec};
pub use tables::{TcavOutput, TcavRow, TcavRunRow};

use crate::engine::{StudyContext, StudyError};
use crate::plan::{Parsed, Resolver};
use crate::study::Study;
use cavern_runfolder::report::{Finding, ReportEnv, ReportError};
use cavern_runfolder::rows::Rows;
use cavern_runfolder::run_dir::CAVS_DIR;
use std::path::Path;

/// The `[[tcav]]` study kind.
pub struct Tcav;

impl Study for Tcav {
    const NAME: &'static str = "tcav";
    const SCHEMA: &'static str = include_str!("schema.md");
    const INPUTS: Option<&'static str> = Some("tcav_inputs");
    const FILES: &'static str = include_str!("files.md");
    const NEEDS_RANDOM: bool = true;
    type Raw = RawTcav;
    type Spec = TcavSpec;
    type Output = TcavOutput;

    fn resolve(raw: &Parsed<RawTcav>, resolver: &mut Resolver<'_>) -> Option<TcavSpec> {
        spec::resolve(raw, resolver)
    }

    fn inputs(spec: &TcavSpec) -> Vec<String> {
        spec.inputs.clone()
    }

    fn work(spec: &TcavSpec) -> usize {
        spec.concepts.len() * spec.layers.len()
    }

    fn run(spec: &TcavSpec, cx: &mut StudyContext<'_, '_>) -> Result<TcavOutput, StudyError> {
        run::run(spec, cx)
    }

    fn write_files(output: &TcavOutput, run: &Path) -> Result<(), StudyError> {
        output
            .cavs
            .iter()
            .try_for_each(|cav| cav.write(&run.join(CAVS_DIR)))
    }

    fn summary(output: &mut TcavOutput) -> Vec<&mut dyn Rows> {
        vec![&mut output.rows]
    }

    fn findings(output: &TcavOutput) -> Vec<Finding> {
        findings::findings(output)
    }

    fn report(output: &TcavOutput, env: &ReportEnv) -> Result<String, ReportError> {
        report::section(output, env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Target;
    use crate::testing::{decoder, encoder, problems, section, spec};
    use cavern_stats::Correction;

    const TCAV: &str = "[[tcav]]\ntarget = { class = \"positive\" }\ninputs = { examples = [\"x\"] }\nconcepts = [\"good\", \"bad\"]\nlayers = [1]";

    #[test]
    fn random_runs_default_to_every_random_set() {
        let tcav = spec::<Tcav>(TCAV, encoder());
        assert_eq!(tcav.random_runs, 3);
        assert_eq!(tcav.target, Target::Class("positive".into()));
        assert_eq!(
            (tcav.alpha, tcav.correction),
            (0.05, Correction::Bonferroni)
        );
        assert_eq!(Tcav::work(&tcav), 2);
        assert_eq!(Tcav::inputs(&tcav), ["x"]);
    }

    #[test]
    fn too_many_random_runs_and_a_class_on_a_decoder_are_reported() {
        let found = problems::<Tcav>(&format!("{TCAV}\nrandom_runs = 4"), encoder());
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("`random_runs` = 4 exceeds `sets` = 3"),
            "{found:?}"
        );
        let found = problems::<Tcav>(TCAV, decoder());
        assert!(
            found[0].contains("is a decoder; `class` targets need an encoder"),
            "{found:?}"
        );
    }

    /// A TCAV row with plausible numbers (also used by the findings tests).
    pub(super) fn row(concept: &str, layer: usize, significant: bool) -> TcavRow {
        TcavRow {
            concept: concept.into(),
            target: "class:positive".into(),
            layer,
            site: "resid_post".into(),
            tcav_mean: 0.8,
            tcav_std: 0.1,
            tcav_ci_low: 0.75,
            tcav_ci_high: 0.85,
            random_mean: 0.5,
            random_std: 0.2,
            t_statistic: 4.0,
            df: 18.0,
            p_value: 0.001,
            p_adjusted: 0.002,
            significant,
            cav_accuracy: 0.9,
            random_accuracy: 0.5,
            cap_mean: 0.25,
            runs: 10,
            correction: "bonferroni".into(),
            alpha: 0.05,
            warning: String::new(),
        }
    }

    #[test]
    fn the_section_stars_significant_scores_and_draws_each_run() {
        let runs = (0..3)
            .map(|run| TcavRunRow {
                concept: "<b>".into(),
                target: "class:positive".into(),
                layer: 1,
                site: "resid_post".into(),
                run,
                tcav_score: 0.7 + 0.1 * run as f64,
                cav_accuracy: 0.9,
            })
            .collect();
        let output = TcavOutput {
            rows: vec![row("<b>", 1, true), row("warm", 2, false)],
            runs,
            cavs: Vec::new(),
        };
        let html = section::<Tcav>(output).expect("a section");
        assert_eq!(html.matches("<svg").count(), 1, "one (target, site) chart");
        assert_eq!(html.matches(">*</text>").count(), 1, "one star");
        assert_eq!(html.matches("<circle").count(), 3, "a dot per run");
        assert!(
            html.contains("<tr class=\"sig\"><td>&lt;b&gt;</td>"),
            "{html}"
        );
        assert!(!html.contains("<b>"), "{html}");
    }
}
