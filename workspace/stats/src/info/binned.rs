//! MI between a discrete label and one continuous value, by equal-frequency binning.

use std::hash::Hash;

use super::discrete::{encode, mi_of_pairs};
use super::resample::MiEstimator;
use super::{DiscreteEstimator, InfoError, check_finite, check_indices};

/// Assigns each value to one of `bins` equal-frequency (quantile) bins, `0..bins`.
///
/// With the values sorted as `s_0 ≤ … ≤ s_{n−1}`, the cut points are `t_j = s_⌊j·n/bins⌋` for
/// `j = 1..bins`, and a value goes to bin `#{j : t_j ≤ v}`. Distinct values therefore fill the
/// bins with `⌊n/bins⌋` or `⌈n/bins⌉` each; equal values always share a bin, so heavy ties
/// leave some bins empty (Miller–Madow counts only occupied bins). Equal-frequency bins need
/// no scale and are robust to outliers, unlike equal-width bins.
///
/// # Errors
/// [`InfoError::Empty`] on empty input; [`InfoError::NonFinite`] on NaN or infinite values;
/// [`InfoError::InvalidBins`] unless `1 ≤ bins ≤ n`.
pub fn equal_frequency_bins(values: &[f64], bins: usize) -> Result<Vec<usize>, InfoError> {
    if values.is_empty() {
        return Err(InfoError::Empty);
    }
    check_finite(values)?;
    let n = values.len();
    if bins == 0 || bins > n {
        return Err(InfoError::InvalidBins { bins, n });
    }
    Ok(bin_finite(values, bins))
}

/// [`equal_frequency_bins`] for validated input.
fn bin_finite(values: &[f64], bins: usize) -> Vec<usize> {
    let n = values.len();
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    let cuts: Vec<f64> = (1..bins).map(|j| sorted[j * n / bins]).collect();
    values
        .iter()
        .map(|&v| cuts.partition_point(|&t| t <= v))
        .collect()
}

/// Estimates the MI (nats) between a discrete label and one continuous value (a projection of
/// activations onto a concept direction, a probe's output): the values are cut into `bins`
/// equal-frequency bins ([`equal_frequency_bins`]) and [`super::discrete_mi`] is taken between
/// label and bin.
///
/// Binning can only lose information, so with few bins the estimate sits below the true MI;
/// with many bins the plug-in estimate's upward bias grows, which Miller–Madow (the default
/// choice) largely removes. Around 10–30 bins with at least ~50 observations per bin is a
/// reasonable range; [`super::ross_mi`] needs no bin count.
///
/// # Errors
/// [`InfoError::Empty`] on empty input; [`InfoError::LengthMismatch`] if the lengths differ;
/// [`InfoError::NonFinite`] on NaN or infinite values; [`InfoError::InvalidBins`] unless
/// `1 ≤ bins ≤ n`.
pub fn binned_mi<L: Hash + Eq>(
    labels: &[L],
    values: &[f64],
    bins: usize,
    estimator: DiscreteEstimator,
) -> Result<f64, InfoError> {
    BinnedMi::new(labels, values, bins, estimator)?.estimate()
}

/// [`binned_mi`] as an [`MiEstimator`]: each resample is binned afresh (the bin edges are part
/// of the estimator).
#[derive(Debug, Clone)]
pub struct BinnedMi {
    labels: Vec<usize>,
    classes: usize,
    values: Vec<f64>,
    bins: usize,
    estimator: DiscreteEstimator,
}

impl BinnedMi {
    /// Pairs `labels[i]` with `values[i]`, cut into `bins` equal-frequency bins.
    ///
    /// # Errors
    /// As [`binned_mi`].
    pub fn new<L: Hash + Eq>(
        labels: &[L],
        values: &[f64],
        bins: usize,
        estimator: DiscreteEstimator,
    ) -> Result<Self, InfoError> {
        if labels.len() != values.len() {
            return Err(InfoError::LengthMismatch {
                left: labels.len(),
                right: values.len(),
            });
        }
        // Validates emptiness, finiteness and the bin count.
        equal_frequency_bins(values, bins)?;
        let (labels, classes) = encode(labels);
        Ok(Self {
            labels,
            classes,
            values: values.to_vec(),
            bins,
            estimator,
        })
    }
}

impl MiEstimator for BinnedMi {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn estimate_on(&self, indices: &[usize]) -> Result<f64, InfoError> {
        if indices.is_empty() {
            return Err(InfoError::Empty);
        }
        check_indices(indices, self.len())?;
        if self.bins > indices.len() {
            return Err(InfoError::InvalidBins {
                bins: self.bins,
                n: indices.len(),
            });
        }
        let values: Vec<f64> = indices.iter().map(|&i| self.values[i]).collect();
        let bins = bin_finite(&values, self.bins);
        let mut pairs: Vec<(usize, usize)> = indices
            .iter()
            .zip(bins)
            .map(|(&i, b)| (self.labels[i], b))
            .collect();
        Ok(mi_of_pairs(
            &mut pairs,
            self.classes,
            self.bins,
            self.estimator,
        ))
    }
}
