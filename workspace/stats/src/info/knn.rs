//! Nearest-neighbour MI estimators: KSG (continuous × continuous) and Ross (discrete ×
//! continuous).
//!
//! Both use the max-norm (`‖v‖ = max_i |v_i|`, also within multivariate X or Y) and an exact
//! brute-force neighbour search: every estimate computes all `n(n − 1)` pairwise distances,
//! `O(n² · d)` time and `O(n · d)` memory, which is fast for the few thousand points a concept
//! probe has (n = 2000 takes tens of milliseconds) but not meant for hundreds of thousands.
//!
//! # Ties
//!
//! Both estimators assume continuous data without repeated points. Observations that coincide
//! exactly ([`Ksg`]: same `x` and same `y`; [`Ross`]: same label and same vector) make the
//! neighbour radius zero and the estimate meaningless, so they are reported as
//! [`InfoError::DuplicatePoints`] instead of being broken silently; add tiny noise first if
//! your data has them. Ties that are not exact duplicates (equal `x` with different `y`,
//! equal distances) are fine: the counts use the strict and inclusive inequalities of the
//! original papers. For the same reason a resample that repeats an observation is refused
//! ([`InfoError::RepeatedObservation`]); intervals for these estimators use
//! [`super::Resampling::HalfSampling`].
//!
//! # Scale
//!
//! The max-norm compares coordinates directly, so at finite `n` the estimate depends on the
//! coordinates' relative scales (not asymptotically). Standardise coordinates with very
//! different spreads first.

use std::hash::Hash;

use statrs::function::gamma::digamma;

use super::discrete::encode;
use super::resample::{MiEstimator, Resampling};
use super::{InfoError, check_finite, check_indices, check_pairs};

/// Neighbour count the KSG and Ross papers recommend as a default: `k = 3`.
pub const DEFAULT_K: usize = 3;

/// A borrowed set of `n` points of dimension `dim`, stored row-major in one flat slice
/// (point `i` is `data[i * dim..(i + 1) * dim]`), as activations `[n, width]` usually are.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Points<'a> {
    data: &'a [f64],
    dim: usize,
}

impl<'a> Points<'a> {
    /// Reads `data` as points of dimension `dim`.
    ///
    /// # Errors
    /// [`InfoError::BadDimension`] if `dim` is 0 or does not divide `data.len()`.
    pub fn new(data: &'a [f64], dim: usize) -> Result<Self, InfoError> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(InfoError::BadDimension {
                len: data.len(),
                dim,
            });
        }
        Ok(Self { data, dim })
    }

    /// One-dimensional points, one per value.
    pub fn column(data: &'a [f64]) -> Self {
        Self { data, dim: 1 }
    }

    /// Number of points.
    pub fn len(&self) -> usize {
        self.data.len() / self.dim
    }

    /// Whether there are no points.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Dimension of each point.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The flat row-major values.
    pub fn as_slice(&self) -> &'a [f64] {
        self.data
    }
}

/// Owned, validated (finite) points.
#[derive(Debug, Clone)]
struct Cloud {
    data: Vec<f64>,
    dim: usize,
}

impl Cloud {
    fn new(points: Points<'_>) -> Result<Self, InfoError> {
        check_finite(points.data)?;
        Ok(Self {
            data: points.data.to_vec(),
            dim: points.dim,
        })
    }

    /// The points at `indices`, contiguous (for a cache-friendly pairwise loop).
    fn gather(&self, indices: &[usize]) -> Vec<f64> {
        let mut out = Vec::with_capacity(indices.len() * self.dim);
        for &i in indices {
            out.extend_from_slice(&self.data[i * self.dim..(i + 1) * self.dim]);
        }
        out
    }
}

/// Max-norm distance between two points of equal dimension.
fn max_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .fold(0.0f64, |m, (p, q)| m.max((p - q).abs()))
}

/// Checks that no observation index repeats.
fn check_distinct(indices: &[usize], len: usize) -> Result<(), InfoError> {
    let mut seen = vec![false; len];
    for &i in indices {
        if std::mem::replace(&mut seen[i], true) {
            return Err(InfoError::RepeatedObservation { index: i });
        }
    }
    Ok(())
}

/// Validates `k` against a sample of `n` points.
fn check_k(k: usize, n: usize) -> Result<(), InfoError> {
    if k == 0 || k >= n {
        return Err(InfoError::InvalidNeighbours {
            k,
            max: n.saturating_sub(1),
        });
    }
    Ok(())
}

/// The `k`-th smallest (1-based) of `values`, which must hold at least `k ≥ 1` values.
fn kth_smallest(values: &mut [f64], k: usize) -> f64 {
    *values.select_nth_unstable_by(k - 1, f64::total_cmp).1
}

/// Duplicate-points error naming the two original observations in increasing order.
fn duplicate(a: usize, b: usize) -> InfoError {
    InfoError::DuplicatePoints {
        first: a.min(b),
        second: a.max(b),
    }
}

/// Estimates the MI (nats) between two continuous variables, each possibly multivariate, with
/// the Kraskov–Stögbauer–Grassberger estimator 1 (Phys. Rev. E 69, 066138, 2004):
///
/// `I = ψ(k) + ψ(N) − ⟨ψ(n_x + 1) + ψ(n_y + 1)⟩`,
///
/// where for each point `ε` is the max-norm distance to its `k`-th nearest neighbour in the
/// joint space `(x, y)` (joint norm `max(‖Δx‖, ‖Δy‖)`), and `n_x`, `n_y` count the other points
/// strictly closer than `ε` in `x` alone and in `y` alone. `ψ` is the digamma function.
/// [`DEFAULT_K`] (3) is the usual `k`; larger `k` lowers variance and raises bias.
///
/// Brute-force `O(n² · d)`; see the module notes on ties and scale. Not clipped at zero.
///
/// # Errors
/// [`InfoError::Empty`], [`InfoError::LengthMismatch`], [`InfoError::BadDimension`] (from
/// [`Points::new`]), [`InfoError::NonFinite`], [`InfoError::InvalidNeighbours`] unless
/// `1 ≤ k < n`, [`InfoError::DuplicatePoints`] if two observations have the same `(x, y)`.
pub fn ksg_mi(x: Points<'_>, y: Points<'_>, k: usize) -> Result<f64, InfoError> {
    Ksg::new(x, y, k)?.estimate()
}

/// [`ksg_mi`] as an [`MiEstimator`] (owns a copy of the points). Its intervals default to
/// [`Resampling::HalfSampling`].
#[derive(Debug, Clone)]
pub struct Ksg {
    x: Cloud,
    y: Cloud,
    k: usize,
}

impl Ksg {
    /// Pairs point `i` of `x` with point `i` of `y`.
    ///
    /// # Errors
    /// As [`ksg_mi`], except that duplicates are found when estimating.
    pub fn new(x: Points<'_>, y: Points<'_>, k: usize) -> Result<Self, InfoError> {
        check_pairs(x.len(), y.len())?;
        check_k(k, x.len())?;
        Ok(Self {
            x: Cloud::new(x)?,
            y: Cloud::new(y)?,
            k,
        })
    }
}

impl MiEstimator for Ksg {
    fn len(&self) -> usize {
        self.x.data.len() / self.x.dim
    }

    fn estimate_on(&self, indices: &[usize]) -> Result<f64, InfoError> {
        let n = indices.len();
        if n == 0 {
            return Err(InfoError::Empty);
        }
        check_indices(indices, self.len())?;
        check_distinct(indices, self.len())?;
        check_k(self.k, n)?;
        let (dx, dy) = (self.x.dim, self.y.dim);
        let xs = self.x.gather(indices);
        let ys = self.y.gather(indices);
        let mut dist_x = vec![0.0; n];
        let mut dist_y = vec![0.0; n];
        let mut joint = Vec::with_capacity(n);
        let mut sum = 0.0;
        for a in 0..n {
            let (xa, ya) = (&xs[a * dx..(a + 1) * dx], &ys[a * dy..(a + 1) * dy]);
            joint.clear();
            for b in 0..n {
                if b == a {
                    // Excluded from both marginal counts by the strict inequality.
                    dist_x[b] = f64::INFINITY;
                    dist_y[b] = f64::INFINITY;
                    continue;
                }
                let ddx = max_dist(xa, &xs[b * dx..(b + 1) * dx]);
                let ddy = max_dist(ya, &ys[b * dy..(b + 1) * dy]);
                let dz = ddx.max(ddy);
                if dz == 0.0 {
                    return Err(duplicate(indices[a], indices[b]));
                }
                dist_x[b] = ddx;
                dist_y[b] = ddy;
                joint.push(dz);
            }
            let eps = kth_smallest(&mut joint, self.k);
            let nx = dist_x.iter().filter(|&&d| d < eps).count();
            let ny = dist_y.iter().filter(|&&d| d < eps).count();
            sum += digamma((nx + 1) as f64) + digamma((ny + 1) as f64);
        }
        Ok(digamma(self.k as f64) + digamma(n as f64) - sum / n as f64)
    }

    fn resampling(&self) -> Resampling {
        Resampling::HalfSampling
    }
}

/// Estimates the MI (nats) between a discrete label and a continuous, possibly multivariate
/// variable with Ross's nearest-neighbour estimator (PLoS ONE 9(2): e87357, 2014):
///
/// `I = ψ(N) − ⟨ψ(N_c)⟩ + ψ(k) − ⟨ψ(m)⟩`,
///
/// where for each point `N_c` is the number of points with its label, `ε` is the max-norm
/// distance to its `k`-th nearest neighbour among those, and `m` counts the other points of
/// any label within `ε` (inclusive, so `m ≥ k`). Every label present needs at least `k + 1`
/// observations (no points are silently dropped).
///
/// Brute-force `O(n² · d)`; see the module notes on ties and scale. Not clipped at zero.
///
/// # Errors
/// [`InfoError::Empty`], [`InfoError::LengthMismatch`], [`InfoError::NonFinite`],
/// [`InfoError::InvalidNeighbours`] unless `1 ≤ k < n`, [`InfoError::ClassTooSmall`] if a label has
/// `≤ k` observations, [`InfoError::DuplicatePoints`] if two observations share label and
/// vector.
pub fn ross_mi<L: Hash + Eq>(labels: &[L], x: Points<'_>, k: usize) -> Result<f64, InfoError> {
    Ross::new(labels, x, k)?.estimate()
}

/// [`ross_mi`] as an [`MiEstimator`] (owns a copy of the points). Its intervals default to
/// [`Resampling::HalfSampling`].
#[derive(Debug, Clone)]
pub struct Ross {
    labels: Vec<usize>,
    classes: usize,
    x: Cloud,
    k: usize,
}

impl Ross {
    /// Pairs `labels[i]` with point `i` of `x`.
    ///
    /// # Errors
    /// As [`ross_mi`], except that duplicates are found when estimating.
    pub fn new<L: Hash + Eq>(labels: &[L], x: Points<'_>, k: usize) -> Result<Self, InfoError> {
        check_pairs(labels.len(), x.len())?;
        check_k(k, labels.len())?;
        let (labels, classes) = encode(labels);
        let ross = Self {
            labels,
            classes,
            x: Cloud::new(x)?,
            k,
        };
        ross.class_sizes(&(0..ross.labels.len()).collect::<Vec<_>>())?;
        Ok(ross)
    }

    /// Label counts among `indices`; errors if a present label has `≤ k` observations.
    fn class_sizes(&self, indices: &[usize]) -> Result<Vec<usize>, InfoError> {
        let mut sizes = vec![0usize; self.classes];
        for &i in indices {
            sizes[self.labels[i]] += 1;
        }
        match sizes.iter().filter(|&&s| s > 0).min() {
            Some(&size) if size <= self.k => Err(InfoError::ClassTooSmall { size, k: self.k }),
            _ => Ok(sizes),
        }
    }
}

impl MiEstimator for Ross {
    fn len(&self) -> usize {
        self.labels.len()
    }

    fn estimate_on(&self, indices: &[usize]) -> Result<f64, InfoError> {
        let n = indices.len();
        if n == 0 {
            return Err(InfoError::Empty);
        }
        check_indices(indices, self.len())?;
        check_distinct(indices, self.len())?;
        let sizes = self.class_sizes(indices)?;
        let d = self.x.dim;
        let xs = self.x.gather(indices);
        let labels: Vec<usize> = indices.iter().map(|&i| self.labels[i]).collect();
        let mut dist = vec![0.0; n];
        let mut same = Vec::with_capacity(n);
        let mut sum = 0.0;
        for a in 0..n {
            let xa = &xs[a * d..(a + 1) * d];
            same.clear();
            for b in 0..n {
                if b == a {
                    // Excluded from `m` (which counts other points only).
                    dist[b] = f64::INFINITY;
                    continue;
                }
                let dab = max_dist(xa, &xs[b * d..(b + 1) * d]);
                if labels[b] == labels[a] {
                    if dab == 0.0 {
                        return Err(duplicate(indices[a], indices[b]));
                    }
                    same.push(dab);
                }
                dist[b] = dab;
            }
            let eps = kth_smallest(&mut same, self.k);
            let m = dist.iter().filter(|&&v| v <= eps).count();
            sum += digamma(sizes[labels[a]] as f64) + digamma(m as f64);
        }
        Ok(digamma(n as f64) + digamma(self.k as f64) - sum / n as f64)
    }

    fn resampling(&self) -> Resampling {
        Resampling::HalfSampling
    }
}
