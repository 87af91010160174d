//! The report's patching section: per (study, direction, site), a layer × position (or head)
//! grid of the metric recovered, with attribution patching's estimate and agreement.

use super::tables::{PatchingOutput, PatchingRow, PatchingSummary};
use crate::views::{signed_colour, signed_legend};
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

pub(super) fn section(output: &PatchingOutput, env: &ReportEnv) -> Result<String, ReportError> {
    env.render(
        TEMPLATE,
        context! {
            patching_views => patching_views(&output.rows, &output.summary),
            legend => Value::from_safe_string(signed_legend()),
        },
    )
}

/// Per (study, direction, site): a layer × position (or head) grid of the metric recovered,
/// coloured blue for recovery and red for the opposite, with attribution patching's estimate
/// in each cell's title.
fn patching_views(rows: &[PatchingRow], summary: &[PatchingSummary]) -> Vec<Value> {
    group_by(rows, |r| (r.study, r.direction.clone(), r.site.clone()))
        .into_iter()
        .map(|((study, direction, site), cells)| {
            let by_head = site == "head";
            let column = |r: &PatchingRow| if by_head { r.head } else { r.position };
            let mut columns: Vec<usize> = cells.iter().filter_map(|r| column(r)).collect();
            columns.sort();
            columns.dedup();
            let headers: Vec<String> = columns
                .iter()
                .map(|&c| {
                    if by_head {
                        format!("h{c}")
                    } else {
                        let token = cells
                            .iter()
                            .find(|r| r.position == Some(c))
                            .map_or("", |r| r.token.as_str());
                        format!("{c} {token}")
                    }
                })
                .collect();
            let layers = group_by(cells.iter().copied(), |r| r.layer);
            let grid: Vec<Value> = layers
                .into_iter()
                .map(|(layer, in_layer)| {
                    let values: Vec<Value> = columns
                        .iter()
                        .map(|&c| patch_cell(in_layer.iter().copied(), c, by_head))
                        .collect();
                    context! { layer, values }
                })
                .collect();
            let found = summary
                .iter()
                .find(|s| s.study == study && s.direction == direction && s.site == site);
            context! {
                study,
                direction,
                site,
                headers,
                grid,
                correlation => found.and_then(|s| s.correlation),
                variants_run => found.map(|s| s.variants_run),
                variants => found.map(|s| s.variants),
                pairs => cells.first().map(|r| r.pairs),
            }
        })
        .collect()
}

/// One grid cell: the recovered fraction at column `c` (a position, or a head of a `head`
/// site); a `head_position` site's cell is the mean over the layer's heads at that position
/// (each head is in the `patching` table).
fn patch_cell<'a>(rows: impl Iterator<Item = &'a PatchingRow>, c: usize, by_head: bool) -> Value {
    let picked: Vec<&PatchingRow> = rows
        .filter(|r| (if by_head { r.head } else { r.position }) == Some(c))
        .collect();
    let n = picked.len().max(1) as f64;
    let recovered = picked.iter().map(|r| r.recovered).sum::<f64>() / n;
    let estimate: Option<f64> = picked
        .iter()
        .map(|r| r.attribution)
        .sum::<Option<f64>>()
        .map(|s| s / n);
    let std = picked.iter().map(|r| r.recovered_std).sum::<f64>() / n;
    let title = match estimate {
        Some(e) => format!("recovered {recovered:.3} ± {std:.3}; attribution patching {e:.3}"),
        None => format!("recovered {recovered:.3} ± {std:.3}"),
    };
    context! {
        text => if recovered.is_finite() { format!("{recovered:.2}") } else { "-".into() },
        color => signed_colour(recovered),
        title,
    }
}
