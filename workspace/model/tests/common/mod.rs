//! What the parity tests share: a hook that records every activation, and error measures.

#![allow(dead_code)] // each test file uses its own subset

use burn::tensor::Tensor;
use cavern_model::{BatchInfo, Hooks, Site};
use std::collections::BTreeMap;

/// Records the activation at every site.
#[derive(Default)]
pub struct Recorder {
    /// `[batch, pos, width]` sites.
    pub streams: BTreeMap<Site, Tensor<3>>,
    /// `pattern` and `z`.
    pub heads: BTreeMap<Site, Tensor<4>>,
}

impl Hooks for Recorder {
    fn wants(&self, _site: &Site) -> bool {
        true
    }

    fn visit_stream(&mut self, site: &Site, _batch: &BatchInfo, x: Tensor<3>) -> Tensor<3> {
        self.streams.insert(*site, x.clone());
        x
    }

    fn visit_heads(&mut self, site: &Site, _batch: &BatchInfo, x: Tensor<4>) -> Tensor<4> {
        self.heads.insert(*site, x.clone());
        x
    }
}

/// A tensor's values, row-major, as `f64`.
pub fn to_f64<const D: usize>(x: Tensor<D>) -> Vec<f64> {
    x.into_data()
        .try_into_vec_as::<f64>()
        .expect("float tensor")
}

/// `|got - want| / |want|` in the L2 norm.
pub fn relative_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let diff: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum();
    let norm: f64 = want.iter().map(|w| w * w).sum();
    (diff / norm).sqrt()
}

/// The largest `|got - want|`, over the largest `|want|`.
pub fn max_relative_error(got: &[f64], want: &[f64]) -> f64 {
    max_abs_error(got, want) / want.iter().fold(0.0f64, |m, w| m.max(w.abs()))
}

/// The largest `|got - want|`.
pub fn max_abs_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    got.iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()))
}

/// Index of the largest value.
pub fn argmax(values: &[f64]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .expect("non-empty")
}

/// Rows `[pos]` of sequence `b` in a right-padded `[batch, t, width]` activation, for the first
/// `len` positions, flattened.
pub fn sequence(x: &[f64], b: usize, t: usize, width: usize, len: usize) -> Vec<f64> {
    x[b * t * width..(b * t + len) * width].to_vec()
}
