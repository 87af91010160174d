//! Standardised mean differences: Cohen's d and Hedges' g.
//!
//! Both divide `mean(a) - mean(b)` by the pooled standard deviation
//! `s_p = sqrt(((n_a - 1) s_a² + (n_b - 1) s_b²) / (n_a + n_b - 2))`.
//! When `s_p` is exactly zero (both samples constant) they follow the t-tests'
//! convention: 0 for equal means, else ±infinity with the sign of the
//! difference. They never return NaN.

use statrs::function::gamma::ln_gamma;

use crate::describe::{mean, sample_variance};
use crate::error::StatsError;

/// Cohen's d: `(mean(a) - mean(b)) / s_p`.
///
/// # Errors
/// [`StatsError::TooFewValues`] if either sample has fewer than 2 values;
/// [`StatsError::NonFinite`] on NaN/infinite input or overflow.
pub fn cohens_d(a: &[f64], b: &[f64]) -> Result<f64, StatsError> {
    Ok(standardised(a, b)?.0)
}

/// Hedges' g: Cohen's d times the exact small-sample bias correction
/// `J(m) = Γ(m/2) / (sqrt(m/2) Γ((m-1)/2))`, `m = n_a + n_b - 2` (Hedges 1981),
/// which makes g an unbiased estimate of the population effect size under
/// normality. `J(m) ≈ 1 - 3 / (4m - 1)`, the approximation many packages use.
///
/// # Errors
/// As [`cohens_d`].
pub fn hedges_g(a: &[f64], b: &[f64]) -> Result<f64, StatsError> {
    let (d, df) = standardised(a, b)?;
    Ok(d * hedges_correction(df))
}

/// The exact correction factor `J(df)` of Hedges' g, for `df >= 2`.
fn hedges_correction(df: f64) -> f64 {
    let half = df / 2.0;
    (ln_gamma(half) - ln_gamma(half - 0.5)).exp() / half.sqrt()
}

/// Cohen's d and the pooled degrees of freedom `n_a + n_b - 2`.
fn standardised(a: &[f64], b: &[f64]) -> Result<(f64, f64), StatsError> {
    for x in [a, b] {
        if x.len() < 2 {
            return Err(StatsError::TooFewValues {
                len: x.len(),
                min: 2,
            });
        }
        if !x.iter().all(|v| v.is_finite()) {
            return Err(StatsError::NonFinite);
        }
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let df = na + nb - 2.0;
    let diff = mean(a) - mean(b);
    let pooled = (((na - 1.0) * sample_variance(a) + (nb - 1.0) * sample_variance(b)) / df).sqrt();
    if !(diff.is_finite() && pooled.is_finite()) {
        return Err(StatsError::NonFinite);
    }
    let d = if pooled == 0.0 {
        if diff == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(diff)
        }
    } else {
        diff / pooled
    };
    Ok((d, df))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correction_is_close_to_the_approximation() {
        for df in [2.0, 5.0, 10.0, 40.0, 200.0] {
            let approx = 1.0 - 3.0 / (4.0 * df - 1.0);
            assert!((hedges_correction(df) - approx).abs() < 0.01, "df={df}");
        }
        // J(2) = Γ(1) / (1 · Γ(1/2)) = 1 / sqrt(π).
        let exact = 1.0 / std::f64::consts::PI.sqrt();
        assert!((hedges_correction(2.0) - exact).abs() < 1e-14);
    }

    #[test]
    fn constant_samples_follow_the_t_test_convention() {
        assert_eq!(cohens_d(&[1.0; 3], &[1.0; 4]), Ok(0.0));
        assert_eq!(hedges_g(&[1.0; 3], &[2.0; 4]), Ok(f64::NEG_INFINITY));
        assert_eq!(cohens_d(&[0.3; 3], &[0.1; 4]), Ok(f64::INFINITY));
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            cohens_d(&[1.0], &[1.0, 2.0]),
            Err(StatsError::TooFewValues { len: 1, min: 2 })
        );
        assert_eq!(
            hedges_g(&[1.0, 2.0], &[1.0, f64::NAN]),
            Err(StatsError::NonFinite)
        );
        let huge = [f64::MAX, -f64::MAX];
        assert_eq!(cohens_d(&huge, &huge), Err(StatsError::NonFinite));
    }
}
