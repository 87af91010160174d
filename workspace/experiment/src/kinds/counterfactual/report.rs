//! The report's counterfactual section: the swaps that moved the tracked probability most.

use super::tables::CounterfactualOutput;
use cavern_runfolder::report::{ReportEnv, ReportError};
use minijinja::context;

const TEMPLATE: &str = include_str!("report.html.j2");

/// Counterfactual swaps shown (the largest |mean Δp| first).
const SHOWN_SWAPS: usize = 20;

pub(super) fn section(
    output: &CounterfactualOutput,
    env: &ReportEnv,
) -> Result<String, ReportError> {
    let mut swaps: Vec<_> = output.swaps.iter().collect();
    swaps.sort_by(|a, b| b.mean_delta_p.abs().total_cmp(&a.mean_delta_p.abs()));
    let n_swaps = swaps.len();
    swaps.truncate(SHOWN_SWAPS);
    env.render(TEMPLATE, context! { swaps, n_swaps })
}
