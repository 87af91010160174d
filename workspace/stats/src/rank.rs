//! Average ranks and the two-sided Mann–Whitney U test.
//!
//! [`mann_whitney_u`] matches `scipy.stats.mannwhitneyu(a, b,
//! alternative="two-sided", use_continuity=True)` with `method="asymptotic"`
//! (normal approximation with tie and continuity corrections) and
//! `method="exact"` (the exact null distribution of U, for data without ties).

use statrs::function::erf::erfc;

use crate::error::StatsError;

/// With [`MannWhitneyMethod::Auto`], the exact p-value is used when there are
/// no ties and neither sample has more values than this.
pub const MANN_WHITNEY_AUTO_EXACT_MAX: usize = 20;

/// The exact p-value is available only while `n_a * n_b` is at most this
/// (its dynamic programme takes `O((n_a n_b)^2)` time).
pub const MANN_WHITNEY_EXACT_MAX_PAIRS: usize = 10_000;

/// How [`mann_whitney_u`] computes its p-value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MannWhitneyMethod {
    /// [`Exact`](Self::Exact) when there are no ties and both samples have at
    /// most [`MANN_WHITNEY_AUTO_EXACT_MAX`] values, else
    /// [`Asymptotic`](Self::Asymptotic). (scipy's `"auto"` switches at 8.)
    Auto,
    /// The exact null distribution of U. Requires data without ties and
    /// `n_a * n_b <= MANN_WHITNEY_EXACT_MAX_PAIRS`.
    Exact,
    /// Normal approximation with tie correction and continuity correction.
    Asymptotic,
}

/// Outcome of a Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U of the first sample: the number of pairs `(a_i, b_j)` with
    /// `a_i > b_j`, ties counting one half (scipy's `statistic`).
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// The method actually used: `Exact` or `Asymptotic`, never `Auto`.
    pub method: MannWhitneyMethod,
}

/// Ranks of `x` from 1 to `n`, tied values sharing the mean of their ranks
/// (`scipy.stats.rankdata(x, method="average")`).
///
/// # Errors
/// [`StatsError::NonFinite`] if `x` contains NaN or an infinity.
pub fn average_ranks(x: &[f64]) -> Result<Vec<f64>, StatsError> {
    Ok(ranks_and_ties(x)?.0)
}

/// Average ranks of `x` and the size of every group of tied values.
fn ranks_and_ties(x: &[f64]) -> Result<(Vec<f64>, Vec<usize>), StatsError> {
    if !x.iter().all(|v| v.is_finite()) {
        return Err(StatsError::NonFinite);
    }
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&i, &j| x[i].total_cmp(&x[j]));
    let mut ranks = vec![0.0; x.len()];
    let mut ties = Vec::new();
    let mut start = 0;
    while start < order.len() {
        let value = x[order[start]];
        // `==` rather than `total_cmp`, so that -0.0 and 0.0 tie.
        let end = start
            + order[start..]
                .iter()
                .take_while(|&&i| x[i] == value)
                .count();
        // Ranks start..end (0-based) share the mean 1-based rank.
        let rank = (start + end + 1) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        ties.push(end - start);
        start = end;
    }
    Ok((ranks, ties))
}

/// Two-sided Mann–Whitney U test (Wilcoxon rank-sum test) of `a` against `b`.
///
/// The p-value is twice the upper tail of the larger of `U_a` and
/// `U_b = n_a n_b - U_a`, capped at 1. The asymptotic method uses
/// `z = (U - n_a n_b / 2 - 1/2) / sigma` with the tie-corrected
/// `sigma^2 = n_a n_b / 12 * (n + 1 - sum(t^3 - t) / (n (n - 1)))`, `t` the
/// size of each group of tied values; when every value is tied (`sigma = 0`)
/// the p-value is 1.
///
/// # Errors
/// [`StatsError::TooFewValues`] if either sample is empty;
/// [`StatsError::NonFinite`] on NaN/infinite input;
/// [`StatsError::ExactUnavailable`] if `MannWhitneyMethod::Exact` is asked for
/// data with ties or with `n_a * n_b > MANN_WHITNEY_EXACT_MAX_PAIRS`.
pub fn mann_whitney_u(
    a: &[f64],
    b: &[f64],
    method: MannWhitneyMethod,
) -> Result<MannWhitney, StatsError> {
    for x in [a, b] {
        if x.is_empty() {
            return Err(StatsError::TooFewValues { len: 0, min: 1 });
        }
    }
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    let (ranks, ties) = ranks_and_ties(&pooled)?;
    let (n1, n2) = (a.len(), b.len());
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let r1: f64 = ranks[..n1].iter().sum();
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let u = u1.max(u2);
    let has_ties = ties.iter().any(|&t| t > 1);
    let method = match method {
        MannWhitneyMethod::Auto if !has_ties && n1.max(n2) <= MANN_WHITNEY_AUTO_EXACT_MAX => {
            MannWhitneyMethod::Exact
        }
        MannWhitneyMethod::Auto => MannWhitneyMethod::Asymptotic,
        m => m,
    };
    let p_value = if method == MannWhitneyMethod::Exact {
        if has_ties {
            return Err(StatsError::ExactUnavailable(
                "the samples contain ties; use the asymptotic method",
            ));
        }
        if n1.saturating_mul(n2) > MANN_WHITNEY_EXACT_MAX_PAIRS {
            return Err(StatsError::ExactUnavailable(
                "n_a * n_b exceeds MANN_WHITNEY_EXACT_MAX_PAIRS; use the asymptotic method",
            ));
        }
        // Without ties U is an integer; P(U >= u) = P(U <= n1 n2 - u) by symmetry.
        let lower = n1 * n2 - u.round() as usize;
        2.0 * u_cdf(n1, n2, lower)
    } else {
        asymptotic_p(u, n1f, n2f, &ties)?
    };
    Ok(MannWhitney {
        statistic: u1,
        p_value: p_value.min(1.0),
        method,
    })
}

/// Two-sided normal-approximation p-value for the larger U statistic `u`.
fn asymptotic_p(u: f64, n1: f64, n2: f64, ties: &[usize]) -> Result<f64, StatsError> {
    let n = n1 + n2;
    if ties.len() == 1 {
        // Every value tied: U = n1 n2 / 2 carries no evidence.
        return Ok(1.0);
    }
    let tie_term: f64 = ties
        .iter()
        .map(|&t| {
            let t = t as f64;
            t * t * t - t
        })
        .sum();
    let sigma = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    if !(sigma.is_finite() && sigma > 0.0) {
        return Err(StatsError::NonFinite);
    }
    let z = (u - n1 * n2 / 2.0 - 0.5) / sigma;
    // 2 * P(Z > z) for a standard normal Z.
    Ok(erfc(z / std::f64::consts::SQRT_2))
}

/// `P(U <= k)` under the null hypothesis for samples of sizes `n1`, `n2`
/// without ties, with `k <= n1 n2` (exact; all terms are non-negative).
///
/// Dynamic programme over probabilities: with `i` values of the larger and `j`
/// of the smaller sample, the largest value belongs to the larger sample with
/// probability `i / (i + j)` and then beats all `j` others, so
/// `P_{i,j}(u) = i/(i+j) P_{i-1,j}(u - j) + j/(i+j) P_{i,j-1}(u)`.
fn u_cdf(n1: usize, n2: usize, k: usize) -> f64 {
    let (small, large) = (n1.min(n2), n1.max(n2));
    let width = k + 1;
    // prev[j * width + u] = P_{i-1,j}(u) for u <= k; row j = 0 is the point mass at 0.
    let mut prev = vec![0.0; (small + 1) * width];
    for j in 0..=small {
        prev[j * width] = 1.0;
    }
    let mut cur = prev.clone();
    for i in 1..=large {
        for j in 1..=small {
            let (wi, wj) = (i as f64 / (i + j) as f64, j as f64 / (i + j) as f64);
            let (before, row) = cur.split_at_mut(j * width);
            let left = &before[(j - 1) * width..];
            let up = &prev[j * width..(j + 1) * width];
            for u in 0..width {
                let from_large = if u >= j { wi * up[u - j] } else { 0.0 };
                row[u] = from_large + wj * left[u];
            }
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[small * width..].iter().sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_average_ties() {
        let r = average_ranks(&[3.0, 1.0, 3.0, 2.0, 3.0, -0.0, 0.0]).unwrap();
        assert_eq!(r, vec![6.0, 3.0, 6.0, 4.0, 6.0, 1.5, 1.5]);
        assert!(average_ranks(&[]).unwrap().is_empty());
        assert_eq!(average_ranks(&[1.0, f64::NAN]), Err(StatsError::NonFinite));
    }

    #[test]
    fn exact_distribution_sums_to_one_and_is_symmetric() {
        for (n1, n2) in [(1, 1), (3, 5), (6, 4), (7, 7)] {
            let total = n1 * n2;
            assert!((u_cdf(n1, n2, total) - 1.0).abs() < 1e-14);
            for k in 0..total {
                // P(U <= k) = P(U >= total - k) = 1 - P(U <= total - k - 1)
                let lhs = u_cdf(n1, n2, k);
                let rhs = 1.0 - u_cdf(n1, n2, total - k - 1);
                assert!((lhs - rhs).abs() < 1e-14, "{n1}x{n2} k={k}");
            }
        }
        // Two samples of 2: the 6 arrangements give U = 0, 1, 2, 2, 3, 4.
        assert!((u_cdf(2, 2, 1) - 2.0 / 6.0).abs() < 1e-15);
        assert!((u_cdf(2, 2, 2) - 4.0 / 6.0).abs() < 1e-15);
    }

    #[test]
    fn all_tied_gives_p_one() {
        let r = mann_whitney_u(&[2.0; 4], &[2.0; 3], MannWhitneyMethod::Auto).unwrap();
        assert_eq!(r.statistic, 6.0);
        assert_eq!(r.p_value, 1.0);
        assert_eq!(r.method, MannWhitneyMethod::Asymptotic);
    }

    #[test]
    fn auto_picks_exact_only_without_ties_and_for_small_samples() {
        let a: Vec<f64> = (0..5).map(f64::from).collect();
        let b: Vec<f64> = (5..12).map(f64::from).collect();
        let r = mann_whitney_u(&a, &b, MannWhitneyMethod::Auto).unwrap();
        assert_eq!(r.method, MannWhitneyMethod::Exact);
        assert_eq!(r.statistic, 0.0);
        let big: Vec<f64> = (5..30).map(f64::from).collect();
        let r = mann_whitney_u(&a, &big, MannWhitneyMethod::Auto).unwrap();
        assert_eq!(r.method, MannWhitneyMethod::Asymptotic);
        let r = mann_whitney_u(&[1.0, 2.0], &[2.0, 3.0], MannWhitneyMethod::Auto).unwrap();
        assert_eq!(r.method, MannWhitneyMethod::Asymptotic);
    }

    #[test]
    fn bad_input_is_an_error() {
        let m = MannWhitneyMethod::Auto;
        assert_eq!(
            mann_whitney_u(&[], &[1.0], m),
            Err(StatsError::TooFewValues { len: 0, min: 1 })
        );
        assert_eq!(
            mann_whitney_u(&[1.0], &[f64::INFINITY], m),
            Err(StatsError::NonFinite)
        );
        assert!(matches!(
            mann_whitney_u(&[1.0, 2.0], &[2.0], MannWhitneyMethod::Exact),
            Err(StatsError::ExactUnavailable(_))
        ));
        let a: Vec<f64> = (0..101).map(f64::from).collect();
        let b: Vec<f64> = (200..300).map(f64::from).collect();
        assert!(matches!(
            mann_whitney_u(&a, &b, MannWhitneyMethod::Exact),
            Err(StatsError::ExactUnavailable(_))
        ));
    }
}
