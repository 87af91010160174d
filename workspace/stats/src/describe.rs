//! Descriptive statistics of a sample.

/// Arithmetic mean of `x`; NaN when `x` is empty.
///
/// Computed as `x[0] + mean(x - x[0])`, so a constant sample yields its value
/// exactly (and hence a sample variance of exactly zero).
pub fn mean(x: &[f64]) -> f64 {
    let Some(&first) = x.first() else {
        return f64::NAN;
    };
    first + x.iter().map(|v| v - first).sum::<f64>() / x.len() as f64
}

/// Unbiased sample variance of `x` (denominator `n - 1`); 0.0 when `n < 2`.
pub fn sample_variance(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len() - 1) as f64
}

/// Sample standard deviation of `x` (denominator `n - 1`); 0.0 when `n < 2`.
pub fn sample_std(x: &[f64]) -> f64 {
    sample_variance(x).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert_eq!(mean(&x), 5.0);
        assert!((sample_variance(&x) - 32.0 / 7.0).abs() < 1e-12);
        assert!((sample_std(&x) - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn small_samples() {
        assert!(mean(&[]).is_nan());
        assert_eq!(mean(&[3.5]), 3.5);
        assert_eq!(sample_variance(&[]), 0.0);
        assert_eq!(sample_std(&[3.5]), 0.0);
    }

    #[test]
    fn constant_sample_is_exact() {
        let x = [0.1; 7];
        assert_eq!(mean(&x), 0.1);
        assert_eq!(sample_variance(&x), 0.0);
    }
}
