//! Two-sample permutation test for a difference in means.
//!
//! The statistic is `mean(a) - mean(b)`; its null distribution comes from
//! reassigning the pooled values to two groups of the original sizes. The
//! two-sided p-value follows `scipy.stats.permutation_test(...,
//! permutation_type="independent", alternative="two-sided")`: twice the smaller
//! of the two one-sided p-values, capped at 1.
//!
//! With at most `max(PERMUTATION_EXACT_LIMIT, n_resamples)` distinct splits
//! every split is enumerated and the p-value is exact (scipy with
//! `n_resamples=np.inf`); otherwise `n_resamples` random splits drawn from a
//! [`ChaCha8Rng`] seeded with `seed` give the Monte Carlo p-value
//! `(count + 1) / (n_resamples + 1)` per side, which is never 0.
//!
//! Null values within `100 ε max(|observed|, max |x|)` of the observed
//! statistic count as ties (rounding can separate splits whose means are equal
//! in exact arithmetic). scipy scales this tolerance by `|observed|` alone; the
//! two agree unless the observed difference is near zero.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::describe::mean;
use crate::error::StatsError;

/// Splits are enumerated exactly when there are at most this many (or at most
/// `n_resamples`, if that is larger).
pub const PERMUTATION_EXACT_LIMIT: usize = 20_000;

/// Outcome of a permutation test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PermutationTest {
    /// The observed `mean(a) - mean(b)`.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Number of splits evaluated: all of them when `exact`, else `n_resamples`.
    pub n_permutations: usize,
    /// Whether every distinct split was enumerated.
    pub exact: bool,
}

/// Two-sided permutation test of `mean(a) - mean(b)` (see the module docs).
///
/// Deterministic: the same inputs and `seed` give the same result (the seed
/// is unused when the test is exact).
///
/// # Errors
/// [`StatsError::TooFewValues`] if either sample is empty;
/// [`StatsError::NonFinite`] on NaN/infinite input or overflow;
/// [`StatsError::InvalidParameter`] if `n_resamples` is 0.
pub fn permutation_test(
    a: &[f64],
    b: &[f64],
    n_resamples: usize,
    seed: u64,
) -> Result<PermutationTest, StatsError> {
    for x in [a, b] {
        if x.is_empty() {
            return Err(StatsError::TooFewValues { len: 0, min: 1 });
        }
    }
    if n_resamples == 0 {
        return Err(StatsError::InvalidParameter {
            name: "n_resamples",
            expected: "at least 1",
        });
    }
    let pooled: Vec<f64> = a.iter().chain(b).copied().collect();
    if !pooled.iter().all(|v| v.is_finite()) {
        return Err(StatsError::NonFinite);
    }
    let observed = mean(a) - mean(b);
    if !observed.is_finite() {
        return Err(StatsError::NonFinite);
    }
    let scale = pooled.iter().fold(observed.abs(), |m, v| m.max(v.abs()));
    let tolerance = 100.0 * f64::EPSILON * scale;
    let mut tally = Tally {
        observed,
        tolerance,
        at_most: 0,
        at_least: 0,
    };

    let limit = PERMUTATION_EXACT_LIMIT.max(n_resamples);
    let splits = binomial_at_most(pooled.len(), a.len(), limit);
    let (n_permutations, exact) = match splits {
        Some(splits) => {
            for_each_split(&pooled, a.len(), |first, second| {
                tally.add(mean(first) - mean(second));
            });
            (splits, true)
        }
        None => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let mut work = pooled.clone();
            for _ in 0..n_resamples {
                work.shuffle(&mut rng);
                let (first, second) = work.split_at(a.len());
                tally.add(mean(first) - mean(second));
            }
            (n_resamples, false)
        }
    };
    let adjustment = usize::from(!exact);
    let count = tally.at_most.min(tally.at_least) + adjustment;
    let p_value = (2.0 * count as f64 / (n_permutations + adjustment) as f64).min(1.0);
    Ok(PermutationTest {
        statistic: observed,
        p_value,
        n_permutations,
        exact,
    })
}

/// Counts of null values at most / at least the observed statistic.
struct Tally {
    observed: f64,
    tolerance: f64,
    at_most: usize,
    at_least: usize,
}

impl Tally {
    fn add(&mut self, value: f64) {
        self.at_most += usize::from(value <= self.observed + self.tolerance);
        self.at_least += usize::from(value >= self.observed - self.tolerance);
    }
}

/// `C(n, k)` if it is at most `limit`, else `None`.
fn binomial_at_most(n: usize, k: usize, limit: usize) -> Option<usize> {
    let k = k.min(n - k);
    let mut c: u128 = 1;
    for i in 0..k {
        // C(n, i + 1) = C(n, i) (n - i) / (i + 1), exact at every step.
        c = c.checked_mul((n - i) as u128)? / (i + 1) as u128;
        if c > limit as u128 {
            return None;
        }
    }
    usize::try_from(c).ok()
}

/// Calls `f(first, second)` for every split of `pooled` into a group of `k`
/// values (kept in their original order) and the rest, starting with the
/// original split `pooled[..k]`, `pooled[k..]`.
fn for_each_split(pooled: &[f64], k: usize, mut f: impl FnMut(&[f64], &[f64])) {
    let n = pooled.len();
    let mut chosen: Vec<usize> = (0..k).collect();
    let mut first = Vec::with_capacity(k);
    let mut second = Vec::with_capacity(n - k);
    loop {
        first.clear();
        second.clear();
        let mut next = chosen.iter().peekable();
        for (i, &v) in pooled.iter().enumerate() {
            if next.peek() == Some(&&i) {
                next.next();
                first.push(v);
            } else {
                second.push(v);
            }
        }
        f(&first, &second);
        // Advance to the next k-combination of 0..n in lexicographic order.
        let Some(pos) = (0..k).rev().find(|&p| chosen[p] < n - k + p) else {
            return;
        };
        chosen[pos] += 1;
        for p in pos + 1..k {
            chosen[p] = chosen[p - 1] + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomial_counts() {
        assert_eq!(binomial_at_most(5, 2, 100), Some(10));
        assert_eq!(binomial_at_most(5, 5, 100), Some(1));
        assert_eq!(binomial_at_most(20, 10, 200_000), Some(184_756));
        assert_eq!(binomial_at_most(20, 10, 100_000), None);
        assert_eq!(binomial_at_most(1000, 500, 20_000), None);
    }

    #[test]
    fn enumerates_every_split_once() {
        let pooled = [1.0, 2.0, 4.0, 8.0, 16.0];
        let mut sums = Vec::new();
        for_each_split(&pooled, 2, |first, second| {
            assert_eq!(first.len() + second.len(), 5);
            sums.push(first.iter().sum::<f64>() as u32);
        });
        assert_eq!(sums[0], 3);
        sums.sort_unstable();
        sums.dedup();
        assert_eq!(sums.len(), 10);
    }

    #[test]
    fn exact_minimum_p_value() {
        // 3 vs 3 fully separated: 20 splits, the observed one is the most extreme.
        let r = permutation_test(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0], 1, 0).unwrap();
        assert!(r.exact);
        assert_eq!(r.n_permutations, 20);
        assert_eq!(r.statistic, 3.0);
        assert!((r.p_value - 0.1).abs() < 1e-15);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            permutation_test(&[], &[1.0], 10, 0),
            Err(StatsError::TooFewValues { len: 0, min: 1 })
        );
        assert_eq!(
            permutation_test(&[1.0, f64::NAN], &[1.0], 10, 0),
            Err(StatsError::NonFinite)
        );
        assert!(matches!(
            permutation_test(&[1.0], &[2.0], 0, 0),
            Err(StatsError::InvalidParameter { .. })
        ));
        let huge = [f64::MAX, f64::MAX];
        assert_eq!(
            permutation_test(&huge, &[-f64::MAX], 10, 0),
            Err(StatsError::NonFinite)
        );
    }
}
