//! The report's surrogate section: per study, the student's fidelity and its rules.

use super::tables::SurrogateOutput;
use cavern_runfolder::report::{ReportEnv, ReportError};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

pub(super) fn section(output: &SurrogateOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let studies: Vec<Value> = (output.summary.iter())
        .map(|s| {
            let rules: Vec<&_> = (output.rules.iter())
                .filter(|r| r.study == s.study)
                .collect();
            context! { summary => s, rules }
        })
        .collect();
    env.render(TEMPLATE, context! { surrogate_studies => studies })
}
