//! Entropy of a discrete distribution, from counts or from known probabilities.

use std::hash::Hash;

use super::discrete::encode;
use super::{DiscreteEstimator, InfoError};

/// Estimates the entropy (nats) of a discrete variable from its bin `counts`.
///
/// With `N = Σ counts` and `p_i = counts_i / N`, the plug-in estimate is `−Σ p_i ln p_i`;
/// [`DiscreteEstimator::MillerMadow`] adds `(m − 1) / (2N)`, `m` being the number of non-empty
/// bins. Empty bins contribute nothing either way, so zero counts may be included.
///
/// # Errors
/// [`InfoError::Empty`] if `counts` is empty or sums to 0; [`InfoError::NonFinite`] if the
/// total overflows `u64`.
pub fn entropy(counts: &[u64], estimator: DiscreteEstimator) -> Result<f64, InfoError> {
    let n = counts
        .iter()
        .try_fold(0u64, |acc, &c| acc.checked_add(c))
        .ok_or(InfoError::NonFinite)?;
    if n == 0 {
        return Err(InfoError::Empty);
    }
    Ok(entropy_of_counts(counts.iter().copied(), n, estimator))
}

/// Entropy (nats) of a known distribution: `−Σ p ln p`, with `0 ln 0 = 0`.
///
/// # Errors
/// [`InfoError::Empty`] if `p` is empty; [`InfoError::NonFinite`] on NaN or infinite values;
/// [`InfoError::InvalidProbabilities`] if a value is negative or the sum differs from 1 by
/// more than `1e-9`.
pub fn entropy_from_probabilities(p: &[f64]) -> Result<f64, InfoError> {
    if p.is_empty() {
        return Err(InfoError::Empty);
    }
    super::check_finite(p)?;
    if p.iter().any(|&v| v < 0.0) || (p.iter().sum::<f64>() - 1.0).abs() > 1e-9 {
        return Err(InfoError::InvalidProbabilities);
    }
    Ok(-p
        .iter()
        .filter(|&&v| v > 0.0)
        .map(|&v| v * v.ln())
        .sum::<f64>())
}

/// Estimates the entropy (nats) of a label sequence: counts each distinct label, then
/// [`entropy`]. The entropy of a concept label bounds its MI with anything.
///
/// # Errors
/// [`InfoError::Empty`] if `labels` is empty.
pub fn label_entropy<T: Hash + Eq>(
    labels: &[T],
    estimator: DiscreteEstimator,
) -> Result<f64, InfoError> {
    if labels.is_empty() {
        return Err(InfoError::Empty);
    }
    let (ids, m) = encode(labels);
    let mut counts = vec![0u64; m];
    for id in ids {
        counts[id] += 1;
    }
    entropy(&counts, estimator)
}

/// Entropy of counts with a known positive total `n`.
pub(super) fn entropy_of_counts(
    counts: impl Iterator<Item = u64>,
    n: u64,
    estimator: DiscreteEstimator,
) -> f64 {
    let nf = n as f64;
    let mut h = 0.0;
    let mut occupied = 0u64;
    for c in counts.filter(|&c| c > 0) {
        let p = c as f64 / nf;
        h -= p * p.ln();
        occupied += 1;
    }
    h + miller_madow(occupied, n, estimator)
}

/// The Miller–Madow term `(m − 1) / (2N)` (0 for the plug-in estimator).
pub(super) fn miller_madow(occupied: u64, n: u64, estimator: DiscreteEstimator) -> f64 {
    match estimator {
        DiscreteEstimator::PlugIn => 0.0,
        DiscreteEstimator::MillerMadow => occupied.saturating_sub(1) as f64 / (2.0 * n as f64),
    }
}
