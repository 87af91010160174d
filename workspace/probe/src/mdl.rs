//! Minimum description length probing with the online code of Voita & Titov (2020),
//! "Information-Theoretic Probing with Minimum Description Length".
//!
//! Accuracy says whether a probe *can* decode a property; the description length says how much
//! effort that takes. A sender and a receiver both hold the feature rows `x₁…x_N`; the sender
//! transmits the labels `y₁…y_N`. With the *online* (prequential) code the data are cut into
//! blocks at timesteps `t₀ = 0 < t₁ < … < t_S = N`:
//!
//! * the first block's labels are sent with the uniform code, `t₁·log₂ K` bits;
//! * block `i > 1` (rows `t_{i-1}..t_i`) is sent with a probe trained on all earlier rows
//!   `0..t_{i-1}`, costing `Σ −log₂ p(yⱼ | xⱼ)` bits under that probe.
//!
//! The sum is the online codelength. It is compared with the uniform codelength `N·log₂ K` (no
//! probe at all): `compression = uniform / online`. A property the features encode in an
//! easily extracted (here: linear) form compresses well (≫ 1); labels unrelated to the
//! features do not compress (≈ 1, or below when the probe overfits and is confidently wrong).
//!
//! # Choices
//!
//! * **Probe.** L2-regularised logistic regression from linfa-logistic: the binary
//!   `LogisticRegression` when the training rows hold exactly two classes (its probability is
//!   mapped to the right class through `labels()`, because linfa calls the *more frequent* class
//!   positive), the multinomial `MultiLogisticRegression` when they hold three or more. The
//!   penalty is linfa's: `½·l2·‖W‖²` added to the *summed* (not mean) log-loss. Features are
//!   standardised with the training rows' mean and standard deviation unless
//!   [`ProbeOptions::standardize`] is off.
//! * **Classes not yet seen.** A probe assigns probability zero to classes absent from its
//!   training rows (the floor below then applies). When the training rows hold a single class
//!   there is nothing to fit; the probe is the add-one (Laplace) smoothed class frequency.
//! * **Probability floor.** Every probability used in the code is mixed with the uniform
//!   distribution, `p' = (1 − ε)·p + ε/K` ([`MdlOptions::epsilon`], default `1e-6`). That keeps
//!   the code a proper distribution and bounds the cost of a confident mistake at
//!   `−log₂(ε/K)` bits (about `20 + log₂ K`), instead of infinity; a correct, confident
//!   prediction still costs ≈ 0 bits.
//! * **Blocks.** The boundaries are fractions of the data, by default the paper's 0.1%, 0.2%,
//!   0.4%, 0.8%, 1.6%, 3.2%, 6.25%, 12.5%, 25%, 50% and 100%: boundary `t = round(f·N)`. Every
//!   boundary is raised to at least [`MdlOptions::min_first_block`] (default 10), so on small
//!   data sets the first block — the one sent uniformly, the one the first probe is trained on
//!   — is not empty or a single example; boundaries that coincide are merged and `N` is always
//!   the last one. At least one example more than the first block is required.
//! * **Order.** The rows are shuffled with [`MdlOptions::seed`] before being cut into blocks;
//!   the codelength depends (a little) on the order, so report it for a few seeds if it matters.

use crate::error::ProbeError;
use linfa::prelude::*;
use linfa_logistic::{
    FittedLogisticRegression, LogisticRegression, MultiFittedLogisticRegression,
    MultiLogisticRegression,
};
use ndarray::{Array1, Array2};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The block boundaries of Voita & Titov (2020), as fractions of the data.
pub const PAPER_FRACTIONS: [f64; 11] = [
    0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.0625, 0.125, 0.25, 0.5, 1.0,
];

/// Options of the logistic-regression probe.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ProbeOptions {
    /// L2 penalty `alpha` as linfa defines it: `½·alpha·‖W‖²` added to the summed log-loss.
    /// Larger means a lower-capacity probe.
    pub l2: f64,
    /// L-BFGS iterations.
    pub max_iterations: u64,
    /// Standardise every feature with the training rows' mean and standard deviation.
    pub standardize: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            l2: 1.0,
            max_iterations: 100,
            standardize: true,
        }
    }
}

/// Options of the online code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MdlOptions {
    /// The probe trained on each prefix of the data.
    pub probe: ProbeOptions,
    /// Block boundaries as strictly increasing fractions in `(0, 1]`; `1.0` is implied.
    pub fractions: Vec<f64>,
    /// Smallest first block (and so smallest training set of the first probe).
    pub min_first_block: usize,
    /// Weight of the uniform distribution mixed into every probe's probabilities: no class gets
    /// less than `epsilon / K`.
    pub epsilon: f64,
    /// Seed of the shuffle that orders the data into blocks.
    pub seed: u64,
}

impl Default for MdlOptions {
    fn default() -> Self {
        MdlOptions {
            probe: ProbeOptions::default(),
            fractions: PAPER_FRACTIONS.to_vec(),
            min_first_block: 10,
            epsilon: 1e-6,
            seed: 0,
        }
    }
}

/// The online codelength of a labelled data set and its parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MdlReport {
    /// Examples `N`.
    pub n_examples: usize,
    /// Classes `K`.
    pub n_classes: usize,
    /// End (exclusive) of each block, in shuffled order; the last is `N`.
    pub block_ends: Vec<usize>,
    /// Bits spent on each block; the first is the uniform code of the first block.
    pub block_codelength_bits: Vec<f64>,
    /// Sum of `block_codelength_bits`.
    pub online_codelength_bits: f64,
    /// `N·log₂ K`: the labels sent without a probe.
    pub uniform_codelength_bits: f64,
    /// `uniform_codelength_bits / online_codelength_bits`.
    pub compression: f64,
}

/// Online codelength of `labels` (each below `n_classes`) given feature `rows`.
pub fn online_codelength(
    rows: &[Vec<f32>],
    labels: &[usize],
    n_classes: usize,
    options: &MdlOptions,
) -> Result<MdlReport, ProbeError> {
    check_data(rows, labels, n_classes)?;
    if !(options.epsilon > 0.0 && options.epsilon <= 1.0) {
        return Err(invalid(format!(
            "MDL epsilon must lie in (0, 1], got {}",
            options.epsilon
        )));
    }
    let n = rows.len();
    let block_ends = block_ends(n, &options.fractions, options.min_first_block)?;
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(options.seed));
    let rows: Vec<Vec<f32>> = order.iter().map(|&i| rows[i].clone()).collect();
    let labels: Vec<usize> = order.iter().map(|&i| labels[i]).collect();

    let k = n_classes as f64;
    let mut block_bits = vec![block_ends[0] as f64 * k.log2()];
    for pair in block_ends.windows(2) {
        let (start, end) = (pair[0], pair[1]);
        let probe = fit_probe(&rows[..start], &labels[..start], n_classes, &options.probe)?;
        let probs = probe.probabilities(&rows[start..end]);
        let bits: f64 = labels[start..end]
            .iter()
            .enumerate()
            .map(|(i, &y)| {
                let p = probs[[i, y]];
                let p = if p.is_finite() {
                    p.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                -((1.0 - options.epsilon) * p + options.epsilon / k).log2()
            })
            .sum();
        block_bits.push(bits);
    }
    let online: f64 = block_bits.iter().sum();
    let uniform = n as f64 * k.log2();
    Ok(MdlReport {
        n_examples: n,
        n_classes,
        block_ends,
        block_codelength_bits: block_bits,
        online_codelength_bits: online,
        uniform_codelength_bits: uniform,
        compression: uniform / online,
    })
}

/// Block ends for `n` examples: `round(f·n)` for each fraction, at least `min_first_block`,
/// merged where equal, ending at `n`.
pub fn block_ends(
    n: usize,
    fractions: &[f64],
    min_first_block: usize,
) -> Result<Vec<usize>, ProbeError> {
    if fractions
        .iter()
        .any(|f| !f.is_finite() || *f <= 0.0 || *f > 1.0)
        || fractions.windows(2).any(|w| w[0] >= w[1])
    {
        return Err(invalid(format!(
            "MDL block fractions must increase strictly within (0, 1], got {fractions:?}"
        )));
    }
    let first = min_first_block.max(1);
    if n <= first {
        return Err(ProbeError::TooFewExamples {
            what: format!("MDL probe (examples in all, first block {first})"),
            needed: first + 1,
            have: n,
        });
    }
    let mut ends: Vec<usize> = Vec::with_capacity(fractions.len() + 1);
    for &f in fractions.iter().chain(std::iter::once(&1.0)) {
        let end = ((f * n as f64).round() as usize).clamp(first, n);
        if ends.last().is_none_or(|&last| end > last) {
            ends.push(end);
        }
    }
    Ok(ends)
}

/// A fitted logistic-regression probe over `K` classes.
#[derive(Debug, Clone)]
pub struct LinearProbe {
    n_classes: usize,
    mean: Vec<f64>,
    scale: Vec<f64>,
    model: Model,
}

#[derive(Debug, Clone)]
enum Model {
    /// Exactly two classes were seen.
    Binary(FittedLogisticRegression<f64, usize>),
    /// Three or more classes were seen.
    Multi(MultiFittedLogisticRegression<f64, usize>),
    /// One class was seen: add-one smoothed class frequencies.
    Prior(Vec<f64>),
}

/// Fits a logistic-regression probe of `labels` (each below `n_classes`) on `rows`.
pub fn fit_probe(
    rows: &[Vec<f32>],
    labels: &[usize],
    n_classes: usize,
    options: &ProbeOptions,
) -> Result<LinearProbe, ProbeError> {
    check_data(rows, labels, n_classes)?;
    let width = rows[0].len();
    let (mean, scale) = if options.standardize {
        moments(rows, width)
    } else {
        (vec![0.0; width], vec![1.0; width])
    };
    let mut counts = vec![0usize; n_classes];
    labels.iter().for_each(|&y| counts[y] += 1);
    let seen = counts.iter().filter(|&&c| c > 0).count();
    let model = if seen < 2 {
        let total = (labels.len() + n_classes) as f64;
        Model::Prior(counts.iter().map(|&c| (c + 1) as f64 / total).collect())
    } else {
        let x = matrix(rows, &mean, &scale);
        let y = Array1::from_vec(labels.to_vec());
        let data = Dataset::new(x, y);
        if seen == 2 {
            Model::Binary(
                LogisticRegression::default()
                    .alpha(options.l2)
                    .max_iterations(options.max_iterations)
                    .fit(&data)
                    .map_err(|e| ProbeError::Fit(e.to_string()))?,
            )
        } else {
            Model::Multi(
                MultiLogisticRegression::default()
                    .alpha(options.l2)
                    .max_iterations(options.max_iterations)
                    .fit(&data)
                    .map_err(|e| ProbeError::Fit(e.to_string()))?,
            )
        }
    };
    Ok(LinearProbe {
        n_classes,
        mean,
        scale,
        model,
    })
}

impl LinearProbe {
    /// Classes `K`.
    pub fn n_classes(&self) -> usize {
        self.n_classes
    }

    /// `[rows, K]` class probabilities; classes the probe never saw get zero (except under the
    /// single-class prior).
    pub fn probabilities(&self, rows: &[Vec<f32>]) -> Array2<f64> {
        let mut out = Array2::zeros((rows.len(), self.n_classes));
        if rows.is_empty() {
            return out;
        }
        match &self.model {
            Model::Prior(prior) => {
                for mut row in out.rows_mut() {
                    row.iter_mut().zip(prior).for_each(|(o, p)| *o = *p);
                }
            }
            Model::Binary(fitted) => {
                // linfa's "positive" class is the more frequent one in training, whichever
                // label that is; `labels()` says which.
                let p_pos = fitted.predict_probabilities(&matrix(rows, &self.mean, &self.scale));
                let (pos, neg) = (fitted.labels().pos.class, fitted.labels().neg.class);
                for (i, p) in p_pos.iter().enumerate() {
                    out[[i, pos]] = *p;
                    out[[i, neg]] = 1.0 - p;
                }
            }
            Model::Multi(fitted) => {
                let probs = fitted.predict_probabilities(&matrix(rows, &self.mean, &self.scale));
                for (column, &class) in fitted.classes().iter().enumerate() {
                    out.column_mut(class).assign(&probs.column(column));
                }
            }
        }
        out
    }

    /// The probe as class logits of the raw (unstandardised) features, `x · weight + bias`:
    /// `weight` is `[width][K]`, `bias` `[K]`. A softmax of these logits gives
    /// [`LinearProbe::probabilities`]; a two-class probe's logits are `±z/2` for its logistic
    /// score `z`, a class it never saw has logit −1e4, and a one-class prior is its log.
    pub fn linear_logits(&self) -> (Vec<Vec<f64>>, Vec<f64>) {
        let width = self.mean.len();
        let k = self.n_classes;
        let mut weight = vec![vec![0.0; k]; width];
        let mut bias = vec![0.0; k];
        // A standardised weight w on (x − m)/s is w/s on x, with bias −w·m/s.
        let mut add = |class: usize, w: &mut dyn Iterator<Item = f64>, b: f64, sign: f64| {
            bias[class] += sign * b;
            for (j, w) in w.enumerate() {
                weight[j][class] += sign * w / self.scale[j];
                bias[class] -= sign * w * self.mean[j] / self.scale[j];
            }
        };
        let seen: Vec<usize> = match &self.model {
            Model::Prior(_) => (0..k).collect(),
            Model::Binary(fitted) => {
                let (pos, neg) = (fitted.labels().pos.class, fitted.labels().neg.class);
                let b = fitted.intercept() / 2.0;
                add(pos, &mut fitted.params().iter().map(|w| w / 2.0), b, 1.0);
                add(neg, &mut fitted.params().iter().map(|w| w / 2.0), b, -1.0);
                vec![pos, neg]
            }
            Model::Multi(fitted) => {
                for (column, &class) in fitted.classes().iter().enumerate() {
                    let b = fitted.intercept()[column];
                    add(
                        class,
                        &mut fitted.params().column(column).iter().copied(),
                        b,
                        1.0,
                    );
                }
                fitted.classes().to_vec()
            }
        };
        if let Model::Prior(prior) = &self.model {
            bias = prior.iter().map(|p| p.ln()).collect();
        }
        for (class, b) in bias.iter_mut().enumerate() {
            if !seen.contains(&class) {
                *b = UNSEEN_LOGIT;
            }
        }
        (weight, bias)
    }

    /// Most probable class of each row (the lowest class on ties).
    pub fn predict(&self, rows: &[Vec<f32>]) -> Vec<usize> {
        self.probabilities(rows)
            .rows()
            .into_iter()
            .map(|row| {
                let mut best = 0;
                for (class, &p) in row.iter().enumerate() {
                    if p > row[best] {
                        best = class;
                    }
                }
                best
            })
            .collect()
    }

    /// Fraction of `rows` whose most probable class is the label.
    pub fn accuracy(&self, rows: &[Vec<f32>], labels: &[usize]) -> f64 {
        let correct = self
            .predict(rows)
            .iter()
            .zip(labels)
            .filter(|(p, y)| p == y)
            .count();
        correct as f64 / labels.len().max(1) as f64
    }
}

/// Logit of a class a probe never saw in training: no probability to speak of.
const UNSEEN_LOGIT: f64 = -1e4;

/// Rejects empty, ragged or mislabelled data.
pub(crate) fn check_data(
    rows: &[Vec<f32>],
    labels: &[usize],
    n_classes: usize,
) -> Result<(), ProbeError> {
    if n_classes < 2 {
        return Err(invalid(format!(
            "a probe needs 2 or more classes, got {n_classes}"
        )));
    }
    if rows.len() != labels.len() {
        return Err(invalid(format!(
            "{} feature rows but {} labels",
            rows.len(),
            labels.len()
        )));
    }
    let Some(first) = rows.first() else {
        return Err(ProbeError::TooFewExamples {
            what: "probe (examples in all)".into(),
            needed: 1,
            have: 0,
        });
    };
    if first.is_empty() || rows.iter().any(|r| r.len() != first.len()) {
        return Err(invalid(
            "feature rows must be non-empty and of equal width".into(),
        ));
    }
    if let Some(y) = labels.iter().find(|&&y| y >= n_classes) {
        return Err(invalid(format!(
            "label {y} is not below n_classes {n_classes}"
        )));
    }
    Ok(())
}

fn invalid(message: String) -> ProbeError {
    ProbeError::Fit(message)
}

/// Per-feature mean and standard deviation (1 where a feature is constant).
pub(crate) fn moments(rows: &[Vec<f32>], width: usize) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len() as f64;
    let mut mean = vec![0.0; width];
    for r in rows {
        mean.iter_mut()
            .zip(r)
            .for_each(|(m, &v)| *m += v as f64 / n);
    }
    let mut var = vec![0.0; width];
    for r in rows {
        var.iter_mut()
            .zip(r)
            .zip(&mean)
            .for_each(|((s, &v), m)| *s += (v as f64 - m).powi(2) / n);
    }
    let scale = var
        .into_iter()
        .map(|v| if v.sqrt() > 1e-12 { v.sqrt() } else { 1.0 })
        .collect();
    (mean, scale)
}

fn matrix(rows: &[Vec<f32>], mean: &[f64], scale: &[f64]) -> Array2<f64> {
    let width = mean.len();
    Array2::from_shape_fn((rows.len(), width), |(i, j)| {
        (rows[i][j] as f64 - mean[j]) / scale[j]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_logits_reproduce_the_probabilities() {
        let rows: Vec<Vec<f32>> = (0..30)
            .map(|i| vec![i as f32 * 0.3 + 5.0, ((i * 7) % 11) as f32 - 2.0])
            .collect();
        for labels in [
            (0..30).map(|i| usize::from(i >= 12)).collect::<Vec<_>>(),
            (0..30).map(|i| i / 10).collect(),
        ] {
            let k = labels.iter().max().unwrap() + 1;
            let probe = fit_probe(&rows, &labels, k, &ProbeOptions::default()).unwrap();
            let (weight, bias) = probe.linear_logits();
            let probs = probe.probabilities(&rows);
            for (i, row) in rows.iter().enumerate() {
                let logits: Vec<f64> = (0..k)
                    .map(|c| {
                        bias[c]
                            + row
                                .iter()
                                .zip(&weight)
                                .map(|(x, w)| *x as f64 * w[c])
                                .sum::<f64>()
                    })
                    .collect();
                let max = logits.iter().cloned().fold(f64::MIN, f64::max);
                let total: f64 = logits.iter().map(|l| (l - max).exp()).sum();
                for c in 0..k {
                    let p = (logits[c] - max).exp() / total;
                    assert!(
                        (p - probs[[i, c]]).abs() < 1e-9,
                        "row {i} class {c}: {p} vs {}",
                        probs[[i, c]]
                    );
                }
            }
        }
    }

    #[test]
    fn paper_boundaries_on_a_large_set() {
        let ends = block_ends(100_000, &PAPER_FRACTIONS, 10).unwrap();
        assert_eq!(
            ends,
            vec![
                100, 200, 400, 800, 1600, 3200, 6250, 12_500, 25_000, 50_000, 100_000
            ]
        );
    }

    #[test]
    fn small_sets_get_a_minimum_first_block() {
        let ends = block_ends(200, &PAPER_FRACTIONS, 10).unwrap();
        assert_eq!(ends, vec![10, 13, 25, 50, 100, 200]);
        // Fractions that stop short of 1 still cover the data.
        assert_eq!(block_ends(40, &[0.25, 0.5], 5).unwrap(), vec![10, 20, 40]);
    }

    #[test]
    fn bad_boundaries_and_tiny_sets_are_errors() {
        assert!(block_ends(100, &[0.5, 0.25], 10).is_err());
        assert!(block_ends(100, &[0.0, 0.5], 10).is_err());
        assert!(matches!(
            block_ends(10, &PAPER_FRACTIONS, 10),
            Err(ProbeError::TooFewExamples { .. })
        ));
    }

    #[test]
    fn binary_probabilities_follow_the_true_class_whichever_is_more_frequent() {
        // Class 0 is the majority, so linfa calls class 0 "positive".
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..30 {
            let x = i as f32 / 10.0;
            rows.push(vec![-1.0 - x]);
            labels.push(0);
            if i < 10 {
                rows.push(vec![1.0 + x]);
                labels.push(1);
            }
        }
        let probe = fit_probe(&rows, &labels, 2, &ProbeOptions::default()).unwrap();
        let p = probe.probabilities(&[vec![-3.0], vec![3.0]]);
        assert!(p[[0, 0]] > 0.9 && p[[1, 1]] > 0.9, "{p:?}");
        assert!((p[[0, 0]] + p[[0, 1]] - 1.0).abs() < 1e-9);
        assert_eq!(probe.predict(&[vec![-3.0], vec![3.0]]), vec![0, 1]);
    }

    #[test]
    fn a_single_seen_class_gives_the_smoothed_prior() {
        let rows = vec![vec![1.0f32]; 4];
        let probe = fit_probe(&rows, &[2, 2, 2, 2], 3, &ProbeOptions::default()).unwrap();
        let p = probe.probabilities(&[vec![0.0]]);
        assert_eq!(p.row(0).to_vec(), vec![1.0 / 7.0, 1.0 / 7.0, 5.0 / 7.0]);
    }

    #[test]
    fn labels_out_of_range_are_rejected() {
        let rows = vec![vec![1.0f32]; 3];
        assert!(fit_probe(&rows, &[0, 1, 2], 2, &ProbeOptions::default()).is_err());
        assert!(fit_probe(&rows, &[0, 1], 2, &ProbeOptions::default()).is_err());
    }
}
