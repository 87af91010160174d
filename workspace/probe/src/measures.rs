//! What a probe sweep reports about one labelled data set beyond CAV accuracy: selectivity
//! against a control task (Hewitt & Liang 2019), the mutual information between the label and
//! a probe's held-out predictions, and MDL compression (Voita & Titov 2020) of the labels and
//! of the control labels.

use crate::control::{control_labels, pick};
use crate::error::ProbeError;
use crate::mdl::{MdlOptions, ProbeOptions, fit_probe, online_codelength};
use cavern_stats::info::{
    DiscreteEstimator, DiscreteMi, MiIntervalOptions, mi_interval, nats_to_bits,
};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// How the measures are taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeasureOptions {
    /// The logistic probe (standardised features).
    pub probe: ProbeOptions,
    /// Cross-validation folds: every example's prediction comes from the probe fitted on the
    /// other folds, so accuracy and MI use all examples.
    pub folds: usize,
    /// Seed of the split, the control labels, the MDL order and the MI resamples.
    pub seed: u64,
    /// Bootstrap resamples of the MI interval.
    pub resamples: usize,
}

/// The measures of one labelled data set.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measures {
    /// Cross-validated accuracy of the probe on the real labels.
    pub task_accuracy: f64,
    /// Cross-validated accuracy of the same probe on the control labels, same folds.
    pub control_accuracy: f64,
    /// `task_accuracy − control_accuracy`.
    pub selectivity: f64,
    /// Mutual information between the label and the probe's cross-validated prediction, in
    /// bits (plug-in with the Miller–Madow correction).
    pub mi_bits: f64,
    /// Lower end of its 95% bootstrap interval.
    pub mi_low_bits: f64,
    /// Upper end of its 95% bootstrap interval.
    pub mi_high_bits: f64,
    /// Uniform over online codelength of the labels.
    pub mdl_compression: f64,
    /// The same for the control labels.
    pub control_mdl_compression: f64,
}

/// A seeded fold in `0..k` for each of `n` examples, as even as possible.
fn fold_of_each(n: usize, k: usize, seed: u64) -> Result<Vec<usize>, ProbeError> {
    if k < 2 || n < k {
        return Err(ProbeError::TooFewExamples {
            what: format!("{k}-fold probe measures (examples in all)"),
            needed: k.max(2),
            have: n,
        });
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let mut folds = vec![0; n];
    for (position, &i) in order.iter().enumerate() {
        folds[i] = position % k;
    }
    Ok(folds)
}

/// Measures `labels` (each below `n_classes`) of `rows`; `types` (one per row) key the control
/// task's labels: equal types get equal control labels.
pub fn measure(
    rows: &[Vec<f32>],
    labels: &[usize],
    types: &[String],
    n_classes: usize,
    options: &MeasureOptions,
) -> Result<Measures, ProbeError> {
    if types.len() != rows.len() {
        return Err(ProbeError::Fit(format!(
            "{} feature rows but {} types",
            rows.len(),
            types.len()
        )));
    }
    let control = control_labels(types, n_classes, options.seed);
    let folds = fold_of_each(rows.len(), options.folds, options.seed)?;
    let heldout = |labels: &[usize]| -> Result<(Vec<usize>, Vec<usize>), ProbeError> {
        let mut predicted = vec![0; rows.len()];
        for fold in 0..options.folds {
            let (test, train): (Vec<usize>, Vec<usize>) =
                (0..rows.len()).partition(|&i| folds[i] == fold);
            let (train_rows, train_labels) = pick(rows, labels, &train);
            let (test_rows, _) = pick(rows, labels, &test);
            let probe = fit_probe(&train_rows, &train_labels, n_classes, &options.probe)?;
            for (i, p) in test.into_iter().zip(probe.predict(&test_rows)) {
                predicted[i] = p;
            }
        }
        Ok((labels.to_vec(), predicted))
    };
    let accuracy = |(truth, predicted): &(Vec<usize>, Vec<usize>)| {
        truth.iter().zip(predicted).filter(|(t, p)| t == p).count() as f64 / truth.len() as f64
    };
    let task = heldout(labels)?;
    let control_predictions = heldout(&control)?;
    let mi_error =
        |e: cavern_stats::info::InfoError| ProbeError::Fit(format!("mutual information: {e}"));
    let estimator =
        DiscreteMi::new(&task.0, &task.1, DiscreteEstimator::MillerMadow).map_err(mi_error)?;
    let interval = mi_interval(
        &estimator,
        &MiIntervalOptions {
            resamples: options.resamples,
            seed: options.seed,
            ..MiIntervalOptions::default()
        },
    )
    .map_err(mi_error)?;
    let mdl = MdlOptions {
        probe: options.probe,
        seed: options.seed,
        ..MdlOptions::default()
    };
    let (task_accuracy, control_accuracy) = (accuracy(&task), accuracy(&control_predictions));
    Ok(Measures {
        task_accuracy,
        control_accuracy,
        selectivity: task_accuracy - control_accuracy,
        mi_bits: nats_to_bits(interval.estimate),
        mi_low_bits: nats_to_bits(interval.low),
        mi_high_bits: nats_to_bits(interval.high),
        mdl_compression: online_codelength(rows, labels, n_classes, &mdl)?.compression,
        control_mdl_compression: online_codelength(rows, &control, n_classes, &mdl)?.compression,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn a_planted_label_is_selective_informative_and_compressible() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let labels: Vec<usize> = (0..200).map(|i| i % 2).collect();
        let rows: Vec<Vec<f32>> = labels
            .iter()
            .map(|&y| {
                (0..8)
                    .map(|j| {
                        rng.random_range(-1.0f32..1.0) + if j == 0 { 2.0 * y as f32 } else { 0.0 }
                    })
                    .collect()
            })
            .collect();
        let types: Vec<String> = (0..200).map(|i| format!("text {i}")).collect();
        let options = MeasureOptions {
            probe: ProbeOptions::default(),
            folds: 5,
            seed: 4,
            resamples: 200,
        };
        let m = measure(&rows, &labels, &types, 2, &options).unwrap();
        assert!(m.task_accuracy > 0.85, "{m:?}");
        // Every example is its own type: control labels are noise the probe cannot generalise.
        assert!((m.control_accuracy - 0.5).abs() < 0.15, "{m:?}");
        assert!(m.selectivity > 0.3, "{m:?}");
        assert!(m.mi_low_bits > 0.2 && m.mi_bits <= 1.0, "{m:?}");
        assert!(m.mdl_compression > 2.0, "{m:?}");
        assert!(m.control_mdl_compression < 1.1, "{m:?}");

        // Labels unrelated to the rows: nothing to find.
        let noise: Vec<usize> = (0..200).map(|_| rng.random_range(0..2)).collect();
        let m = measure(&rows, &noise, &types, 2, &options).unwrap();
        assert!(m.mi_low_bits <= 0.0 && m.mi_high_bits >= 0.0, "{m:?}");
        assert!(m.mdl_compression < 1.1, "{m:?}");
    }
}
