//! What `[[pruning]]` found: the heads whose removal alone costs the most, and what removing
//! half of the heads (least important first) leaves of the metric.

use super::{Pruning, PruningOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};
use serde_json::json;

/// Heads named per study.
const SHOWN: usize = 3;

/// Per study: its [`SHOWN`] heads whose removal alone lowers the metric most (the report's
/// order), and the metric of the intact model and with half of the heads removed (the curve).
pub fn findings(output: &PruningOutput) -> Vec<Finding> {
    let curves = group_by(&output.curve, |r| r.study);
    let mut found = Vec::new();
    for (study, mut heads) in group_by(&output.heads, |h| h.study) {
        heads.retain(|h| h.metric_change < 0.0);
        heads.sort_by(|a, b| a.metric_change.total_cmp(&b.metric_change));
        heads.truncate(SHOWN);
        let named: Vec<String> = heads
            .iter()
            .map(|h| format!("{}.{} ({:+.3})", h.layer, h.head, h.metric_change))
            .collect();
        found.push(
            Finding::new(
                Pruning::NAME,
                if named.is_empty() {
                    format!("study {study}: removing no head alone lowers the metric")
                } else {
                    format!(
                        "study {study}: the costliest heads to remove alone (layer.head, metric change) are {}",
                        named.join(", ")
                    )
                },
            )
            .with("index", study)
            .with(
                "heads",
                heads
                    .iter()
                    .map(|h| json!({"layer": h.layer, "head": h.head, "metric_change": h.metric_change}))
                    .collect::<Vec<_>>(),
            ),
        );
        let curve = curves.iter().find(|(s, _)| *s == study).map(|(_, c)| c);
        let intact = curve.and_then(|c| c.iter().find(|r| r.step == 0));
        let half = curve.and_then(|c| c.iter().find(|r| r.fraction_removed >= 0.5));
        if let (Some(intact), Some(half)) = (intact, half) {
            found.push(
                Finding::new(
                    Pruning::NAME,
                    format!(
                        "study {study}: removing {} of the heads (least important first) takes the metric from {:.3} to {:.3}",
                        half.heads_removed, intact.metric, half.metric
                    ),
                )
                .with("index", study)
                .with("heads_removed", half.heads_removed)
                .with("metric_intact", intact.metric)
                .with("metric", half.metric),
            );
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::pruning::{CurveRow, PrunedHead};

    fn head(layer: usize, head: usize, metric_change: f64) -> PrunedHead {
        PrunedHead {
            study: 0,
            layer,
            head,
            importance: 0.0,
            metric: 2.0 + metric_change,
            metric_change,
            accuracy: None,
        }
    }

    fn step(step: usize, metric: f64) -> CurveRow {
        CurveRow {
            study: 0,
            step,
            heads_removed: step * 2,
            fraction_removed: step as f64 * 0.25,
            metric,
            accuracy: None,
            removed_now: String::new(),
        }
    }

    #[test]
    fn the_costliest_heads_and_the_metric_at_half_removed() {
        let output = PruningOutput {
            heads: vec![
                head(0, 0, -0.1),
                head(0, 1, -1.5),
                head(1, 0, 0.8),
                head(1, 1, 0.0),
            ],
            curve: vec![step(0, 2.0), step(1, 1.9), step(2, 1.2), step(3, 0.1)],
        };
        let found = findings(&output);
        let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "study 0: the costliest heads to remove alone (layer.head, metric change) are 0.1 (-1.500), 0.0 (-0.100)",
                "study 0: removing 4 of the heads (least important first) takes the metric from 2.000 to 1.200",
            ]
        );
        assert_eq!(found[0].values["heads"][0]["head"], 1);
        assert_eq!(found[1].values["metric"], 1.2);
    }
}
