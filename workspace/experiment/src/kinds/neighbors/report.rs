//! The report's neighbors section: per study, the first inputs with their nearest reference
//! examples, and the prototypes and criticisms of the reference set.

use super::tables::{Neighbor, NeighborsOutput, Prototype};
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

pub(super) fn section(output: &NeighborsOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let studies = neighbors_views(&output.neighbors, &output.prototypes);
    env.render(TEMPLATE, context! { neighbors_studies => studies })
}

/// Inputs of each neighbors study shown with their nearest examples.
const SHOWN_NEIGHBOR_INPUTS: usize = 10;

/// Per neighbors study: the first inputs with their nearest reference examples, and the
/// prototypes and criticisms of the reference set.
fn neighbors_views(neighbors: &[Neighbor], prototypes: &[Prototype]) -> Vec<Value> {
    let studies = group_by(neighbors, |n| n.study);
    studies
        .into_iter()
        .map(|(study, rows)| {
            let inputs = group_by(rows, |n| n.input);
            let n_inputs = inputs.len();
            let shown: Vec<Value> = inputs
                .into_iter()
                .take(SHOWN_NEIGHBOR_INPUTS)
                .map(|(input, rows)| {
                    context! {
                        input,
                        text => rows[0].text,
                        prediction => rows[0].prediction,
                        neighbors => rows,
                    }
                })
                .collect();
            let of_kind = |kind: &str| -> Vec<&Prototype> {
                let rows = prototypes.iter().filter(|p| p.study == study);
                rows.filter(|p| p.kind == kind).collect()
            };
            context! {
                study,
                n_inputs,
                inputs => shown,
                prototypes => of_kind("prototype"),
                criticisms => of_kind("criticism"),
            }
        })
        .collect()
}
