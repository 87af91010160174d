//! Recorded activations, keyed by site.

use burn::tensor::Tensor;
use cavern_model::batch::token_mask;
use cavern_model::{BatchInfo, Site};
use std::collections::BTreeMap;

/// An activation of either rank the model hands to hooks.
#[derive(Debug, Clone)]
pub enum Activation {
    /// `[batch, pos, width]`.
    Stream(Tensor<3>),
    /// `[batch, pos, heads, d_head]` at `z`, `[batch, heads, query, key]` at `pattern`.
    Heads(Tensor<4>),
}

impl Activation {
    /// The mean over every real token (the first `lengths[b]` positions of sequence `b`),
    /// flattened to `[width]` (`heads · d_head` at `z`).
    pub fn token_mean(&self, lengths: &[usize]) -> Tensor<1> {
        let x = match self {
            Activation::Stream(x) => x.clone(),
            Activation::Heads(z) => {
                let [b, t, h, d] = z.dims();
                z.clone().reshape([b, t, h * d])
            }
        };
        let [_, t, w] = x.dims();
        let info = BatchInfo {
            lengths: lengths.to_vec(),
            seq_len: t,
        };
        let mask = token_mask(&info, &x.device()).unsqueeze_dim::<3>(2);
        let total = lengths.iter().sum::<usize>().max(1) as f64;
        (x * mask)
            .sum_dim(1)
            .sum_dim(0)
            .reshape([w])
            .div_scalar(total)
    }

    /// The tensor's dimensions.
    pub fn dims(&self) -> Vec<usize> {
        match self {
            Activation::Stream(x) => x.dims().to_vec(),
            Activation::Heads(x) => x.dims().to_vec(),
        }
    }
}

/// Activations recorded during one forward pass, with the batch they came from.
#[derive(Debug, Clone, Default)]
pub struct ActivationCache {
    entries: BTreeMap<Site, Activation>,
    batch: Option<BatchInfo>,
}

impl ActivationCache {
    /// Stores an activation (replacing an earlier one at the same site).
    pub fn insert(&mut self, site: Site, batch: &BatchInfo, activation: Activation) {
        self.batch = Some(batch.clone());
        self.entries.insert(site, activation);
    }

    /// The activation at a site.
    pub fn get(&self, site: &Site) -> Option<&Activation> {
        self.entries.get(site)
    }

    /// The `[batch, pos, width]` activation at a site, if recorded.
    pub fn stream(&self, site: &Site) -> Option<Tensor<3>> {
        match self.entries.get(site) {
            Some(Activation::Stream(x)) => Some(x.clone()),
            _ => None,
        }
    }

    /// The rank-4 activation at a `z` or `pattern` site, if recorded.
    pub fn heads(&self, site: &Site) -> Option<Tensor<4>> {
        match self.entries.get(site) {
            Some(Activation::Heads(x)) => Some(x.clone()),
            _ => None,
        }
    }

    /// Sites recorded, in order.
    pub fn sites(&self) -> impl Iterator<Item = &Site> {
        self.entries.keys()
    }

    /// The batch the activations came from.
    pub fn batch(&self) -> Option<&BatchInfo> {
        self.batch.as_ref()
    }
}
