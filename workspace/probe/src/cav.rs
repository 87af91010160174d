//! Concept activation vectors: a linear separator of a concept's activations from a random
//! set's, its unit normal oriented towards the concept, and its held-out accuracy.

use crate::error::ProbeError;
use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// How the direction is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CavMethod {
    /// L2-regularised logistic regression (linfa-logistic).
    Logistic,
    /// Difference of the class means.
    MeanDifference,
}

impl CavMethod {
    /// Name used in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            CavMethod::Logistic => "logistic",
            CavMethod::MeanDifference => "mean_difference",
        }
    }
}

/// How a CAV's accuracy is measured on data it was not fitted to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// Hold out this fraction of each class; the direction is fitted on the rest.
    Holdout(f64),
    /// Stratified k-fold: the mean accuracy over folds; the direction is fitted on all examples.
    Folds(usize),
}

/// CAV training options.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CavOptions {
    /// Separator.
    pub method: CavMethod,
    /// Logistic L2 penalty.
    pub l2: f64,
    /// Logistic optimiser iterations.
    pub max_iterations: u64,
    /// How accuracy is measured.
    pub validation: Validation,
}

/// A trained concept direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Cav {
    /// Unit vector pointing from the random set towards the concept.
    pub direction: Vec<f32>,
    /// Held-out (or cross-validated) accuracy.
    pub accuracy: f64,
    /// Examples per class the direction was fitted on.
    pub n_train: usize,
    /// Examples per class accuracy was measured on.
    pub n_test: usize,
}

/// Smallest number of examples per class that leaves two for training and one for testing.
pub const MIN_PER_CLASS: usize = 3;

/// Trains a CAV separating `concept` from `counter` rows.
///
/// Both sets are shuffled with `rng` and cut to the smaller size (balanced classes); accuracy is
/// then measured as `options.validation` says.
pub fn train_cav(
    concept: &[Vec<f32>],
    counter: &[Vec<f32>],
    options: &CavOptions,
    rng: &mut ChaCha8Rng,
) -> Result<Cav, ProbeError> {
    let n = concept.len().min(counter.len());
    let needed = match options.validation {
        Validation::Holdout(_) => MIN_PER_CLASS,
        Validation::Folds(k) => k.max(MIN_PER_CLASS),
    };
    if n < needed {
        return Err(ProbeError::TooFewExamples {
            what: "CAV".into(),
            needed,
            have: n,
        });
    }
    let concept = shuffled(concept, n, rng);
    let counter = shuffled(counter, n, rng);
    match options.validation {
        Validation::Holdout(fraction) => {
            let n_test = ((n as f64 * fraction).round() as usize).clamp(1, n - 2);
            let n_train = n - n_test;
            let (direction, bias) = fit(&concept[..n_train], &counter[..n_train], options)?;
            let correct = count_correct(&direction, bias, &concept[n_train..], &counter[n_train..]);
            Ok(Cav {
                direction: unit(&direction),
                accuracy: correct as f64 / (2 * n_test) as f64,
                n_train,
                n_test,
            })
        }
        Validation::Folds(k) => {
            let mut correct = 0;
            for fold in 0..k {
                let test = |i: &usize| i % k == fold;
                let pick = |rows: &[Vec<f32>], keep: &dyn Fn(&usize) -> bool| -> Vec<Vec<f32>> {
                    (0..n)
                        .filter(|i| keep(i))
                        .map(|i| rows[i].clone())
                        .collect()
                };
                let train = |i: &usize| !test(i);
                let (direction, bias) =
                    fit(&pick(&concept, &train), &pick(&counter, &train), options)?;
                correct += count_correct(
                    &direction,
                    bias,
                    &pick(&concept, &test),
                    &pick(&counter, &test),
                );
            }
            let (direction, _) = fit(&concept, &counter, options)?;
            Ok(Cav {
                direction: unit(&direction),
                accuracy: correct as f64 / (2 * n) as f64,
                n_train: n,
                n_test: n,
            })
        }
    }
}

/// Fits the separator, oriented so positive scores mean "concept".
fn fit(
    concept: &[Vec<f32>],
    counter: &[Vec<f32>],
    options: &CavOptions,
) -> Result<(Vec<f32>, f32), ProbeError> {
    match options.method {
        CavMethod::Logistic => logistic(concept, counter, options),
        CavMethod::MeanDifference => Ok(mean_difference(concept, counter)),
    }
}

/// Concept rows scored above zero plus counter rows scored at or below it.
fn count_correct(
    direction: &[f32],
    bias: f32,
    concept: &[Vec<f32>],
    counter: &[Vec<f32>],
) -> usize {
    let score = |row: &Vec<f32>| dot(row, direction) + bias;
    concept.iter().filter(|r| score(r) > 0.0).count()
        + counter.iter().filter(|r| score(r) <= 0.0).count()
}

/// Mean projection of rows on a direction (CAP).
pub fn mean_projection(rows: &[Vec<f32>], direction: &[f32]) -> f64 {
    rows.iter().map(|r| dot(r, direction) as f64).sum::<f64>() / rows.len().max(1) as f64
}

/// `keep` rows of `rows` in a seeded random order.
fn shuffled(rows: &[Vec<f32>], keep: usize, rng: &mut ChaCha8Rng) -> Vec<Vec<f32>> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.shuffle(rng);
    order[..keep].iter().map(|&i| rows[i].clone()).collect()
}

/// Logistic regression weights and intercept, oriented so positive scores mean "concept".
fn logistic(
    concept: &[Vec<f32>],
    counter: &[Vec<f32>],
    options: &CavOptions,
) -> Result<(Vec<f32>, f32), ProbeError> {
    let width = concept[0].len();
    let rows: Vec<f64> = concept
        .iter()
        .chain(counter)
        .flat_map(|r| r.iter().map(|&v| v as f64))
        .collect();
    let x = Array2::from_shape_vec((concept.len() + counter.len(), width), rows)
        .map_err(|e| ProbeError::Fit(e.to_string()))?;
    let y: Array1<bool> = (0..concept.len() + counter.len())
        .map(|i| i < concept.len())
        .collect();
    let fitted = LogisticRegression::default()
        .alpha(options.l2)
        .max_iterations(options.max_iterations)
        .fit(&Dataset::new(x, y))
        .map_err(|e| ProbeError::Fit(e.to_string()))?;
    // linfa calls one of the classes "positive" by its own rule; orient towards the concept.
    let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
    let weights = fitted.params().iter().map(|&w| (sign * w) as f32).collect();
    Ok((weights, (sign * fitted.intercept()) as f32))
}

/// Difference of class means, with the threshold half-way between the projected means.
fn mean_difference(concept: &[Vec<f32>], counter: &[Vec<f32>]) -> (Vec<f32>, f32) {
    let mean = |rows: &[Vec<f32>]| {
        let mut m = vec![0.0f32; rows[0].len()];
        for r in rows {
            m.iter_mut().zip(r).for_each(|(a, b)| *a += b);
        }
        m.iter_mut().for_each(|a| *a /= rows.len() as f32);
        m
    };
    let (a, b) = (mean(concept), mean(counter));
    let direction: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
    let midpoint = (dot(&a, &direction) + dot(&b, &direction)) / 2.0;
    (direction, -midpoint)
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn unit(v: &[f32]) -> Vec<f32> {
    let norm = dot(v, v).sqrt();
    if norm > 0.0 {
        v.iter().map(|x| x / norm).collect()
    } else {
        v.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};

    /// Gaussian-ish clouds separated along axis 0 only.
    fn clouds(rng: &mut ChaCha8Rng, n: usize, shift: f32) -> Vec<Vec<f32>> {
        (0..n)
            .map(|_| {
                (0..8)
                    .map(|j| rng.random_range(-1.0f32..1.0) + if j == 0 { shift } else { 0.0 })
                    .collect()
            })
            .collect()
    }

    fn planted(method: CavMethod) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        // The counter set is larger, so linfa's "positive" class would be the random set.
        let concept = clouds(&mut rng, 40, 3.0);
        let counter = clouds(&mut rng, 60, 0.0);
        let options = CavOptions {
            method,
            l2: 0.01,
            max_iterations: 200,
            validation: Validation::Holdout(0.25),
        };
        let cav = train_cav(&concept, &counter, &options, &mut rng).unwrap();
        assert!(cav.accuracy >= 0.95, "accuracy {}", cav.accuracy);
        assert!(cav.direction[0] > 0.9, "direction {:?}", cav.direction);
        let norm: f32 = cav.direction.iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-5);
        assert_eq!((cav.n_train, cav.n_test), (30, 10));
        assert!(
            mean_projection(&concept, &cav.direction) > mean_projection(&counter, &cav.direction)
        );
    }

    #[test]
    fn logistic_cav_points_at_the_planted_concept() {
        planted(CavMethod::Logistic);
    }

    #[test]
    fn mean_difference_cav_points_at_the_planted_concept() {
        planted(CavMethod::MeanDifference);
    }

    #[test]
    fn orientation_does_not_depend_on_which_class_is_larger() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let concept = clouds(&mut rng, 60, -3.0);
        let counter = clouds(&mut rng, 40, 0.0);
        let options = CavOptions {
            method: CavMethod::Logistic,
            l2: 0.01,
            max_iterations: 200,
            validation: Validation::Holdout(0.25),
        };
        let cav = train_cav(&concept, &counter, &options, &mut rng).unwrap();
        assert!(cav.direction[0] < -0.9, "direction {:?}", cav.direction);
    }

    #[test]
    fn too_few_examples_is_an_error() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let options = CavOptions {
            method: CavMethod::Logistic,
            l2: 0.01,
            max_iterations: 10,
            validation: Validation::Holdout(0.3),
        };
        let rows = clouds(&mut rng, 2, 0.0);
        assert!(matches!(
            train_cav(&rows, &rows, &options, &mut rng),
            Err(ProbeError::TooFewExamples { .. })
        ));
    }
}
