//! Classifier heads trained on pooled activations: how an experiment gives a sentence encoder
//! (which has no classifier of its own) class logits for TCAV and other class targets.

use crate::error::ProbeError;
use linfa::prelude::*;
use linfa_logistic::MultiLogisticRegression;
use ndarray::{Array1, Array2};
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

/// Trains a multinomial logistic head on `classes[c]` = the rows of class `c`.
///
/// Each class is shuffled with `rng`; `holdout` of each (at least one example) is kept out of
/// training and measures accuracy; the head is then refitted on every example.
pub fn train_head(
    classes: &[Vec<Vec<f32>>],
    l2: f64,
    holdout: f64,
    max_iterations: u64,
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
    let mut train = Vec::new();
    let mut test = Vec::new();
    let (mut n_train, mut n_test) = (Vec::new(), Vec::new());
    for (label, rows) in classes.iter().enumerate() {
        let mut order: Vec<usize> = (0..rows.len()).collect();
        order.shuffle(rng);
        let k = ((rows.len() as f64 * holdout).round() as usize).clamp(1, rows.len() - 2);
        test.extend(order[..k].iter().map(|&i| (&rows[i], label)));
        train.extend(order[k..].iter().map(|&i| (&rows[i], label)));
        n_test.push(k);
        n_train.push(rows.len() - k);
    }
    let held_out = fit(&train, l2, max_iterations)?;
    let correct = test
        .iter()
        .filter(|(row, label)| held_out.predict(row) == *label)
        .count();
    let all: Vec<_> = train.into_iter().chain(test.iter().copied()).collect();
    let head = fit(&all, l2, max_iterations)?;
    Ok(Head {
        accuracy: correct as f64 / test.len() as f64,
        n_train,
        n_test,
        ..head
    })
}

fn fit(rows: &[(&Vec<f32>, usize)], l2: f64, max_iterations: u64) -> Result<Head, ProbeError> {
    let width = rows[0].0.len();
    let values = rows
        .iter()
        .flat_map(|(row, _)| row.iter().map(|&v| v as f64))
        .collect();
    let x = Array2::from_shape_vec((rows.len(), width), values)
        .map_err(|e| ProbeError::Fit(e.to_string()))?;
    let y: Array1<usize> = rows.iter().map(|(_, label)| *label).collect();
    let fitted = MultiLogisticRegression::default()
        .alpha(l2)
        .max_iterations(max_iterations)
        .fit(&Dataset::new(x, y))
        .map_err(|e| ProbeError::Fit(e.to_string()))?;
    // linfa orders classes ascending; every label 0..n is present, so column c is class c.
    let params = fitted.params();
    Ok(Head {
        weight: params
            .rows()
            .into_iter()
            .map(|r| r.iter().map(|&w| w as f32).collect())
            .collect(),
        bias: fitted.intercept().iter().map(|&b| b as f32).collect(),
        accuracy: f64::NAN,
        n_train: Vec::new(),
        n_test: Vec::new(),
    })
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
        let head = train_head(&classes, 0.01, 0.25, 200, &mut rng).unwrap();
        assert_eq!(head.n_test, vec![10, 10, 10]);
        assert_eq!(head.n_train, vec![30, 30, 30]);
        assert!(head.accuracy >= 0.95, "accuracy {}", head.accuracy);
        for (c, rows) in classes.iter().enumerate() {
            assert_eq!(head.predict(&rows[0]), c);
        }
        let err = train_head(&classes[..1], 0.01, 0.25, 200, &mut rng).unwrap_err();
        assert!(err.to_string().contains("classifier head"));
    }
}
