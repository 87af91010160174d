//! Running an `[[influence]]`: refit the `[head]` to the exact optimum of its objective, then
//! rank its training examples by their influence on each input's prediction (see
//! [`cavern_probe::influence`]), and with `retrain` check the ranking against leave-one-out
//! refits. Nothing here is random.

use super::Influence;
use super::spec::InfluenceSpec;
use super::tables::{InfluenceOutput, InfluenceRow, InfluenceSummary};
use crate::engine::activations::TextSet;
use crate::engine::forward::{encode, output_rows};
use crate::engine::head::{HEAD_POOLING, HEAD_SITE, class_rows};
use crate::engine::{StudyContext, StudyError};
use crate::study::Study;
use cavern_probe::ProbeError;
use cavern_probe::influence::ExactLogistic;

/// Examples compared with leave-one-out retraining per input: those whose removal changes its
/// log-odds most.
pub const COMPARED: usize = 20;

/// Runs an influence study.
pub(super) fn run(
    study: &InfluenceSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<InfluenceOutput, StudyError> {
    let index = cx.index;
    cx.progress.set_message(format!("influence study {index}"));
    let head = (cx.experiment.head.as_ref())
        .ok_or_else(|| StudyError::Probe(ProbeError::Fit("[[influence]] needs a [head]".into())))?;
    // The head's training examples, in class order: (class, index in its set) and the row.
    let classes = class_rows(head, cx.experiment, cx.activations)?;
    let mut origin = Vec::new();
    let (mut rows, mut labels) = (Vec::new(), Vec::new());
    for (class, set) in classes.into_iter().enumerate() {
        for (example, row) in set.into_iter().enumerate() {
            origin.push((class, example));
            rows.push(row);
            labels.push(class);
        }
    }
    let fit = ExactLogistic::fit(&rows, &labels, head.classes.len(), study.l2)?;
    let set = TextSet::Inputs {
        kind: Influence::NAME,
        study: index,
    };
    let inputs = (cx.activations)
        .rows(&set, &study.inputs, HEAD_SITE, HEAD_POOLING)?
        .to_vec();
    let influence = fit.influence(&inputs)?;
    let actual = if study.retrain {
        Some(fit.leave_one_out(&inputs)?)
    } else {
        None
    };
    let ids = encode(cx.model, &study.inputs)?;
    let attached = output_rows(cx.model, &ids, cx.batch_size(), &[])?;
    let example_text = |e: usize| {
        let (class, example) = origin[e];
        let set = &head.classes[class];
        (
            set.clone(),
            example,
            cx.experiment.concepts[set][example].clone(),
        )
    };
    let mut out = InfluenceOutput::default();
    for (i, (text, estimate)) in study.inputs.iter().zip(&influence).enumerate() {
        let class = head.classes[estimate.class].clone();
        let actual = actual.as_ref().map(|a| &a[i]);
        for (role, ranked) in [
            ("helpful", ranked(&estimate.removal, -1.0)),
            ("harmful", ranked(&estimate.removal, 1.0)),
        ] {
            for (rank, &e) in ranked.iter().take(study.top).enumerate() {
                let (set, example, example_text) = example_text(e);
                out.examples.push(InfluenceRow {
                    study: index,
                    input: i,
                    text: text.clone(),
                    class: class.clone(),
                    role: role.into(),
                    rank: rank + 1,
                    set,
                    example,
                    example_text,
                    effect: estimate.removal[e],
                    actual: actual.map_or(f64::NAN, |a| a[e]),
                });
            }
        }
        let (compared, spearman, largest_actual) = match actual {
            Some(actual) => compare(&estimate.removal, actual),
            None => (0, f64::NAN, f64::NAN),
        };
        out.summary.push(InfluenceSummary {
            study: index,
            input: i,
            text: text.clone(),
            class,
            log_odds: estimate.log_odds,
            head_log_odds: log_odds(&attached[i].logits, estimate.class),
            n_train: fit.n_examples(),
            compared,
            spearman,
            largest_actual,
        });
        cx.progress.inc(1);
    }
    Ok(out)
}

/// The examples whose value has the sign of `sign`, largest |value| first (lower index on
/// ties).
fn ranked(values: &[f64], sign: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len())
        .filter(|&e| values[e] * sign > 0.0)
        .collect();
    order.sort_by(|&a, &b| values[b].abs().total_cmp(&values[a].abs()).then(a.cmp(&b)));
    order
}

/// Over the [`COMPARED`] examples with the largest |actual change|: how many, the Spearman
/// correlation of estimate and actual change, and the largest |actual change|.
fn compare(estimate: &[f64], actual: &[f64]) -> (usize, f64, f64) {
    let mut order: Vec<usize> = (0..actual.len()).collect();
    order.sort_by(|&a, &b| actual[b].abs().total_cmp(&actual[a].abs()).then(a.cmp(&b)));
    order.truncate(COMPARED);
    let pairs: Vec<(f64, f64)> = order.iter().map(|&e| (estimate[e], actual[e])).collect();
    let largest = order.first().map_or(f64::NAN, |&e| actual[e].abs());
    let rho = cavern_stats::spearman(&pairs).unwrap_or(f64::NAN);
    (order.len(), rho, largest)
}

/// `logit[class] − logsumexp(other logits)`: the log-odds of `class`.
fn log_odds(logits: &[f32], class: usize) -> f64 {
    let others: Vec<f64> = (logits.iter().enumerate())
        .filter(|(k, _)| *k != class)
        .map(|(_, &l)| l as f64)
        .collect();
    let max = others.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let rest = max + others.iter().map(|l| (l - max).exp()).sum::<f64>().ln();
    logits[class] as f64 - rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_ranked_by_size_within_their_sign() {
        let values = [0.5, -2.0, 0.0, 3.0, -0.1, 0.5];
        assert_eq!(ranked(&values, -1.0), [1, 4]);
        assert_eq!(ranked(&values, 1.0), [3, 0, 5]);
    }

    #[test]
    fn the_comparison_keeps_the_largest_actual_changes() {
        // 25 examples: the 20 largest |actual| are 5..25, where the estimate is monotone.
        let actual: Vec<f64> = (0..25)
            .map(|e| e as f64 * if e % 2 == 0 { 1.0 } else { -1.0 })
            .collect();
        let mut estimate: Vec<f64> = actual.iter().map(|a| a * 1.1).collect();
        estimate[0] = 100.0; // outside the compared examples: ignored
        let (compared, rho, largest) = compare(&estimate, &actual);
        assert_eq!((compared, largest), (20, 24.0));
        assert!((rho - 1.0).abs() < 1e-12);
        assert!((log_odds(&[1.0, 3.0], 1) - 2.0).abs() < 1e-12);
        let three = log_odds(&[0.0, 0.0, 0.0], 0);
        assert!((three - (0.5f64).ln()).abs() < 1e-6, "{three}");
    }
}
