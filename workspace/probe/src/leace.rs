//! LEACE, least-squares concept erasure (Belrose et al. 2023, "LEACE: Perfect linear concept
//! erasure in closed form").
//!
//! With `Σ_xx` the covariance of the activations `x`, `Σ_xz` their cross-covariance with the
//! one-hot concept label `z`, the whitening `W = Σ_xx^{-1/2}` (a pseudo-inverse square root on a
//! rank-deficient `Σ_xx`) and `P` the orthogonal projection onto the column space of `W Σ_xz`,
//! the eraser is the affine map
//!
//! ```text
//! r(x) = x − W⁺ P W (x − μ)        (μ = E[x])
//! ```
//!
//! After it, `Cov(r(x), z) = 0`: every class has the same mean, so no linear classifier does
//! better than a constant one, and `r` moves `x` as little as possible (in the `Σ_xx` norm)
//! to get there. `M = W⁺ P W` is idempotent, so erasing twice equals erasing once.

use crate::control::{holdout_split, pick, train_test_accuracy};
use crate::error::ProbeError;
use crate::mdl::ProbeOptions;
use nalgebra::{DMatrix, Dyn, SymmetricEigen};

/// Eigenvalues of `Σ_xx` below this fraction of the largest count as zero (pseudo-inverse).
const RELATIVE_EIGEN_TOLERANCE: f64 = 1e-10;
/// Singular values of `W Σ_xz` (covariances of the whitened activations with the label, on
/// the scale of correlations) at or below this count as zero: data whose concept is already
/// erased gives an eraser that changes nothing, not one that erases round-off.
const MIN_COVARIANCE: f64 = 1e-5;

/// A fitted eraser `x ↦ x − M (x − μ)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Eraser {
    /// μ, the mean of the rows it was fitted on.
    pub mean: Vec<f32>,
    /// M = W⁺ P W, row-major `[width, width]`.
    pub matrix: Vec<f32>,
    /// The rank of `P`: how many directions are erased (at most classes − 1).
    pub rank: usize,
}

impl Eraser {
    /// Directional ablation as an eraser: `x ↦ x − (x·v̂) v̂` (μ = 0, M = v̂ v̂ᵀ).
    pub fn project_out(direction: &[f32]) -> Result<Eraser, ProbeError> {
        let norm = direction.iter().map(|x| x * x).sum::<f32>().sqrt();
        if !(norm > 0.0 && norm.is_finite()) {
            return Err(ProbeError::Fit(
                "cannot project out a zero direction".into(),
            ));
        }
        let unit: Vec<f32> = direction.iter().map(|x| x / norm).collect();
        let w = unit.len();
        Ok(Eraser {
            mean: vec![0.0; w],
            matrix: (0..w * w).map(|k| unit[k / w] * unit[k % w]).collect(),
            rank: 1,
        })
    }

    /// Width of the activations it erases.
    pub fn width(&self) -> usize {
        self.mean.len()
    }

    /// Erases one row.
    pub fn apply(&self, row: &[f32]) -> Vec<f32> {
        let w = self.width();
        let centred: Vec<f32> = row.iter().zip(&self.mean).map(|(x, m)| x - m).collect();
        (0..w)
            .map(|i| {
                let m_row = &self.matrix[i * w..(i + 1) * w];
                let shift: f32 = m_row.iter().zip(&centred).map(|(a, b)| a * b).sum();
                row[i] - shift
            })
            .collect()
    }

    /// Erases every row.
    pub fn apply_rows(&self, rows: &[Vec<f32>]) -> Vec<Vec<f32>> {
        rows.iter().map(|r| self.apply(r)).collect()
    }
}

/// The estimate of `Σ_xx` LEACE whitens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Covariance {
    /// The sample covariance (pseudo-inverted where rank-deficient), as in the paper's closed
    /// form. With fewer examples than dimensions it is singular, and the eraser acts only
    /// within the span of the rows it was fitted on.
    Sample,
    /// Ledoit–Wolf shrinkage towards a multiple of the identity (as the `concept-erasure`
    /// reference implementation does by default): well-conditioned, and still exact on the
    /// fitted rows, since any invertible whitening makes the erased class means coincide.
    LedoitWolf,
}

/// Fits LEACE on `rows` labelled `labels` (each `< n_classes`).
///
/// Needs at least two classes with examples and rows of one width.
pub fn fit_leace(
    rows: &[Vec<f32>],
    labels: &[usize],
    n_classes: usize,
    covariance: Covariance,
) -> Result<Eraser, ProbeError> {
    let fail = |detail: String| Err(ProbeError::Fit(format!("LEACE: {detail}")));
    if rows.len() != labels.len() {
        return fail(format!("{} rows but {} labels", rows.len(), labels.len()));
    }
    let present = (0..n_classes).filter(|c| labels.contains(c)).count();
    if present < 2 || labels.iter().any(|&l| l >= n_classes) {
        return fail(
            "needs examples of at least two classes, and labels below the class count".into(),
        );
    }
    let width = rows[0].len();
    if width == 0 || rows.iter().any(|r| r.len() != width) {
        return fail("rows must be non-empty and of one width".into());
    }
    let n = rows.len();
    let x = DMatrix::from_fn(n, width, |i, j| rows[i][j] as f64);
    let z = DMatrix::from_fn(n, n_classes, |i, c| f64::from(u8::from(labels[i] == c)));
    let mean = x.row_mean();
    let xc = DMatrix::from_fn(n, width, |i, j| x[(i, j)] - mean[j]);
    let z_mean = z.row_mean();
    let zc = DMatrix::from_fn(n, n_classes, |i, c| z[(i, c)] - z_mean[c]);
    let mut sigma_xx = (xc.transpose() * &xc) / n as f64;
    let sigma_xz = (xc.transpose() * zc) / n as f64;
    if covariance == Covariance::LedoitWolf {
        let shrinkage = ledoit_wolf_shrinkage(&xc, &sigma_xx);
        let target = sigma_xx.trace() / width as f64;
        sigma_xx *= 1.0 - shrinkage;
        for i in 0..width {
            sigma_xx[(i, i)] += shrinkage * target;
        }
    }

    // M = W⁺ P W written as the oblique projection M = Σ_xz G⁺ Σ_xzᵀ Σ⁺, G = Σ_xzᵀ Σ⁺ Σ_xz
    // (W Σ_xz's Gram matrix, so P = W Σ_xz G⁺ Σ_xzᵀ W). Then M Σ_xz = Σ_xz G⁺ G = Σ_xz holds
    // by construction: the fitted rows' class means coincide however rough Σ⁺ is. (Built from
    // W and W⁺, M inherits the eigensolver's error; on the exactly singular covariance of
    // LayerNorm outputs that let a fresh probe recover the concept.)
    let inverse = pseudo_inverse(sigma_xx, RELATIVE_EIGEN_TOLERANCE);
    let b = &inverse * &sigma_xz;
    let gram = sigma_xz.transpose() * &b;
    // G's eigenvalues are the squared singular values of W Σ_xz.
    let gram_eigen = SymmetricEigen::new(gram);
    let rank = (gram_eigen.eigenvalues.iter())
        .filter(|&&l| l > MIN_COVARIANCE * MIN_COVARIANCE)
        .count();
    let gram_inverse = pseudo_inverse_absolute(gram_eigen, MIN_COVARIANCE * MIN_COVARIANCE);
    let matrix = &sigma_xz * gram_inverse * b.transpose();
    Ok(Eraser {
        mean: mean.iter().map(|&m| m as f32).collect(),
        // nalgebra is column-major; read it out row by row.
        matrix: (0..width)
            .flat_map(|i| (0..width).map(move |j| (i, j)))
            .map(|(i, j)| matrix[(i, j)] as f32)
            .collect(),
        rank,
    })
}

/// The pseudo-inverse of the symmetric positive semi-definite `m`: eigenvalues at or below
/// `relative` times the largest count as zero.
fn pseudo_inverse(m: DMatrix<f64>, relative: f64) -> DMatrix<f64> {
    let eigen = SymmetricEigen::new(m);
    let largest = eigen.eigenvalues.iter().copied().fold(0.0f64, f64::max);
    pseudo_inverse_absolute(eigen, largest * relative)
}

/// `V diag(1/λ) Vᵀ` over the eigenvalues above `floor` (and above 0).
fn pseudo_inverse_absolute(eigen: SymmetricEigen<f64, Dyn>, floor: f64) -> DMatrix<f64> {
    let inverted = eigen
        .eigenvalues
        .map(|l| if l > floor.max(0.0) { 1.0 / l } else { 0.0 });
    let v = &eigen.eigenvectors;
    v * DMatrix::from_diagonal(&inverted) * v.transpose()
}

/// The Ledoit–Wolf (2004) shrinkage intensity in `[0, 1]` of the sample covariance `s` of the
/// centred rows `xc` towards `tr(s)/d · I` (the formula scikit-learn's `ledoit_wolf` uses).
fn ledoit_wolf_shrinkage(xc: &DMatrix<f64>, s: &DMatrix<f64>) -> f64 {
    let (n, d) = (xc.nrows() as f64, xc.ncols() as f64);
    let mu = s.trace() / d;
    let s_norm2 = s.norm_squared();
    let fourth: f64 = xc.row_iter().map(|row| row.norm_squared().powi(2)).sum();
    let beta = (fourth / n - s_norm2) / (d * n);
    let delta = (s_norm2 - 2.0 * mu * s.trace() + d * mu * mu) / d;
    if delta <= 0.0 {
        return 0.0;
    }
    (beta.min(delta) / delta).clamp(0.0, 1.0)
}

/// A fresh probe's held-out accuracy on a concept before and after LEACE.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErasureAccuracy {
    /// Accuracy on the original rows.
    pub before: f64,
    /// Accuracy on the erased rows.
    pub after: f64,
    /// Directions the eraser removed.
    pub rank: usize,
}

/// Held-out accuracy of a fresh probe on `rows` before and after an erasure, on one seeded
/// split stratified by class (so that a constant prediction scores the majority rate on both
/// splits, not less on the held-out one).
///
/// `fit` builds the eraser from the training split only (e.g. [`fit_leace`]); it is applied to
/// both splits, and the probe is trained on the erased training rows and scored on the erased
/// held-out rows. (Fitting LEACE on every row would make the two splits' class means exact
/// opposites of each other, and push the held-out accuracy *below* chance.)
pub fn erasure_accuracy(
    rows: &[Vec<f32>],
    labels: &[usize],
    n_classes: usize,
    (test_fraction, seed): (f64, u64),
    options: &ProbeOptions,
    mut fit: impl FnMut(&[Vec<f32>], &[usize]) -> Result<Eraser, ProbeError>,
) -> Result<ErasureAccuracy, ProbeError> {
    let (test, train) = stratified_split(labels, n_classes, test_fraction, seed);
    let (train_rows, train_labels) = pick(rows, labels, &train);
    let (test_rows, test_labels) = pick(rows, labels, &test);
    let before = train_test_accuracy(
        &train_rows,
        &train_labels,
        &test_rows,
        &test_labels,
        n_classes,
        options,
    )?;
    let eraser = fit(&train_rows, &train_labels)?;
    let after = train_test_accuracy(
        &eraser.apply_rows(&train_rows),
        &train_labels,
        &eraser.apply_rows(&test_rows),
        &test_labels,
        n_classes,
        options,
    )?;
    Ok(ErasureAccuracy {
        before,
        after,
        rank: eraser.rank,
    })
}

/// Held-out and training indices: `round(test_fraction·n_c)` of each class `c` held out (at
/// least one, and at least one left), chosen by `seed`.
fn stratified_split(
    labels: &[usize],
    n_classes: usize,
    test_fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let (mut test, mut train) = (Vec::new(), Vec::new());
    for class in 0..n_classes {
        let members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        let (held, kept) = holdout_split(members.len(), test_fraction, seed ^ class as u64);
        test.extend(held.iter().map(|&i| members[i]));
        train.extend(kept.iter().map(|&i| members[i]));
    }
    (test, train)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// Two classes that differ in their mean along a mix of axes 0 and 1, with correlated noise
    /// and a constant (rank-deficient) last feature.
    fn data(n: usize, seed: u64) -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut rows = Vec::new();
        let mut labels = Vec::new();
        for i in 0..n {
            let label = i % 2;
            let shift = if label == 1 { 2.0 } else { -2.0 };
            let noise: Vec<f32> = (0..5).map(|_| rng.random_range(-1.0f32..1.0)).collect();
            rows.push(vec![
                shift + noise[0],
                0.5 * shift + noise[0] + noise[1],
                noise[2],
                noise[3] + noise[4],
                noise[4],
                3.0,
            ]);
            labels.push(label);
        }
        (rows, labels)
    }

    fn class_mean(rows: &[Vec<f32>], labels: &[usize], class: usize) -> Vec<f64> {
        let picked: Vec<&Vec<f32>> = rows
            .iter()
            .zip(labels)
            .filter(|(_, l)| **l == class)
            .map(|(r, _)| r)
            .collect();
        (0..rows[0].len())
            .map(|j| picked.iter().map(|r| r[j] as f64).sum::<f64>() / picked.len() as f64)
            .collect()
    }

    fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
        a.iter()
            .flatten()
            .zip(b.iter().flatten())
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn erased_class_means_coincide_and_a_probe_falls_to_chance() {
        let (rows, labels) = data(800, 1);
        let eraser = fit_leace(&rows, &labels, 2, Covariance::Sample).unwrap();
        assert_eq!(eraser.rank, 1);
        let erased = eraser.apply_rows(&rows);
        let (m0, m1) = (
            class_mean(&erased, &labels, 0),
            class_mean(&erased, &labels, 1),
        );
        for (a, b) in m0.iter().zip(&m1) {
            assert!((a - b).abs() < 1e-4, "class means {m0:?} vs {m1:?}");
        }
        let options = ProbeOptions::default();
        let fit = |r: &[Vec<f32>], l: &[usize]| fit_leace(r, l, 2, Covariance::Sample);
        let accuracy = erasure_accuracy(&rows, &labels, 2, (0.3, 9), &options, fit).unwrap();
        assert!(accuracy.before > 0.95, "before erasure {accuracy:?}");
        assert!(
            (accuracy.after - 0.5).abs() < 0.05,
            "after erasure {accuracy:?}"
        );
        assert_eq!(accuracy.rank, 1);
    }

    #[test]
    fn rows_with_a_layer_norm_null_direction_are_erased_to_chance() {
        // LayerNorm's outputs sum to zero, so their covariance is exactly singular (in f32,
        // up to round-off): the case real encoders give.
        let (rows, labels) = data(1200, 4);
        let rows: Vec<Vec<f32>> = rows
            .iter()
            .map(|r| {
                let n = r.len() as f32;
                let mean = r.iter().sum::<f32>() / n;
                let sd = (r.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n).sqrt();
                r.iter().map(|x| (x - mean) / sd).collect()
            })
            .collect();
        // The fitted rows' class means coincide: M Σ_xz = Σ_xz.
        for covariance in [Covariance::Sample, Covariance::LedoitWolf] {
            let erased = fit_leace(&rows, &labels, 2, covariance)
                .unwrap()
                .apply_rows(&rows);
            let (m0, m1) = (
                class_mean(&erased, &labels, 0),
                class_mean(&erased, &labels, 1),
            );
            let gap = m0
                .iter()
                .zip(&m1)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(gap < 1e-6, "{covariance:?}: class means {m0:?} vs {m1:?}");
        }
        let options = ProbeOptions::default();
        for split_seed in 0..4 {
            let fit = |r: &[Vec<f32>], l: &[usize]| fit_leace(r, l, 2, Covariance::Sample);
            let accuracy =
                erasure_accuracy(&rows, &labels, 2, (0.3, split_seed), &options, fit).unwrap();
            assert_eq!(accuracy.rank, 1);
            assert!(
                (accuracy.after - 0.5).abs() < 0.05,
                "split {split_seed}: {accuracy:?}"
            );
        }
    }

    #[test]
    fn erasing_twice_equals_once_and_refitting_on_erased_rows_changes_nothing() {
        let (rows, labels) = data(300, 2);
        for covariance in [Covariance::Sample, Covariance::LedoitWolf] {
            let eraser = fit_leace(&rows, &labels, 2, covariance).unwrap();
            let once = eraser.apply_rows(&rows);
            let twice = eraser.apply_rows(&once);
            assert!(
                max_diff(&once, &twice) < 1e-4,
                "{}",
                max_diff(&once, &twice)
            );
            let refit = fit_leace(&once, &labels, 2, covariance).unwrap();
            assert_eq!(refit.rank, 0, "{covariance:?}");
            let again = refit.apply_rows(&once);
            assert!(
                max_diff(&once, &again) < 1e-3,
                "{}",
                max_diff(&once, &again)
            );
            // It moved the rows in the first place.
            assert!(max_diff(&rows, &once) > 0.5);
        }
    }

    #[test]
    fn projecting_out_the_mean_difference_is_an_eraser_of_rank_one() {
        let (rows, labels) = data(400, 4);
        let eraser = Eraser::project_out(&[1.0, 0.5, 0.0, 0.0, 0.0, 0.0]).unwrap();
        let once = eraser.apply_rows(&rows);
        assert!(max_diff(&once, &eraser.apply_rows(&once)) < 1e-5);
        let along = |r: &Vec<f32>| (r[0] + 0.5 * r[1]).abs();
        assert!(once.iter().all(|r| along(r) < 1e-4));
        assert!(class_mean(&once, &labels, 1)[0] != class_mean(&rows, &labels, 1)[0]);
        assert!(Eraser::project_out(&[0.0; 6]).is_err());
    }

    /// With fewer rows than dimensions the sample covariance is singular; either estimate
    /// makes the fitted rows' class means coincide and pulls held-out ones together.
    #[test]
    fn shrinkage_erases_held_out_rows_when_there_are_fewer_rows_than_dimensions() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let width = 120;
        let direction: Vec<f32> = (0..width)
            .map(|j| ((j * 13 % 7) as f32 - 3.0) / 3.0)
            .collect();
        let mut draw = |n: usize| -> (Vec<Vec<f32>>, Vec<usize>) {
            let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
            let rows = (labels.iter())
                .map(|&l| {
                    let shift = if l == 1 { 0.4 } else { -0.4 };
                    (0..width)
                        .map(|j| shift * direction[j] + rng.random_range(-1.0f32..1.0))
                        .collect()
                })
                .collect();
            (rows, labels)
        };
        let (train, train_labels) = draw(60);
        let (test, test_labels) = draw(2000);
        let gap = |eraser: &Eraser| {
            let erased = eraser.apply_rows(&test);
            let (a, b) = (
                class_mean(&erased, &test_labels, 0),
                class_mean(&erased, &test_labels, 1),
            );
            a.iter()
                .zip(&b)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let before = {
            let (a, b) = (
                class_mean(&test, &test_labels, 0),
                class_mean(&test, &test_labels, 1),
            );
            a.iter()
                .zip(&b)
                .map(|(x, y)| (x - y).powi(2))
                .sum::<f64>()
                .sqrt()
        };
        let sample = fit_leace(&train, &train_labels, 2, Covariance::Sample).unwrap();
        let shrunk = fit_leace(&train, &train_labels, 2, Covariance::LedoitWolf).unwrap();
        for eraser in [&sample, &shrunk] {
            let erased = eraser.apply_rows(&train);
            let (a, b) = (
                class_mean(&erased, &train_labels, 0),
                class_mean(&erased, &train_labels, 1),
            );
            assert!(a.iter().zip(&b).all(|(x, y)| (x - y).abs() < 1e-3));
        }
        let (gap_sample, gap_shrunk) = (gap(&sample), gap(&shrunk));
        // Held out, the class means move much closer, though not together: the direction is
        // estimated from 30 rows per class.
        assert!(
            gap_sample < 0.5 * before && gap_shrunk < 0.5 * before,
            "held-out class-mean gap: before {before}, sample {gap_sample}, shrunk {gap_shrunk}"
        );
    }

    #[test]
    fn bad_inputs_are_errors() {
        let (rows, labels) = data(10, 3);
        let sample = Covariance::Sample;
        assert!(fit_leace(&rows, &[0; 10], 2, sample).is_err());
        assert!(fit_leace(&rows, &labels[..5], 2, sample).is_err());
        assert!(fit_leace(&rows, &labels, 1, sample).is_err());
    }
}
