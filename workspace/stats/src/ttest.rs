//! Two-sample and one-sample t-tests with two-sided p-values.
//!
//! p-values come from [`statrs::distribution::StudentsT`]; the statistic, degrees
//! of freedom and p-value match `scipy.stats.ttest_ind` / `ttest_1samp`.
//!
//! # Zero standard error
//!
//! When the standard error is exactly zero (every sample involved is constant,
//! e.g. TCAV scores that are all 1.0) the t statistic is undefined. Instead of
//! NaN these tests then return:
//! - equal means: statistic 0 and p-value 1;
//! - different means: statistic ±infinity (the sign of the mean difference)
//!   and p-value 0.
//!
//! The reported degrees of freedom are then `n_a + n_b - 2` for both two-sample
//! tests and `n - 1` for the one-sample test. No test ever returns NaN.

use statrs::distribution::{ContinuousCDF, StudentsT};

use crate::describe::{mean, sample_variance};
use crate::error::StatsError;

/// Outcome of a t-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TTest {
    /// The t statistic (positive when the first sample's mean is larger).
    pub statistic: f64,
    /// Degrees of freedom of the reference t distribution.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Welch's two-sample t-test (unequal variances, Welch–Satterthwaite df).
///
/// # Errors
/// [`StatsError::TooFewValues`] if either sample has fewer than 2 values;
/// [`StatsError::NonFinite`] on NaN/infinite input or overflow.
pub fn welch_t_test(a: &[f64], b: &[f64]) -> Result<TTest, StatsError> {
    let (a, b) = (Summary::of(a)?, Summary::of(b)?);
    let (ga, gb) = (a.var / a.n, b.var / b.n);
    let se2 = ga + gb;
    let df = if se2 == 0.0 {
        a.n + b.n - 2.0
    } else {
        // Weights relative to `se2` keep the df formula free of under/overflow.
        let (wa, wb) = (ga / se2, gb / se2);
        1.0 / (wa * wa / (a.n - 1.0) + wb * wb / (b.n - 1.0))
    };
    t_test(a.mean - b.mean, se2.sqrt(), df)
}

/// Student's two-sample t-test (pooled variance, df `n_a + n_b - 2`).
///
/// # Errors
/// [`StatsError::TooFewValues`] if either sample has fewer than 2 values;
/// [`StatsError::NonFinite`] on NaN/infinite input or overflow.
pub fn student_t_test(a: &[f64], b: &[f64]) -> Result<TTest, StatsError> {
    let (a, b) = (Summary::of(a)?, Summary::of(b)?);
    let df = a.n + b.n - 2.0;
    let pooled = ((a.n - 1.0) * a.var + (b.n - 1.0) * b.var) / df;
    let se = (pooled * (1.0 / a.n + 1.0 / b.n)).sqrt();
    t_test(a.mean - b.mean, se, df)
}

/// One-sample t-test of the null hypothesis that the mean of `a` is `mu`.
///
/// # Errors
/// [`StatsError::TooFewValues`] if `a` has fewer than 2 values;
/// [`StatsError::NonFinite`] on NaN/infinite input (including `mu`) or overflow.
pub fn one_sample_t_test(a: &[f64], mu: f64) -> Result<TTest, StatsError> {
    let a = Summary::of(a)?;
    if !mu.is_finite() {
        return Err(StatsError::NonFinite);
    }
    t_test(a.mean - mu, (a.var / a.n).sqrt(), a.n - 1.0)
}

/// Size, mean and sample variance of a validated sample.
struct Summary {
    n: f64,
    mean: f64,
    var: f64,
}

impl Summary {
    /// Summarises `x`, requiring at least two values, all finite.
    fn of(x: &[f64]) -> Result<Self, StatsError> {
        if x.len() < 2 {
            return Err(StatsError::TooFewValues {
                len: x.len(),
                min: 2,
            });
        }
        let (mean, var) = (mean(x), sample_variance(x));
        if !(x.iter().all(|v| v.is_finite()) && mean.is_finite() && var.is_finite()) {
            return Err(StatsError::NonFinite);
        }
        Ok(Self {
            n: x.len() as f64,
            mean,
            var,
        })
    }
}

/// Builds the test result for mean difference `diff` with standard error `se`.
fn t_test(diff: f64, se: f64, df: f64) -> Result<TTest, StatsError> {
    if se == 0.0 {
        let (statistic, p_value) = if diff == 0.0 {
            (0.0, 1.0)
        } else {
            (f64::INFINITY.copysign(diff), 0.0)
        };
        return Ok(TTest {
            statistic,
            df,
            p_value,
        });
    }
    if !se.is_finite() {
        return Err(StatsError::NonFinite);
    }
    let statistic = diff / se;
    let dist = StudentsT::new(0.0, 1.0, df).map_err(|_| StatsError::NonFinite)?;
    let p_value = (2.0 * dist.sf(statistic.abs())).min(1.0);
    Ok(TTest {
        statistic,
        df,
        p_value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_constant_samples_give_p_one() {
        let a = [1.0; 5];
        let b = [1.0; 3];
        for t in [welch_t_test(&a, &b), student_t_test(&a, &b)] {
            let t = t.unwrap();
            assert_eq!(t.statistic, 0.0);
            assert_eq!(t.p_value, 1.0);
            assert_eq!(t.df, 6.0);
        }
        let t = one_sample_t_test(&a, 1.0).unwrap();
        assert_eq!((t.statistic, t.df, t.p_value), (0.0, 4.0, 1.0));
    }

    #[test]
    fn different_constant_samples_give_infinite_statistic() {
        let a = [1.0; 4];
        let b = [0.5; 6];
        for t in [welch_t_test(&a, &b), student_t_test(&a, &b)] {
            let t = t.unwrap();
            assert_eq!(t.statistic, f64::INFINITY);
            assert_eq!(t.p_value, 0.0);
            assert_eq!(t.df, 8.0);
        }
        let t = welch_t_test(&b, &a).unwrap();
        assert_eq!(t.statistic, f64::NEG_INFINITY);
        assert_eq!(t.p_value, 0.0);
        let t = one_sample_t_test(&b, 1.0).unwrap();
        assert_eq!(
            (t.statistic, t.df, t.p_value),
            (f64::NEG_INFINITY, 5.0, 0.0)
        );
    }

    #[test]
    fn constant_fractions_are_exactly_degenerate() {
        // 0.1 is inexact in binary; a naive mean would leave a tiny variance.
        let t = welch_t_test(&[0.1; 3], &[0.1; 7]).unwrap();
        assert_eq!((t.statistic, t.p_value), (0.0, 1.0));
    }

    #[test]
    fn one_constant_sample_uses_the_other_variance() {
        let a = [1.0, 1.0, 1.0];
        let b = [0.2, 0.4, 0.6, 0.8];
        let t = welch_t_test(&a, &b).unwrap();
        assert!((t.df - 3.0).abs() < 1e-12);
        assert!(t.statistic.is_finite() && t.statistic > 0.0);
        assert!(t.p_value > 0.0 && t.p_value < 1.0);
    }

    #[test]
    fn too_few_values_is_an_error() {
        let err = StatsError::TooFewValues { len: 1, min: 2 };
        assert_eq!(welch_t_test(&[1.0], &[1.0, 2.0]), Err(err.clone()));
        assert_eq!(student_t_test(&[1.0, 2.0], &[1.0]), Err(err.clone()));
        assert_eq!(
            one_sample_t_test(&[], 0.0),
            Err(StatsError::TooFewValues { len: 0, min: 2 })
        );
    }

    #[test]
    fn non_finite_input_is_an_error() {
        assert_eq!(
            welch_t_test(&[1.0, f64::NAN], &[1.0, 2.0]),
            Err(StatsError::NonFinite)
        );
        assert_eq!(
            student_t_test(&[1.0, 2.0], &[f64::INFINITY, 2.0]),
            Err(StatsError::NonFinite)
        );
        assert_eq!(
            one_sample_t_test(&[1.0, 2.0], f64::NAN),
            Err(StatsError::NonFinite)
        );
        let huge = [f64::MAX, -f64::MAX];
        assert_eq!(welch_t_test(&huge, &huge), Err(StatsError::NonFinite));
    }
}
