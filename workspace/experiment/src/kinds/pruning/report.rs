//! The report's pruning section: per study, the heads whose removal costs most, and the
//! pruning curve.

use super::tables::{CurveRow, PrunedHead, PruningOutput};
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

/// Heads listed per pruning study, by cost of removal.
const SHOWN_HEADS: usize = 10;

pub(super) fn section(output: &PruningOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let views = pruning_views(&output.heads, &output.curve);
    env.render(TEMPLATE, context! { pruning_views => views })
}

/// Per pruning study: the heads whose removal costs most, and the pruning curve.
fn pruning_views(heads: &[PrunedHead], curve: &[CurveRow]) -> Vec<Value> {
    group_by(heads, |h| h.study)
        .into_iter()
        .map(|(study, mut rows)| {
            rows.sort_by(|a, b| a.metric_change.total_cmp(&b.metric_change));
            let costliest: Vec<Value> = rows
                .iter()
                .take(SHOWN_HEADS)
                .map(|h| {
                    context! {
                        layer => h.layer,
                        head => h.head,
                        importance => h.importance,
                        metric => h.metric,
                        change => h.metric_change,
                        accuracy => h.accuracy,
                    }
                })
                .collect();
            let points: Vec<&CurveRow> = curve.iter().filter(|c| c.study == study).collect();
            context! {
                study,
                n_heads => rows.len(),
                costliest,
                curve => points,
            }
        })
        .collect()
}
