//! Bootstrap confidence intervals (percentile and BCa) for a one-sample statistic.
//!
//! [`bootstrap_ci`] draws `n_resamples` resamples with replacement from a
//! [`ChaCha8Rng`] seeded with `seed` and turns the replicates into an interval.
//! The interval arithmetic is exposed as pure functions of the replicates,
//! [`percentile_interval`] and [`bca_interval`], which match what
//! `scipy.stats.bootstrap(..., method="percentile" | "BCa")` computes from the
//! same bootstrap distribution (quantiles by linear interpolation, scipy's
//! default).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use statrs::function::erf::{erfc, erfc_inv};

use crate::describe::{mean, sample_std};
use crate::error::StatsError;

/// Which bootstrap interval [`bootstrap_ci`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BootstrapMethod {
    /// The `(1 - level) / 2` and `(1 + level) / 2` quantiles of the replicates.
    Percentile,
    /// Bias-corrected and accelerated (Efron 1987), acceleration from the jackknife.
    Bca,
}

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ConfidenceInterval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// Outcome of [`bootstrap_ci`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bootstrap {
    /// The statistic of the original sample.
    pub estimate: f64,
    /// The confidence interval.
    pub interval: ConfidenceInterval,
    /// Standard deviation (`n - 1` denominator) of the bootstrap replicates.
    pub standard_error: f64,
}

/// Bootstrap confidence interval for `statistic` of `sample` at confidence
/// `level` (e.g. 0.95), from `n_resamples` resamples seeded with `seed`.
///
/// Deterministic for a given seed.
///
/// # Errors
/// [`StatsError::TooFewValues`] if `sample` has fewer than 2 values;
/// [`StatsError::NonFinite`] on NaN/infinite input or if `statistic` returns a
/// non-finite value; [`StatsError::InvalidParameter`] if `level` is not in
/// `(0, 1)` or `n_resamples` is 0; [`StatsError::Degenerate`] as for
/// [`bca_interval`].
pub fn bootstrap_ci<F>(
    sample: &[f64],
    statistic: F,
    method: BootstrapMethod,
    level: f64,
    n_resamples: usize,
    seed: u64,
) -> Result<Bootstrap, StatsError>
where
    F: Fn(&[f64]) -> f64,
{
    check_level(level)?;
    let replicates = bootstrap_replicates(sample, &statistic, n_resamples, seed)?;
    let estimate = finite(statistic(sample))?;
    let interval = match method {
        BootstrapMethod::Percentile => percentile_interval(&replicates, level)?,
        BootstrapMethod::Bca => {
            let jack = jackknife(sample, &statistic)?;
            bca_interval(&replicates, &jack, estimate, level)?
        }
    };
    Ok(Bootstrap {
        estimate,
        interval,
        standard_error: sample_std(&replicates),
    })
}

/// `statistic` of `n_resamples` resamples of `sample` drawn with replacement,
/// seeded with `seed`.
///
/// # Errors
/// As [`bootstrap_ci`], except for the level and degeneracy.
pub fn bootstrap_replicates<F>(
    sample: &[f64],
    statistic: F,
    n_resamples: usize,
    seed: u64,
) -> Result<Vec<f64>, StatsError>
where
    F: Fn(&[f64]) -> f64,
{
    check_sample(sample)?;
    if n_resamples == 0 {
        return Err(StatsError::InvalidParameter {
            name: "n_resamples",
            expected: "at least 1",
        });
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut resample = vec![0.0; sample.len()];
    (0..n_resamples)
        .map(|_| {
            for v in resample.iter_mut() {
                *v = sample[rng.random_range(0..sample.len())];
            }
            finite(statistic(&resample))
        })
        .collect()
}

/// Leave-one-out values of `statistic`: element `i` is the statistic of
/// `sample` without its `i`-th value.
///
/// # Errors
/// [`StatsError::TooFewValues`] if `sample` has fewer than 2 values;
/// [`StatsError::NonFinite`] on NaN/infinite input or statistic values.
pub fn jackknife<F>(sample: &[f64], statistic: F) -> Result<Vec<f64>, StatsError>
where
    F: Fn(&[f64]) -> f64,
{
    check_sample(sample)?;
    let mut rest = Vec::with_capacity(sample.len() - 1);
    (0..sample.len())
        .map(|i| {
            rest.clear();
            rest.extend_from_slice(&sample[..i]);
            rest.extend_from_slice(&sample[i + 1..]);
            finite(statistic(&rest))
        })
        .collect()
}

/// Percentile interval: the `alpha = (1 - level) / 2` and `1 - alpha`
/// quantiles of `replicates` (linear interpolation between order statistics).
///
/// # Errors
/// [`StatsError::TooFewValues`] if `replicates` is empty;
/// [`StatsError::NonFinite`] on NaN/infinite replicates;
/// [`StatsError::InvalidParameter`] if `level` is not in `(0, 1)`.
pub fn percentile_interval(
    replicates: &[f64],
    level: f64,
) -> Result<ConfidenceInterval, StatsError> {
    check_level(level)?;
    let sorted = sorted_replicates(replicates)?;
    let alpha = (1.0 - level) / 2.0;
    Ok(ConfidenceInterval {
        low: quantile(&sorted, alpha),
        high: quantile(&sorted, 1.0 - alpha),
    })
}

/// BCa interval from the bootstrap `replicates`, the leave-one-out
/// `jackknife` values and the original estimate `theta_hat`.
///
/// Bias correction `z0 = Φ⁻¹(F)`, with `F` the fraction of replicates below
/// `theta_hat` (ties counting one half); acceleration
/// `a = Σ d³ / (6 (Σ d²)^{3/2})`, `d_i = mean(jackknife) - jackknife_i`. The
/// bounds are the quantiles at `Φ(z0 + (z0 + z) / (1 - a (z0 + z)))` for
/// `z = Φ⁻¹(alpha)` and `Φ⁻¹(1 - alpha)`, `alpha = (1 - level) / 2`. When the
/// jackknife values are all equal the acceleration is taken as 0 (scipy
/// returns NaN).
///
/// # Errors
/// [`StatsError::TooFewValues`] if `replicates` is empty or `jackknife` has
/// fewer than 2 values; [`StatsError::NonFinite`] on NaN/infinite input;
/// [`StatsError::InvalidParameter`] if `level` is not in `(0, 1)`;
/// [`StatsError::Degenerate`] if every replicate lies on one side of
/// `theta_hat` (the bias correction is infinite).
pub fn bca_interval(
    replicates: &[f64],
    jackknife: &[f64],
    theta_hat: f64,
    level: f64,
) -> Result<ConfidenceInterval, StatsError> {
    check_level(level)?;
    let sorted = sorted_replicates(replicates)?;
    check_sample(jackknife)?;
    finite(theta_hat)?;

    let below = sorted.iter().filter(|&&t| t < theta_hat).count();
    let at_most = sorted.iter().filter(|&&t| t <= theta_hat).count();
    let fraction = (below + at_most) as f64 / (2 * sorted.len()) as f64;
    if fraction == 0.0 || fraction == 1.0 {
        return Err(StatsError::Degenerate(
            "every bootstrap replicate lies on one side of the estimate",
        ));
    }
    let z0 = ndtri(fraction);

    let n = jackknife.len() as f64;
    let centre = mean(jackknife);
    // scipy's U_i = (n - 1)(mean - theta_i); the (n - 1) and n factors cancel in `a`.
    let (mut num, mut den) = (0.0, 0.0);
    for &t in jackknife {
        let u = (n - 1.0) * (centre - t);
        num += u * u * u;
        den += u * u;
    }
    let (num, den) = (num / (n * n * n), den / (n * n));
    let accel = if den == 0.0 {
        0.0
    } else {
        num / (6.0 * den.powf(1.5))
    };
    finite(accel)?;

    let alpha = (1.0 - level) / 2.0;
    let z_alpha = ndtri(alpha);
    let adjusted = |z: f64| {
        let shifted = z0 + z;
        ndtr(z0 + shifted / (1.0 - accel * shifted))
    };
    let (p_low, p_high) = (adjusted(z_alpha), adjusted(-z_alpha));
    if !(p_low.is_finite() && p_high.is_finite()) {
        return Err(StatsError::Degenerate(
            "the BCa quantile levels are undefined",
        ));
    }
    Ok(ConfidenceInterval {
        low: quantile(&sorted, p_low),
        high: quantile(&sorted, p_high),
    })
}

/// Standard normal CDF.
fn ndtr(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// Standard normal quantile, for `p` in `(0, 1)`.
fn ndtri(p: f64) -> f64 {
    -std::f64::consts::SQRT_2 * erfc_inv(2.0 * p)
}

/// The `p`-quantile of `sorted` by linear interpolation (Hyndman–Fan type 7,
/// the default of numpy and scipy), for `p` in `[0, 1]`.
fn quantile(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    // scipy's `_quantile_hf`: jg = p n + (1 - p), j = floor(jg) - 1 (0-based).
    let jg = p * n as f64 + (1.0 - p);
    let floor = jg.floor();
    let g = jg - floor;
    let j = (floor - 1.0).clamp(0.0, (n - 1) as f64) as usize;
    let j1 = floor.clamp(0.0, (n - 1) as f64) as usize;
    (1.0 - g) * sorted[j] + g * sorted[j1]
}

/// Validated, sorted copy of the replicates.
fn sorted_replicates(replicates: &[f64]) -> Result<Vec<f64>, StatsError> {
    if replicates.is_empty() {
        return Err(StatsError::TooFewValues { len: 0, min: 1 });
    }
    if !replicates.iter().all(|v| v.is_finite()) {
        return Err(StatsError::NonFinite);
    }
    let mut sorted = replicates.to_vec();
    sorted.sort_by(f64::total_cmp);
    Ok(sorted)
}

/// Requires at least two values, all finite.
fn check_sample(sample: &[f64]) -> Result<(), StatsError> {
    if sample.len() < 2 {
        return Err(StatsError::TooFewValues {
            len: sample.len(),
            min: 2,
        });
    }
    if !sample.iter().all(|v| v.is_finite()) {
        return Err(StatsError::NonFinite);
    }
    Ok(())
}

/// Requires `0 < level < 1`.
fn check_level(level: f64) -> Result<(), StatsError> {
    if level > 0.0 && level < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter {
            name: "level",
            expected: "a confidence level strictly between 0 and 1",
        })
    }
}

/// `x`, or [`StatsError::NonFinite`] if it is NaN or infinite.
fn finite(x: f64) -> Result<f64, StatsError> {
    if x.is_finite() {
        Ok(x)
    } else {
        Err(StatsError::NonFinite)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_interpolates_linearly() {
        let x = [1.0, 2.0, 4.0, 8.0];
        assert_eq!(quantile(&x, 0.0), 1.0);
        assert_eq!(quantile(&x, 1.0), 8.0);
        assert!((quantile(&x, 0.5) - 3.0).abs() < 1e-15);
        assert!((quantile(&x, 0.25) - 1.75).abs() < 1e-15);
        assert_eq!(quantile(&[5.0], 0.3), 5.0);
    }

    #[test]
    fn normal_helpers() {
        // statrs' erfc is accurate to about 1e-10 relative (its Boost-derived
        // rational approximations use f64 offsets where Boost uses f32 ones).
        assert!((ndtr(1.959_963_984_540_054) - 0.975).abs() < 1e-11);
        assert!((ndtri(0.025) + 1.959_963_984_540_054).abs() < 1e-12);
        assert_eq!(ndtri(0.5), 0.0);
    }

    #[test]
    fn constant_sample_gives_a_point_interval() {
        for method in [BootstrapMethod::Percentile, BootstrapMethod::Bca] {
            let r = bootstrap_ci(&[2.5; 6], mean, method, 0.9, 50, 1).unwrap();
            assert_eq!(r.estimate, 2.5);
            assert_eq!((r.interval.low, r.interval.high), (2.5, 2.5));
            assert_eq!(r.standard_error, 0.0);
        }
    }

    #[test]
    fn estimate_outside_the_replicates_is_degenerate() {
        let err = bca_interval(&[1.0, 2.0, 3.0], &[0.0, 1.0], 5.0, 0.95);
        assert!(matches!(err, Err(StatsError::Degenerate(_))));
    }

    #[test]
    fn bad_input_is_an_error() {
        let m = BootstrapMethod::Percentile;
        assert_eq!(
            bootstrap_ci(&[1.0], mean, m, 0.95, 10, 0),
            Err(StatsError::TooFewValues { len: 1, min: 2 })
        );
        assert_eq!(
            bootstrap_ci(&[1.0, f64::NAN], mean, m, 0.95, 10, 0),
            Err(StatsError::NonFinite)
        );
        for level in [0.0, 1.0, f64::NAN, -0.5] {
            assert!(matches!(
                bootstrap_ci(&[1.0, 2.0], mean, m, level, 10, 0),
                Err(StatsError::InvalidParameter { .. })
            ));
        }
        assert!(matches!(
            bootstrap_ci(&[1.0, 2.0], mean, m, 0.95, 0, 0),
            Err(StatsError::InvalidParameter { .. })
        ));
        assert_eq!(
            bootstrap_ci(&[1.0, 2.0], |_| f64::NAN, m, 0.95, 10, 0),
            Err(StatsError::NonFinite)
        );
        assert_eq!(
            percentile_interval(&[], 0.95),
            Err(StatsError::TooFewValues { len: 0, min: 1 })
        );
    }
}
