//! Entropy and mutual information (MI) between a concept label and activations or probe
//! outputs, with seeded bootstrap intervals.
//!
//! # Definitions and units
//!
//! Entropy is `H(X) = −Σ p(x) ln p(x)` and mutual information is
//! `I(X; Y) = H(X) + H(Y) − H(X, Y)`. Every estimate here is in **nats** (natural
//! logarithms). Convert with [`nats_to_bits`] (divide by `ln 2`, [`NATS_PER_BIT`]) and back with
//! [`bits_to_nats`]; a fair coin has `ln 2 ≈ 0.693` nats = 1 bit of entropy.
//!
//! # Which estimator
//!
//! | X | Y | estimator |
//! |---|---|---|
//! | discrete | discrete | [`discrete_mi`]: plug-in or Miller–Madow |
//! | discrete label | one continuous value (a projection onto a CAV, a probe output) | [`binned_mi`] (equal-frequency bins, then [`discrete_mi`]) or [`ross_mi`] |
//! | discrete label | continuous vector (activations) | [`ross_mi`] (Ross 2014) |
//! | continuous, maybe multivariate | continuous, maybe multivariate | [`ksg_mi`] (Kraskov–Stögbauer–Grassberger 2004, estimator 1) |
//!
//! [`entropy`] estimates `H` from bin counts, [`entropy_from_probabilities`] evaluates it
//! exactly for a known distribution and [`label_entropy`] counts a label sequence first (the
//! entropy of the concept label is the ceiling of its MI with anything).
//!
//! Plug-in estimates of discrete entropy are biased downwards (and so plug-in MI upwards) on
//! small samples; Miller–Madow ([`DiscreteEstimator::MillerMadow`], the default) adds the
//! first-order correction `(m − 1) / (2N)` to each entropy, `m` being the number of non-empty
//! bins. The nearest-neighbour estimators ([`ksg_mi`], [`ross_mi`]) need no binning; their
//! estimates are not clipped, so with no dependence they scatter around 0 and can be slightly
//! negative.
//!
//! # Intervals
//!
//! Every estimator is also a struct implementing [`MiEstimator`] ([`DiscreteMi`],
//! [`BinnedMi`], [`Ksg`], [`Ross`]); [`mi_interval`] gives it a seeded percentile interval by
//! resampling observation pairs (see [`Resampling`] for why the nearest-neighbour
//! estimators use half-sampling instead of draws with replacement).
//! [`mi_interval_with`] does the same for any closure of resampled indices.
//!
//! # Errors, never panics
//!
//! Empty or mismatched inputs, NaN or infinite values, `k` or bin counts out of range,
//! identical points where a nearest-neighbour estimator needs distinct ones and out-of-range
//! resample indices all return an [`InfoError`].

mod binned;
mod discrete;
mod entropy;
mod knn;
mod resample;

use thiserror::Error;

pub use binned::{BinnedMi, binned_mi, equal_frequency_bins};
pub use discrete::{DiscreteMi, discrete_mi};
pub use entropy::{entropy, entropy_from_probabilities, label_entropy};
pub use knn::{DEFAULT_K, Ksg, Points, Ross, ksg_mi, ross_mi};
pub use resample::{
    MiEstimator, MiInterval, MiIntervalOptions, Resampling, mi_interval, mi_interval_with,
};

/// Nats in one bit: `ln 2`. An information quantity in bits is its value in nats divided by
/// this.
pub const NATS_PER_BIT: f64 = std::f64::consts::LN_2;

/// Converts an entropy or MI from nats (natural log, what every estimator here returns) to
/// bits (log base 2): `bits = nats / ln 2`.
pub fn nats_to_bits(nats: f64) -> f64 {
    nats / NATS_PER_BIT
}

/// Converts an entropy or MI from bits to nats: `nats = bits · ln 2`.
pub fn bits_to_nats(bits: f64) -> f64 {
    bits * NATS_PER_BIT
}

/// How a discrete (counted) entropy or MI is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DiscreteEstimator {
    /// Maximum-likelihood ("plug-in"): the entropy of the empirical frequencies. Biased
    /// downwards by about `(m − 1) / (2N)` for `m` occupied bins and `N` observations.
    PlugIn,
    /// Plug-in plus the Miller–Madow correction `(m − 1) / (2N)`, `m` the number of non-empty
    /// bins; for MI each of `H(X)`, `H(Y)` and `H(X, Y)` is corrected.
    #[default]
    MillerMadow,
}

/// Why an entropy or MI estimate could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InfoError {
    /// There are no observations (or all counts are zero).
    #[error("no observations")]
    Empty,
    /// Two inputs that pair observations have different lengths.
    #[error("inputs pair observations but have different lengths: {left} and {right}")]
    LengthMismatch {
        /// Length of the first input.
        left: usize,
        /// Length of the second input.
        right: usize,
    },
    /// A value is NaN or infinite.
    #[error("non-finite value (NaN or infinite) in the input")]
    NonFinite,
    /// A flat row-major buffer cannot be read as points of the given dimension.
    #[error("{len} values cannot be read as points of dimension {dim}")]
    BadDimension {
        /// Length of the flat buffer.
        len: usize,
        /// Requested dimension of each point.
        dim: usize,
    },
    /// Probabilities are negative or do not sum to 1.
    #[error("probabilities must be non-negative and sum to 1")]
    InvalidProbabilities,
    /// The number of bins is 0 or exceeds the number of observations.
    #[error("{bins} bins requested for {n} observations; need 1 <= bins <= n")]
    InvalidBins {
        /// Requested number of bins.
        bins: usize,
        /// Number of observations.
        n: usize,
    },
    /// The neighbour count `k` is 0 or not smaller than the number of observations.
    #[error("k = {k} neighbours requested; need 1 <= k <= {max}")]
    InvalidNeighbours {
        /// Requested neighbour count.
        k: usize,
        /// Largest usable `k` for this sample (`n − 1`).
        max: usize,
    },
    /// A label occurs too rarely for the Ross estimator: each label present needs at least
    /// `k + 1` observations so that every point has `k` same-label neighbours.
    #[error("a label occurs {size} time(s); with k = {k} every label needs at least k + 1")]
    ClassTooSmall {
        /// Number of observations of the rarest label.
        size: usize,
        /// Requested neighbour count.
        k: usize,
    },
    /// Two observations coincide where a nearest-neighbour estimator needs distinct points
    /// (identical `(x, y)` for [`Ksg`]; identical label and vector for [`Ross`]). Break such
    /// ties by adding tiny noise before estimating.
    #[error(
        "observations {first} and {second} are identical; nearest-neighbour MI needs distinct \
         points (add tiny noise to break ties)"
    )]
    DuplicatePoints {
        /// Index of one of the two observations.
        first: usize,
        /// Index of the other.
        second: usize,
    },
    /// An observation index appears more than once where an estimator needs distinct
    /// observations ([`Ksg`] and [`Ross`] under [`Resampling::WithReplacement`]).
    #[error(
        "observation {index} appears more than once; nearest-neighbour estimators need \
         Resampling::HalfSampling"
    )]
    RepeatedObservation {
        /// The repeated observation index.
        index: usize,
    },
    /// A resample index is out of range.
    #[error("observation index {index} is out of range for {len} observations")]
    IndexOutOfRange {
        /// The offending index.
        index: usize,
        /// Number of observations.
        len: usize,
    },
    /// A bootstrap option is out of range.
    #[error("invalid interval option: {0}")]
    InvalidOption(String),
}

/// Checks that two paired inputs have the same, non-zero length.
fn check_pairs(left: usize, right: usize) -> Result<(), InfoError> {
    if left != right {
        return Err(InfoError::LengthMismatch { left, right });
    }
    if left == 0 {
        return Err(InfoError::Empty);
    }
    Ok(())
}

/// Checks that every index is `< len`.
fn check_indices(indices: &[usize], len: usize) -> Result<(), InfoError> {
    match indices.iter().find(|&&i| i >= len) {
        Some(&index) => Err(InfoError::IndexOutOfRange { index, len }),
        None => Ok(()),
    }
}

/// Checks that every value is finite.
fn check_finite(values: &[f64]) -> Result<(), InfoError> {
    if values.iter().all(|v| v.is_finite()) {
        Ok(())
    } else {
        Err(InfoError::NonFinite)
    }
}
