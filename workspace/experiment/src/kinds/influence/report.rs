//! The report's influence section: per study, each shown input's prediction and its most
//! helpful and most harmful training examples, with the check against leave-one-out retraining.

use super::tables::{InfluenceOutput, InfluenceRow, InfluenceSummary};
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

/// Inputs shown per study.
const SHOWN_INPUTS: usize = 10;
/// Examples shown per input and role.
const SHOWN_EXAMPLES: usize = 3;

pub(super) fn section(output: &InfluenceOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let studies: Vec<Value> = group_by(&output.summary, |s| s.study)
        .into_iter()
        .map(|(study, summary)| study_view(study, &summary, &output.examples))
        .collect();
    env.render(TEMPLATE, context! { influence_studies => studies })
}

fn study_view(study: usize, summary: &[&InfluenceSummary], examples: &[InfluenceRow]) -> Value {
    let rhos: Vec<f64> = (summary.iter().map(|s| s.spearman))
        .filter(|r| r.is_finite())
        .collect();
    let retrained = !rhos.is_empty();
    let head_gap = (summary.iter())
        .map(|s| (s.log_odds - s.head_log_odds).abs())
        .fold(0.0f64, f64::max);
    let inputs: Vec<Value> = (summary.iter().take(SHOWN_INPUTS))
        .map(|s| {
            let of = |role: &str| -> Vec<Value> {
                (examples.iter())
                    .filter(|r| r.study == study && r.input == s.input && r.role == role)
                    .take(SHOWN_EXAMPLES)
                    .map(|r| {
                        context! {
                            text => r.example_text,
                            set => r.set,
                            effect => r.effect,
                            actual => r.actual.is_finite().then_some(r.actual),
                        }
                    })
                    .collect()
            };
            context! {
                input => s.input,
                text => s.text,
                class => s.class,
                log_odds => s.log_odds,
                spearman => s.spearman.is_finite().then_some(s.spearman),
                helpful => of("helpful"),
                harmful => of("harmful"),
            }
        })
        .collect();
    context! {
        study,
        n_inputs => summary.len(),
        n_train => summary[0].n_train,
        compared => summary[0].compared,
        retrained,
        lowest_spearman => rhos.iter().copied().fold(f64::INFINITY, f64::min),
        mean_spearman => cavern_stats::mean(&rhos),
        head_gap,
        inputs,
    }
}
