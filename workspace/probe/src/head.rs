//! Classifier heads trained on pooled activations: how an experiment gives a sentence encoder
//! (which has no classifier of its own) class logits for TCAV and other class targets.

use crate::error::ProbeError;
use crate::mdl::{ProbeOptions, fit_probe};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// A trained linear head: `logits = x · weight + bias`.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    /// `weight[i][c]`: feature `i`'s weight for class `c` (`[width, classes]`, row-major).
    pub weight: Vec<Vec<f32>>,
    /// One bias per class.
    pub bias: Vec<f32>,
    /// Accuracy on the held-out examples.
    pub accuracy: f64,
    /// Examples per class it was trained on.
    pub n_train: Vec<usize>,
    /// Examples per class accuracy was measured on.
    pub n_test: Vec<usize>,
}

impl Head {
    /// The class logits of one row.
    pub fn logits(&self, row: &[f32]) -> Vec<f32> {
        let mut out = self.bias.clone();
        for (x, weights) in row.iter().zip(&self.weight) {
            out.iter_mut().zip(weights).for_each(|(o, w)| *o += x * w);
        }
        out
    }

    /// The index of the largest logit of one row.
    pub fn predict(&self, row: &[f32]) -> usize {
        let logits = self.logits(row);
        (0..logits.len())
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]))
            .unwrap_or(0)
    }
}

/// Trains a logistic head on `classes[c]` = the rows of class `c` (a standardised L2 logistic
/// regression, [`fit_probe`], folded back into raw-feature logits).
///
/// Each class is shuffled with `rng`; `holdout` of each (at least one example) is kept out of
/// training and measures accuracy; the head is then refitted on every example.
pub fn train_head(
    classes: &[Vec<Vec<f32>>],
    options: &ProbeOptions,
    holdout: f64,
    rng: &mut ChaCha8Rng,
) -> Result<Head, ProbeError> {
    let fewest = classes.iter().map(Vec::len).min().unwrap_or(0);
    if classes.len() < 2 || fewest < 3 {
        return Err(ProbeError::TooFewExamples {
            what: "classifier head".into(),
            needed: 3,
            have: fewest,
        });
    }
    let (mut train, mut test) = (Labelled::default(), Labelled::default());
    let (mut n_train, mut n_test) = (Vec::new(), Vec::new());
    for (label, rows) in classes.iter().enumerate() {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.shuffle(rng);
        let k = ((rows.len() as f64 * holdout).round() as usize).clamp(1, rows.len() - 2);
        test.extend(order[..k].iter().map(|&i| &rows[i]), label);
        train.extend(order[k..].iter().map(|&i| &rows[i]), label);
        n_test.push(k);
        n_train.push(rows.len() - k);
    }
    let n_classes = classes.len();
    let held_out = fit_probe(&train.rows, &train.labels, n_classes, options)?;
    let accuracy = held_out.accuracy(&test.rows, &test.labels);
    train.rows.extend(test.rows);
    train.labels.extend(test.labels);
    let (weight, bias) = fit_probe(&train.rows, &train.labels, n_classes, options)?.linear_logits();
    let to_f32 = |v: &[f64]| v.iter().map(|&x| x as f32).collect::<Vec<_>>();
    Ok(Head {
        weight: weight.iter().map(|w| to_f32(w)).collect(),
        bias: to_f32(&bias),
        accuracy,
        n_train,
        n_test,
    })
}

/// Rows with their class labels.
#[derive(Default)]
struct Labelled {
    rows: Vec<Vec<f32>>,
    labels: Vec<usize>,
}

impl Labelled {
    fn extend<'a>(&mut self, rows: impl Iterator<Item = &'a Vec<f32>>, label: usize) {
        for row in rows {
            self.rows.push(row.clone());
            self.labels.push(label);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    #[test]
    fn separates_three_planted_classes_and_holds_out_data() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let classes: Vec<Vec<Vec<f32>>> = (0..3)
            .map(|c| {
                (0..40)
                    .map(|_| {
                        (0..6)
                            .map(|j| {
                                rng.random_range(-1.0f32..1.0) + if j == c { 4.0 } else { 0.0 }
                            })
                            .collect()
                    })
                    .collect()
            })
            .collect();
        let options = ProbeOptions::default();
        let head = train_head(&classes, &options, 0.25, &mut rng).unwrap();
        assert_eq!(head.n_test, vec![10, 10, 10]);
        assert_eq!(head.n_train, vec![30, 30, 30]);
        assert!(head.accuracy >= 0.95, "accuracy {}", head.accuracy);
        for (c, rows) in classes.iter().enumerate() {
            assert_eq!(head.predict(&rows[0]), c);
        }
        let err = train_head(&classes[..1], &options, 0.25, &mut rng).unwrap_err();
        assert!(err.to_string().contains("classifier head"));
    }
}
