//! Control tasks and selectivity (Hewitt & Liang 2019, "Designing and Interpreting Probes with
//! Control Tasks").
//!
//! A probe's accuracy mixes what the representation encodes with what the probe can learn by
//! itself. A *control task* gives every word type a random but fixed class: the task has the
//! same structure (one label per type, the same classes) but no linguistic content, so a probe
//! can only solve it by memorising types. `selectivity = task accuracy − control accuracy`;
//! a selective probe is good at the property and bad at memorising.
//!
//! Control accuracy is not expected to be at chance: when there are few types, or the probe is
//! expressive, types are memorisable and the control task is solved too. The paper's claim is
//! that low-capacity probes (strong L2, here [`ProbeOptions::l2`]) over many types have lower
//! control than task accuracy.
//!
//! # Choices
//!
//! * Each type's class is drawn uniformly over `n_classes` by a ChaCha8 generator keyed by the
//!   seed and a 64-bit FNV-1a hash of the type's UTF-8 bytes. The class of a type therefore
//!   depends on the seed and the type only: not on the order of the input, nor on which other
//!   types are present (a control task on a subset agrees with the one on the whole set).
//!   Hewitt & Liang draw from the task's empirical label distribution; pass those frequencies
//!   to [`control_labels_weighted`] to do the same.
//! * [`holdout_accuracy`] splits *examples* (not types) with its seed, independently of the
//!   labels, so the task and its control task are measured on identical splits and types seen
//!   in training recur in the test split, as in the paper.

use crate::error::ProbeError;
use crate::mdl::{ProbeOptions, check_data, fit_probe};
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One control class per entry of `word_types` (uniform over `n_classes`); equal types get
/// equal classes.
pub fn control_labels(word_types: &[String], n_classes: usize, seed: u64) -> Vec<usize> {
    control_labels_weighted(word_types, &vec![1.0; n_classes], seed)
}

/// One control class per entry of `word_types`, drawn with probabilities proportional to
/// `class_weights` (e.g. the task's label frequencies); equal types get equal classes.
///
/// # Panics
/// When `class_weights` is empty or its entries are not finite, non-negative and of positive
/// sum.
pub fn control_labels_weighted(
    word_types: &[String],
    class_weights: &[f64],
    seed: u64,
) -> Vec<usize> {
    assert!(
        !class_weights.is_empty() && class_weights.iter().all(|w| w.is_finite() && *w >= 0.0),
        "class weights must be finite and non-negative: {class_weights:?}"
    );
    let total: f64 = class_weights.iter().sum();
    assert!(total > 0.0, "class weights must have a positive sum");
    word_types
        .iter()
        .map(|word| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(fnv1a(word.as_bytes()));
            let mut u = rng.random::<f64>() * total;
            let mut class = 0;
            for (c, &w) in class_weights.iter().enumerate() {
                if w > 0.0 {
                    class = c;
                    if u < w {
                        break;
                    }
                    u -= w;
                }
            }
            class
        })
        .collect()
}

/// `task_accuracy − control_accuracy`.
pub fn selectivity(task_accuracy: f64, control_accuracy: f64) -> f64 {
    task_accuracy - control_accuracy
}

/// Accuracy of a probe fitted on the train split and scored on the test split.
pub fn train_test_accuracy(
    train_rows: &[Vec<f32>],
    train_labels: &[usize],
    test_rows: &[Vec<f32>],
    test_labels: &[usize],
    n_classes: usize,
    options: &ProbeOptions,
) -> Result<f64, ProbeError> {
    check_data(test_rows, test_labels, n_classes)?;
    let probe = fit_probe(train_rows, train_labels, n_classes, options)?;
    Ok(probe.accuracy(test_rows, test_labels))
}

/// Held-out accuracy of a probe for any `labels`: `test_fraction` of the examples, chosen by
/// `seed` alone (so two label sets with the same seed share the split), are held out.
pub fn holdout_accuracy(
    rows: &[Vec<f32>],
    labels: &[usize],
    n_classes: usize,
    test_fraction: f64,
    seed: u64,
    options: &ProbeOptions,
) -> Result<f64, ProbeError> {
    check_data(rows, labels, n_classes)?;
    let n = rows.len();
    if n < 2 {
        return Err(ProbeError::TooFewExamples {
            what: "held-out probe (examples in all)".into(),
            needed: 2,
            have: n,
        });
    }
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(ProbeError::Fit(format!(
            "test fraction must lie in (0, 1), got {test_fraction}"
        )));
    }
    let (test, train) = holdout_split(n, test_fraction, seed);
    let (test_rows, test_labels) = pick(rows, labels, &test);
    let (train_rows, train_labels) = pick(rows, labels, &train);
    train_test_accuracy(
        &train_rows,
        &train_labels,
        &test_rows,
        &test_labels,
        n_classes,
        options,
    )
}

/// A seeded split of `0..n` into held-out and training indices: `round(test_fraction·n)`
/// held out, at least one of each (`n >= 2`, `test_fraction` in `(0, 1)`).
pub fn holdout_split(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let n_test = ((n as f64 * test_fraction).round() as usize).clamp(1, n.max(2) - 1);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let train = order.split_off(n_test.min(n));
    (order, train)
}

/// The rows and labels at `indices`.
pub fn pick(rows: &[Vec<f32>], labels: &[usize], indices: &[usize]) -> (Vec<Vec<f32>>, Vec<usize>) {
    (
        indices.iter().map(|&i| rows[i].clone()).collect(),
        indices.iter().map(|&i| labels[i]).collect(),
    )
}

/// Task and control-task accuracy of one probe configuration, and their difference.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Selectivity {
    /// Held-out accuracy on the real labels.
    pub task_accuracy: f64,
    /// Held-out accuracy on the control labels, on the same split.
    pub control_accuracy: f64,
    /// `task_accuracy − control_accuracy`.
    pub selectivity: f64,
}

/// Measures a probe on the task `labels` and on a uniform control task over the same
/// `word_types` (one per row) and classes, with the same held-out split.
pub fn control_selectivity(
    rows: &[Vec<f32>],
    labels: &[usize],
    word_types: &[String],
    n_classes: usize,
    test_fraction: f64,
    seed: u64,
    options: &ProbeOptions,
) -> Result<Selectivity, ProbeError> {
    if word_types.len() != rows.len() {
        return Err(ProbeError::Fit(format!(
            "{} feature rows but {} word types",
            rows.len(),
            word_types.len()
        )));
    }
    let control = control_labels(word_types, n_classes, seed);
    let task_accuracy = holdout_accuracy(rows, labels, n_classes, test_fraction, seed, options)?;
    let control_accuracy =
        holdout_accuracy(rows, &control, n_classes, test_fraction, seed, options)?;
    Ok(Selectivity {
        task_accuracy,
        control_accuracy,
        selectivity: selectivity(task_accuracy, control_accuracy),
    })
}

/// 64-bit FNV-1a: a fixed, platform-independent hash (std's hasher may change between
/// releases).
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn weighted_control_labels_avoid_zero_weight_classes() {
        let types: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let labels = control_labels_weighted(&types, &[0.0, 3.0, 0.0, 1.0], 9);
        assert!(labels.iter().all(|&c| c == 1 || c == 3));
        let ones = labels.iter().filter(|&&c| c == 1).count();
        assert!(
            (120..=180).contains(&ones),
            "{ones} of 200 in the 3:1 class"
        );
    }
}
