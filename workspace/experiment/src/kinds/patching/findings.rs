//! What `[[patching]]` found: the cells (layer and position, or layer and head) whose patch
//! recovers the most of the metric, per study, direction and site.

use super::{Patching, PatchingOutput, PatchingRow};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};
use serde_json::json;

/// Cells named per (study, direction, site).
const SHOWN: usize = 3;

/// One line per (study, direction, site): its [`SHOWN`] cells of highest positive recovered
/// fraction.
pub fn findings(output: &PatchingOutput) -> Vec<Finding> {
    group_by(&output.rows, |r| (r.study, &r.direction, &r.site))
        .into_iter()
        .map(|((study, direction, site), mut rows)| {
            rows.retain(|r| r.recovered > 0.0);
            rows.sort_by(|a, b| b.recovered.total_cmp(&a.recovered));
            rows.truncate(SHOWN);
            let cells: Vec<String> = rows
                .iter()
                .map(|r| format!("{} recovers {:.3}", cell(r), r.recovered))
                .collect();
            let text = if cells.is_empty() {
                "no cell recovers any of the metric".to_owned()
            } else {
                cells.join("; ")
            };
            Finding::new(
                Patching::NAME,
                format!("study {study}, {direction} {site}: {text}"),
            )
            .with("index", study)
            .with("direction", direction.as_str())
            .with("site", site.as_str())
            .with(
                "cells",
                rows.iter()
                    .map(|r| {
                        json!({"layer": r.layer, "position": r.position, "token": r.token,
                            "head": r.head, "recovered": r.recovered})
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// `layer L, position P ("token")`, `layer L, head H` or both.
fn cell(row: &PatchingRow) -> String {
    let mut text = format!("layer {}", row.layer);
    if let Some(position) = row.position {
        text.push_str(&format!(", position {position} ({:?})", row.token));
    }
    if let Some(head) = row.head {
        text.push_str(&format!(", head {head}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(
        layer: usize,
        position: Option<usize>,
        head: Option<usize>,
        recovered: f64,
    ) -> PatchingRow {
        PatchingRow {
            study: 0,
            direction: "denoise".into(),
            site: if head.is_some() { "head" } else { "resid_pre" }.into(),
            layer,
            position,
            token: position.map_or(String::new(), |p| format!("t{p}")),
            head,
            recovered,
            recovered_std: 0.0,
            attribution: None,
            pairs: 4,
        }
    }

    #[test]
    fn the_cells_that_recover_most_per_site() {
        let output = PatchingOutput {
            rows: vec![
                row(0, Some(0), None, 0.1),
                row(0, Some(1), None, 0.9),
                row(1, Some(0), None, -0.2),
                row(1, Some(1), None, 0.5),
                row(1, Some(2), None, 0.7),
                row(1, None, Some(3), 0.0),
            ],
            ..PatchingOutput::default()
        };
        let found = findings(&output);
        let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "study 0, denoise resid_pre: layer 0, position 1 (\"t1\") recovers 0.900; layer 1, position 2 (\"t2\") recovers 0.700; layer 1, position 1 (\"t1\") recovers 0.500",
                "study 0, denoise head: no cell recovers any of the metric",
            ]
        );
        assert_eq!(found[0].values["cells"][0]["recovered"], 0.9);
        assert_eq!(found[0].values["cells"][0]["position"], 1);
    }
}
