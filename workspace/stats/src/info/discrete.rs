//! Mutual information between two discrete sequences (plug-in and Miller–Madow).

use std::collections::HashMap;
use std::hash::Hash;

use super::entropy::miller_madow;
use super::resample::MiEstimator;
use super::{DiscreteEstimator, InfoError, check_indices, check_pairs};

/// Maps labels to dense ids `0..m` in order of first appearance; returns the ids and `m`.
pub(super) fn encode<T: Hash + Eq>(labels: &[T]) -> (Vec<usize>, usize) {
    let mut seen: HashMap<&T, usize> = HashMap::new();
    let ids = labels
        .iter()
        .map(|label| {
            let next = seen.len();
            *seen.entry(label).or_insert(next)
        })
        .collect();
    (ids, seen.len())
}

/// MI (nats) of `(a, b)` pairs of dense ids (`a < ma`, `b < mb`); `pairs` must be non-empty.
///
/// Plug-in `Σ p(a,b) ln[p(a,b) / (p(a) p(b))]`, plus for Miller–Madow the corrections of the
/// three entropies: `[(m_a − 1) + (m_b − 1) − (m_ab − 1)] / (2N)` with occupied-cell counts `m`.
pub(super) fn mi_of_pairs(
    pairs: &mut [(usize, usize)],
    ma: usize,
    mb: usize,
    estimator: DiscreteEstimator,
) -> f64 {
    let n = pairs.len() as u64;
    let nf = n as f64;
    let mut ca = vec![0u64; ma];
    let mut cb = vec![0u64; mb];
    for &(a, b) in pairs.iter() {
        ca[a] += 1;
        cb[b] += 1;
    }
    pairs.sort_unstable();
    let mut mi = 0.0;
    let mut joint_occupied = 0u64;
    let mut start = 0;
    while start < pairs.len() {
        let cell = pairs[start];
        let end = start + pairs[start..].iter().take_while(|&&p| p == cell).count();
        let c = (end - start) as f64;
        // p(a,b) ln[p(a,b) / (p(a) p(b))] with every count over N.
        mi += c / nf * (c * nf / (ca[cell.0] as f64 * cb[cell.1] as f64)).ln();
        joint_occupied += 1;
        start = end;
    }
    let occupied = |counts: &[u64]| counts.iter().filter(|&&c| c > 0).count() as u64;
    mi + miller_madow(occupied(&ca), n, estimator) + miller_madow(occupied(&cb), n, estimator)
        - miller_madow(joint_occupied, n, estimator)
}

/// Estimates the MI (nats) between two discrete sequences paired by position, such as a
/// concept label and a predicted class: `I = H(X) + H(Y) − H(X, Y)`, each entropy plug-in or
/// Miller–Madow corrected (see [`DiscreteEstimator`]).
///
/// Labels are any hashable values; only equality matters. The Miller–Madow MI is
/// `I_plugin + (m_X + m_Y − m_XY − 1) / (2N)`, which is usually below the plug-in value and
/// can be slightly negative when the variables are independent.
///
/// # Errors
/// [`InfoError::Empty`] on empty input; [`InfoError::LengthMismatch`] if the lengths differ.
pub fn discrete_mi<X: Hash + Eq, Y: Hash + Eq>(
    x: &[X],
    y: &[Y],
    estimator: DiscreteEstimator,
) -> Result<f64, InfoError> {
    DiscreteMi::new(x, y, estimator)?.estimate()
}

/// [`discrete_mi`] as an [`MiEstimator`], for [`super::mi_interval`]: the labels are encoded
/// once, each resample is counted afresh.
#[derive(Debug, Clone)]
pub struct DiscreteMi {
    x: Vec<usize>,
    mx: usize,
    y: Vec<usize>,
    my: usize,
    estimator: DiscreteEstimator,
}

impl DiscreteMi {
    /// Pairs `x[i]` with `y[i]`.
    ///
    /// # Errors
    /// [`InfoError::Empty`] on empty input; [`InfoError::LengthMismatch`] if the lengths
    /// differ.
    pub fn new<X: Hash + Eq, Y: Hash + Eq>(
        x: &[X],
        y: &[Y],
        estimator: DiscreteEstimator,
    ) -> Result<Self, InfoError> {
        check_pairs(x.len(), y.len())?;
        let (x, mx) = encode(x);
        let (y, my) = encode(y);
        Ok(Self {
            x,
            mx,
            y,
            my,
            estimator,
        })
    }
}

impl MiEstimator for DiscreteMi {
    fn len(&self) -> usize {
        self.x.len()
    }

    fn estimate_on(&self, indices: &[usize]) -> Result<f64, InfoError> {
        if indices.is_empty() {
            return Err(InfoError::Empty);
        }
        check_indices(indices, self.len())?;
        let mut pairs: Vec<(usize, usize)> =
            indices.iter().map(|&i| (self.x[i], self.y[i])).collect();
        Ok(mi_of_pairs(&mut pairs, self.mx, self.my, self.estimator))
    }
}
