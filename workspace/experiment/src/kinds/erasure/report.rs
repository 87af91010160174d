//! The report's erasure section: each study's probe accuracy before and after erasure and what
//! the eraser did to the model's outputs.

use super::tables::ErasureRow;
use cavern_runfolder::report::{ReportEnv, ReportError};
use minijinja::context;

const TEMPLATE: &str = include_str!("report.html.j2");

pub(super) fn section(rows: &[ErasureRow], env: &ReportEnv) -> Result<String, ReportError> {
    env.render(TEMPLATE, context! { rows })
}
