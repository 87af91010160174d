//! A LIME-style local surrogate for token attributions (Ribeiro, Singh & Guestrin 2016,
//! "“Why Should I Trust You?”: Explaining the Predictions of Any Classifier").
//!
//! To explain one prediction on an input of `n` tokens, LIME perturbs the input by *masking*
//! tokens (a binary vector `m ∈ {0,1}ⁿ`, `1` = the token is kept), asks the model for its output
//! `f(m)` on every perturbed input, and fits a weighted linear model
//! `g(m) = b + Σⱼ βⱼ·mⱼ` to those outputs, weighting each sample by its proximity to the
//! original input. `βⱼ` is the surrogate's estimate of what keeping token `j` adds to the output
//! *near this input*; the weighted R² of `g` on the samples is its *local fidelity*: how much of
//! the model's behaviour on the perturbations a linear, per-token explanation captures.
//!
//! This module is model-free. [`sample_masks`] draws the perturbations, the caller evaluates the
//! model on each masked input (in one batch, say) and hands the outputs to [`fit_surrogate`];
//! [`explain`] does both when the model is a closure.
//!
//! # Choices
//!
//! * **Sampling** follows LIME's text explainer (`LimeTextExplainer`): the first sample is the
//!   original input (the all-ones mask, always included); every other sample removes a number
//!   of tokens drawn uniformly from `1..=n`, the tokens themselves drawn uniformly without
//!   replacement. The generator is ChaCha8 seeded with [`SurrogateOptions::seed`]: the same seed
//!   gives the same masks on every platform. Masks may repeat (LIME does not deduplicate).
//! * **Proximity.** The distance of a mask to the original is the cosine distance between the
//!   mask and the all-ones vector: with `k` of `n` tokens kept, `d = 1 − √(k/n)`; the empty mask
//!   (cosine undefined) gets `d = 1`, as in scikit-learn's `pairwise_distances`, which LIME uses.
//!   The weight is the exponential kernel `π = exp(−d² / (2w²))`, i.e. LIME's
//!   `√(exp(−d²/w²))`, with width `w` = [`SurrogateOptions::kernel_width`]. LIME text measures
//!   the distance ×100 with width 25; the default `w = 0.25` is the same kernel on the unscaled
//!   distance.
//! * **Model.** LIME's default is scikit-learn `Ridge(alpha = 1)` after a feature selection; the
//!   issue asks for a *sparse* model, so the default here is a weighted **Lasso** fitted by
//!   cyclic coordinate descent (Friedman, Hastie & Tibshirani 2010), with an unpenalised
//!   intercept, on features standardised by their weighted mean and weighted (population)
//!   standard deviation. The objective on the standardised features `z` is
//!
//!   ```text
//!   ½ Σᵢ vᵢ (yᵢ − ȳ − Σⱼ zᵢⱼ γⱼ)²  +  alpha·Σⱼ |γⱼ|  +  ½·ridge·Σⱼ γⱼ²,     vᵢ = πᵢ / Σₖ πₖ
//!   ```
//!
//!   (weights normalised to sum to one, so `alpha` does not grow with the number of samples;
//!   `γ` are in output units per weighted standard deviation of the mask bit). The surrogate
//!   uses `ridge = 0` when `alpha > 0` (pure Lasso) and, when `alpha = 0`, weighted **ridge**
//!   regression with penalty [`SurrogateOptions::ridge`] (ordinary weighted least squares if
//!   that is zero too). The coefficients are reported on the original 0/1 scale,
//!   `βⱼ = γⱼ / sⱼ`, with the intercept `b = ȳ − Σⱼ βⱼ·m̄ⱼ`; a token whose mask bit is constant
//!   over the samples (possible with very few samples) has no information and gets `βⱼ = 0`.
//!   [`fit_weighted_linear`] exposes the solver with both penalties (an elastic net).
//! * **Fidelity** is the weighted R², `1 − Σ vᵢ(yᵢ − g(mᵢ))² / Σ vᵢ(yᵢ − ȳ)²`, computed on
//!   the same samples the surrogate was fitted to (LIME's `score`). When the outputs are
//!   constant there is nothing to explain: the intercept reproduces them and R² is 1.
//! * **Convergence.** Coordinate descent stops when no coefficient moved by more than
//!   `tolerance × sd(y)` in a sweep (`sd(y)` the weighted standard deviation of the outputs), or
//!   after `max_sweeps` sweeps; [`LinearFit::converged`] says which.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// LIME text's kernel width on the unscaled cosine distance (25 on the distance ×100).
pub const DEFAULT_KERNEL_WIDTH: f64 = 0.25;

/// Options of the LIME-style surrogate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SurrogateOptions {
    /// Number of masks, the all-ones mask included (LIME's default is 5000; each one costs a
    /// forward pass, so the default here is 500).
    pub samples: usize,
    /// Seed of the ChaCha8 generator that draws the masks.
    pub seed: u64,
    /// Width `w` of the exponential kernel `exp(−d²/(2w²))` on the cosine distance.
    pub kernel_width: f64,
    /// L1 penalty of the weighted Lasso on the standardised masks; `0` selects ridge.
    pub alpha: f64,
    /// L2 penalty, used only when `alpha == 0` (weighted ridge regression).
    pub ridge: f64,
    /// Maximum number of coordinate-descent sweeps.
    pub max_sweeps: usize,
    /// Convergence tolerance, relative to the weighted standard deviation of the outputs.
    pub tolerance: f64,
}

impl Default for SurrogateOptions {
    fn default() -> Self {
        SurrogateOptions {
            samples: 500,
            seed: 0,
            kernel_width: DEFAULT_KERNEL_WIDTH,
            alpha: 0.01,
            ridge: 1.0e-3,
            max_sweeps: 10_000,
            tolerance: 1.0e-9,
        }
    }
}

/// A fitted local surrogate `g(m) = intercept + Σⱼ coefficients[j]·mⱼ`.
#[derive(Debug, Clone, PartialEq)]
pub struct Surrogate {
    /// Per-token coefficient on the 0/1 mask scale: the output the surrogate credits to keeping
    /// the token.
    pub coefficients: Vec<f64>,
    /// Output the surrogate predicts with every token masked.
    pub intercept: f64,
    /// Local fidelity: weighted R² of the surrogate on the samples.
    pub r2: f64,
    /// The surrogate's prediction on the original input (all tokens kept).
    pub local_prediction: f64,
    /// Number of samples it was fitted to.
    pub samples: usize,
    /// Whether coordinate descent met its tolerance.
    pub converged: bool,
}

/// Penalties and stopping rule of [`fit_weighted_linear`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearOptions {
    /// L1 penalty on the standardised coefficients.
    pub l1: f64,
    /// L2 penalty (`½·l2·‖γ‖²`) on the standardised coefficients.
    pub l2: f64,
    /// Maximum number of coordinate-descent sweeps.
    pub max_sweeps: usize,
    /// Convergence tolerance, relative to the weighted standard deviation of the targets.
    pub tolerance: f64,
}

impl Default for LinearOptions {
    fn default() -> Self {
        LinearOptions {
            l1: 0.0,
            l2: 0.0,
            max_sweeps: 10_000,
            tolerance: 1.0e-9,
        }
    }
}

/// A weighted linear model fitted by [`fit_weighted_linear`], on the original feature scale.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearFit {
    /// One coefficient per feature (zero for features constant under the weights).
    pub coefficients: Vec<f64>,
    /// Unpenalised intercept.
    pub intercept: f64,
    /// Weighted R² on the fitted rows (1 when the targets are constant).
    pub r2: f64,
    /// Coordinate-descent sweeps run.
    pub sweeps: usize,
    /// Whether the tolerance was met within `max_sweeps`.
    pub converged: bool,
}

/// Draws `samples` token masks for an input of `n_tokens` tokens, LIME-style (see the module
/// documentation): the first is all ones, every other one removes between 1 and `n_tokens`
/// tokens. Returns no masks when `samples == 0`; with `n_tokens == 0` every mask is empty.
pub fn sample_masks(n_tokens: usize, samples: usize, seed: u64) -> Vec<Vec<bool>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut masks = Vec::with_capacity(samples);
    if samples == 0 {
        return masks;
    }
    masks.push(vec![true; n_tokens]);
    let mut order: Vec<usize> = (0..n_tokens).collect();
    for _ in 1..samples {
        let mut mask = vec![true; n_tokens];
        if n_tokens > 0 {
            let remove = rng.random_range(1..=n_tokens);
            // Partial Fisher–Yates: the first `remove` entries are a uniform draw without
            // replacement.
            for i in 0..remove {
                let j = rng.random_range(i..n_tokens);
                order.swap(i, j);
                mask[order[i]] = false;
            }
        }
        masks.push(mask);
    }
    masks
}

/// Cosine distance between a mask and the all-ones mask: `1 − √(k/n)` with `k` tokens kept out
/// of `n`; 1 for a mask that keeps nothing (and for an empty input).
pub fn mask_distance(mask: &[bool]) -> f64 {
    let kept = mask.iter().filter(|&&m| m).count();
    if kept == 0 {
        return 1.0;
    }
    1.0 - (kept as f64 / mask.len() as f64).sqrt()
}

/// LIME's exponential kernel on a distance, `exp(−d²/(2w²))` (= `√(exp(−d²/w²))`).
///
/// # Panics
/// If `width` is not positive.
pub fn kernel_weight(distance: f64, width: f64) -> f64 {
    assert!(width > 0.0, "kernel width must be positive, got {width}");
    (-(distance * distance) / (2.0 * width * width)).exp()
}

/// Fits the surrogate to masks and the model's output on each masked input.
///
/// `options.samples` and `options.seed` are not used (the masks are given).
///
/// # Panics
/// If `masks` and `outputs` differ in length, are empty, the masks differ in length, an output
/// is not finite, or the kernel width is not positive.
pub fn fit_surrogate(
    masks: &[Vec<bool>],
    outputs: &[f64],
    options: &SurrogateOptions,
) -> Surrogate {
    assert_eq!(masks.len(), outputs.len(), "one output is needed per mask");
    assert!(!masks.is_empty(), "at least one mask is needed");
    let weights: Vec<f64> = masks
        .iter()
        .map(|m| kernel_weight(mask_distance(m), options.kernel_width))
        .collect();
    let features: Vec<Vec<f64>> = masks
        .iter()
        .map(|m| m.iter().map(|&b| if b { 1.0 } else { 0.0 }).collect())
        .collect();
    let linear = LinearOptions {
        l1: options.alpha,
        l2: if options.alpha > 0.0 {
            0.0
        } else {
            options.ridge
        },
        max_sweeps: options.max_sweeps,
        tolerance: options.tolerance,
    };
    let fit = fit_weighted_linear(&features, outputs, &weights, &linear);
    let local_prediction = fit.intercept + fit.coefficients.iter().sum::<f64>();
    Surrogate {
        coefficients: fit.coefficients,
        intercept: fit.intercept,
        r2: fit.r2,
        local_prediction,
        samples: masks.len(),
        converged: fit.converged,
    }
}

/// Samples `options.samples` masks for `n_tokens` tokens, evaluates `model` on each and fits the
/// surrogate. `model` receives the mask (`true` = keep the token) and returns the output to
/// explain (a logit, a probability, a logit difference).
pub fn explain<F: FnMut(&[bool]) -> f64>(
    n_tokens: usize,
    options: &SurrogateOptions,
    mut model: F,
) -> Surrogate {
    let masks = sample_masks(n_tokens, options.samples.max(1), options.seed);
    let outputs: Vec<f64> = masks.iter().map(|m| model(m)).collect();
    fit_surrogate(&masks, &outputs, options)
}

/// Weighted elastic net with an unpenalised intercept by cyclic coordinate descent on
/// standardised features (see the module documentation for the objective). `features` are
/// rows; `weights` are non-negative sample weights (only their ratios matter).
///
/// # Panics
/// If the inputs are empty or differ in length, rows differ in width, a value is not finite, a
/// weight is negative, the weights sum to zero, or a penalty is negative.
pub fn fit_weighted_linear(
    features: &[Vec<f64>],
    targets: &[f64],
    weights: &[f64],
    options: &LinearOptions,
) -> LinearFit {
    let n = features.len();
    assert!(n > 0, "at least one row is needed");
    assert_eq!(targets.len(), n, "one target is needed per row");
    assert_eq!(weights.len(), n, "one weight is needed per row");
    assert!(
        options.l1 >= 0.0 && options.l2 >= 0.0,
        "penalties must be non-negative"
    );
    let p = features[0].len();
    assert!(
        features.iter().all(|r| r.len() == p),
        "all rows must have the same width"
    );
    assert!(
        features
            .iter()
            .flatten()
            .chain(targets)
            .all(|v| v.is_finite()),
        "features and targets must be finite"
    );
    assert!(
        weights.iter().all(|w| w.is_finite() && *w >= 0.0),
        "weights must be finite and non-negative"
    );
    let total: f64 = weights.iter().sum();
    assert!(total > 0.0, "weights must have a positive sum");
    let v: Vec<f64> = weights.iter().map(|w| w / total).collect();

    let y_mean: f64 = v.iter().zip(targets).map(|(v, y)| v * y).sum();
    let mut residual: Vec<f64> = targets.iter().map(|y| y - y_mean).collect();
    let mut y_sd = v
        .iter()
        .zip(&residual)
        .map(|(v, r)| v * r * r)
        .sum::<f64>()
        .sqrt();
    // Outputs equal up to rounding count as constant.
    let y_max = targets.iter().fold(0.0_f64, |m, y| m.max(y.abs()));
    if y_sd <= 1.0e-12 * y_max {
        y_sd = 0.0;
        residual.fill(0.0);
    }

    // Standardised columns of the features with a non-zero weighted spread.
    let mut means = vec![0.0; p];
    let mut sds = vec![0.0; p];
    let mut columns: Vec<(usize, Vec<f64>)> = Vec::new();
    for j in 0..p {
        let mean: f64 = v.iter().zip(features).map(|(v, r)| v * r[j]).sum();
        let var: f64 = v
            .iter()
            .zip(features)
            .map(|(v, r)| v * (r[j] - mean).powi(2))
            .sum();
        means[j] = mean;
        sds[j] = var.sqrt();
        if sds[j] > 1.0e-12 * mean.abs().max(1.0) {
            columns.push((j, features.iter().map(|r| (r[j] - mean) / sds[j]).collect()));
        }
    }

    let mut gamma = vec![0.0; columns.len()];
    let mut sweeps = 0;
    let mut converged = y_sd == 0.0 || columns.is_empty();
    let scale = 1.0 / (1.0 + options.l2);
    while !converged && sweeps < options.max_sweeps {
        sweeps += 1;
        let mut largest = 0.0_f64;
        for (c, (_, z)) in columns.iter().enumerate() {
            // Σ v z² = 1, so the partial-residual correlation is ⟨v z, r⟩ + γ.
            let rho: f64 = v
                .iter()
                .zip(z)
                .zip(&residual)
                .map(|((v, z), r)| v * z * r)
                .sum::<f64>()
                + gamma[c];
            let updated = soft_threshold(rho, options.l1) * scale;
            let delta = updated - gamma[c];
            if delta != 0.0 {
                for (r, z) in residual.iter_mut().zip(z) {
                    *r -= delta * z;
                }
                gamma[c] = updated;
                largest = largest.max(delta.abs());
            }
        }
        converged = largest <= options.tolerance * y_sd;
    }

    let mut coefficients = vec![0.0; p];
    for ((j, _), g) in columns.iter().zip(&gamma) {
        coefficients[*j] = g / sds[*j];
    }
    let intercept = y_mean
        - coefficients
            .iter()
            .zip(&means)
            .map(|(b, m)| b * m)
            .sum::<f64>();
    let ss_res: f64 = features
        .iter()
        .zip(targets)
        .zip(&v)
        .map(|((row, y), v)| {
            let fitted = intercept
                + row
                    .iter()
                    .zip(&coefficients)
                    .map(|(x, b)| x * b)
                    .sum::<f64>();
            v * (y - fitted).powi(2)
        })
        .sum();
    let ss_tot = y_sd * y_sd;
    let r2 = if y_sd == 0.0 {
        1.0
    } else {
        1.0 - ss_res / ss_tot
    };
    LinearFit {
        coefficients,
        intercept,
        r2,
        sweeps,
        converged,
    }
}

fn soft_threshold(x: f64, t: f64) -> f64 {
    if x > t {
        x - t
    } else if x < -t {
        x + t
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn kernel_is_lime_texts_kernel_on_cosine_distance() {
        // 1 of 4 tokens kept: cos = 1/(1·2) = 0.5, so d = 0.5 and π = exp(−0.25/0.125) = e⁻².
        let one_of_four = [false, true, false, false];
        assert!(close(mask_distance(&one_of_four), 0.5, 1e-15));
        assert!(close(kernel_weight(0.5, 0.25), (-2.0_f64).exp(), 1e-15));
        // LIME text: d×100, width 25, kernel √(exp(−d²/w²)).
        let lime = (-(50.0_f64 * 50.0) / (25.0 * 25.0)).exp().sqrt();
        assert!(close(kernel_weight(0.5, DEFAULT_KERNEL_WIDTH), lime, 1e-15));
        // The original is at distance 0 (weight 1); the empty mask at distance 1 (weight e⁻⁸).
        assert_eq!(mask_distance(&[true; 4]), 0.0);
        assert_eq!(kernel_weight(0.0, 0.25), 1.0);
        assert_eq!(mask_distance(&[false; 4]), 1.0);
        assert!(close(kernel_weight(1.0, 0.25), (-8.0_f64).exp(), 1e-15));
        // 9 of 16 kept: d = 1 − 3/4.
        let mut nine = [false; 16];
        nine[..9].fill(true);
        assert!(close(mask_distance(&nine), 0.25, 1e-15));
    }

    #[test]
    fn masks_start_with_the_original_and_remove_a_uniform_number_of_tokens() {
        let n = 5;
        let masks = sample_masks(n, 20_001, 3);
        assert_eq!(masks.len(), 20_001);
        assert_eq!(masks[0], vec![true; n]);
        let mut removed_counts = vec![0usize; n + 1];
        let mut token_removed = vec![0usize; n];
        for m in &masks[1..] {
            assert_eq!(m.len(), n);
            let removed = m.iter().filter(|&&b| !b).count();
            assert!((1..=n).contains(&removed), "removed {removed}");
            removed_counts[removed] += 1;
            for (j, &b) in m.iter().enumerate() {
                token_removed[j] += usize::from(!b);
            }
        }
        // Each count 1..=5 has probability 1/5 (4000 expected, sd ≈ 57).
        for &c in &removed_counts[1..] {
            assert!((3700..=4300).contains(&c), "{removed_counts:?}");
        }
        // Each token is removed with probability E[removed]/n = 3/5 (12000 expected, sd ≈ 69).
        for &c in &token_removed {
            assert!((11_600..=12_400).contains(&c), "{token_removed:?}");
        }
        assert!(sample_masks(4, 0, 1).is_empty());
        assert_eq!(sample_masks(0, 3, 1), vec![Vec::<bool>::new(); 3]);
    }

    #[test]
    fn weighted_least_squares_matches_hand_computation() {
        // x = 0, 1, 2; y = 0, 1, 3; weights 1, 1, 2 → v = ¼, ¼, ½.
        // x̄ = 5/4, ȳ = 7/4, cov = 17/16, var = 11/16: slope 17/11, intercept 7/4 − 17/11·5/4 =
        // −2/11; weighted residual SS 1/22, total SS 27/16, R² = 1 − 8/297.
        let x = vec![vec![0.0], vec![1.0], vec![2.0]];
        let fit = fit_weighted_linear(
            &x,
            &[0.0, 1.0, 3.0],
            &[1.0, 1.0, 2.0],
            &LinearOptions::default(),
        );
        assert!(fit.converged);
        assert!(close(fit.coefficients[0], 17.0 / 11.0, 1e-9), "{fit:?}");
        assert!(close(fit.intercept, -2.0 / 11.0, 1e-9), "{fit:?}");
        assert!(close(fit.r2, 1.0 - 8.0 / 297.0, 1e-9), "{fit:?}");
        // Scaling the weights changes nothing.
        let scaled = fit_weighted_linear(
            &x,
            &[0.0, 1.0, 3.0],
            &[5.0, 5.0, 10.0],
            &LinearOptions::default(),
        );
        assert!(close(scaled.coefficients[0], fit.coefficients[0], 1e-12));
    }

    #[test]
    fn lasso_and_ridge_shrink_a_standardised_coefficient_by_hand() {
        // x = 0, 1, 0, 1 and y = 2x, uniform weights: x̄ = ½, s = ½, z = ±1, ρ = 1.
        let x = vec![vec![0.0], vec![1.0], vec![0.0], vec![1.0]];
        let y = [0.0, 2.0, 0.0, 2.0];
        let w = [1.0; 4];
        // Lasso: γ = ρ − α = 0.75, β = γ/s = 1.5, b = ȳ − β·x̄ = 0.25; residuals ±0.25, so
        // R² = 1 − 0.0625/1.
        let lasso = LinearOptions {
            l1: 0.25,
            ..LinearOptions::default()
        };
        let fit = fit_weighted_linear(&x, &y, &w, &lasso);
        assert!(close(fit.coefficients[0], 1.5, 1e-12), "{fit:?}");
        assert!(close(fit.intercept, 0.25, 1e-12), "{fit:?}");
        assert!(close(fit.r2, 0.9375, 1e-12), "{fit:?}");
        // Ridge with l2 = 1: γ = ρ/2 = 0.5, β = 1, b = 0.5; R² = 1 − 0.25.
        let ridge = LinearOptions {
            l2: 1.0,
            ..LinearOptions::default()
        };
        let fit = fit_weighted_linear(&x, &y, &w, &ridge);
        assert!(close(fit.coefficients[0], 1.0, 1e-12), "{fit:?}");
        assert!(close(fit.intercept, 0.5, 1e-12), "{fit:?}");
        assert!(close(fit.r2, 0.75, 1e-12), "{fit:?}");
        // α ≥ ρ zeroes the coefficient: the intercept is the weighted mean and R² = 0.
        let fit = fit_weighted_linear(&x, &y, &w, &LinearOptions { l1: 1.0, ..lasso });
        assert_eq!(fit.coefficients[0], 0.0);
        assert!(close(fit.intercept, 1.0, 1e-12));
        assert!(close(fit.r2, 0.0, 1e-12));
    }

    fn planted(m: &[bool]) -> f64 {
        2.0 * f64::from(u8::from(m[1])) - 3.0 * f64::from(u8::from(m[4])) + 0.5
    }

    #[test]
    fn planted_linear_output_is_recovered() {
        let expected = [0.0, 2.0, 0.0, 0.0, -3.0, 0.0, 0.0, 0.0];
        // Weighted least squares (alpha = 0, ridge = 0) recovers it exactly.
        let ols = SurrogateOptions {
            alpha: 0.0,
            ridge: 0.0,
            samples: 300,
            seed: 11,
            ..SurrogateOptions::default()
        };
        let s = explain(8, &ols, planted);
        assert!(s.converged);
        for (b, e) in s.coefficients.iter().zip(expected) {
            assert!(close(*b, e, 1e-6), "{s:?}");
        }
        assert!(close(s.intercept, 0.5, 1e-6), "{s:?}");
        assert!(close(s.r2, 1.0, 1e-9), "{s:?}");
        assert!(close(s.local_prediction, -0.5, 1e-6), "{s:?}");
        // The default Lasso keeps the two tokens, zeroes the rest and shrinks a little.
        let lasso = SurrogateOptions {
            samples: 300,
            seed: 11,
            ..SurrogateOptions::default()
        };
        let s = explain(8, &lasso, planted);
        for (j, (b, e)) in s.coefficients.iter().zip(expected).enumerate() {
            if e == 0.0 {
                assert_eq!(*b, 0.0, "token {j}: {s:?}");
            } else {
                assert!(close(*b, e, 0.1), "token {j}: {s:?}");
                assert!(b.abs() < e.abs(), "Lasso shrinks: {s:?}");
            }
        }
        assert!(s.r2 > 0.999, "{s:?}");
    }

    #[test]
    fn lasso_zeroes_a_weak_token_that_ridge_keeps() {
        let f = |m: &[bool]| 2.0 * f64::from(u8::from(m[0])) + 0.02 * f64::from(u8::from(m[2]));
        let base = SurrogateOptions {
            samples: 200,
            seed: 5,
            ..SurrogateOptions::default()
        };
        let lasso = explain(4, &SurrogateOptions { alpha: 0.1, ..base }, f);
        assert_eq!(lasso.coefficients[2], 0.0, "{lasso:?}");
        assert!(lasso.coefficients[0] > 1.5, "{lasso:?}");
        let ridge = explain(4, &SurrogateOptions { alpha: 0.0, ..base }, f);
        assert!(close(ridge.coefficients[2], 0.02, 1e-3), "{ridge:?}");
    }

    #[test]
    fn noise_lowers_fidelity() {
        let options = SurrogateOptions {
            samples: 400,
            seed: 2,
            ..SurrogateOptions::default()
        };
        let mut noise = ChaCha8Rng::seed_from_u64(99);
        let s = explain(8, &options, |m| planted(m) + noise.random_range(-1.5..1.5));
        assert!(s.r2 < 0.95 && s.r2 > 0.3, "{s:?}");
        assert!(close(s.coefficients[1], 2.0, 0.5), "{s:?}");
        assert!(close(s.coefficients[4], -3.0, 0.5), "{s:?}");
        // A non-additive model (an interaction) is not fully captured either.
        let and = explain(6, &options, |m| f64::from(u8::from(m[0] && m[3])));
        assert!(and.r2 < 0.9, "{and:?}");
    }

    #[test]
    fn same_seed_same_surrogate() {
        let options = SurrogateOptions {
            samples: 100,
            seed: 42,
            ..SurrogateOptions::default()
        };
        let f = |m: &[bool]| planted(m) + if m[6] && m[2] { 0.7 } else { 0.0 };
        let a = explain(9, &options, f);
        let b = explain(9, &options, f);
        assert_eq!(a, b);
        assert_eq!(sample_masks(9, 100, 42), sample_masks(9, 100, 42));
        assert_ne!(sample_masks(9, 100, 42), sample_masks(9, 100, 43));
        let c = explain(
            9,
            &SurrogateOptions {
                seed: 43,
                ..options
            },
            f,
        );
        assert_ne!(a, c);
    }

    #[test]
    fn constant_output_is_all_intercept() {
        let s = explain(5, &SurrogateOptions::default(), |_| 1.25);
        assert_eq!(s.coefficients, vec![0.0; 5]);
        assert!(close(s.intercept, 1.25, 1e-12));
        assert_eq!(s.r2, 1.0);
        assert!(s.converged);
    }
}
