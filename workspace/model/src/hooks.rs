//! The hook protocol: at every named site the forward pass hands its activation to the hooks,
//! which may record it, replace it or edit it.

use crate::site::Site;
use burn::tensor::Tensor;

/// What a forward pass tells hooks about the batch it runs.
#[derive(Debug, Clone)]
pub struct BatchInfo {
    /// Number of real (non-pad) tokens of each sequence; sequences are right-padded.
    pub lengths: Vec<usize>,
    /// Padded sequence length.
    pub seq_len: usize,
}

/// Receives activations at hook sites. Implementations must return a tensor of the same shape.
pub trait Hooks {
    /// Whether this site is of interest; the model skips `visit_*` calls otherwise.
    fn wants(&self, site: &Site) -> bool;

    /// Called at `[batch, pos, width]` sites (everything but `pattern` and `z`).
    fn visit_stream(&mut self, site: &Site, batch: &BatchInfo, x: Tensor<3>) -> Tensor<3>;

    /// Called at `pattern` (`[batch, heads, query, key]`) and `z` (`[batch, pos, heads, d_head]`).
    fn visit_heads(&mut self, site: &Site, batch: &BatchInfo, x: Tensor<4>) -> Tensor<4>;
}

/// Hooks that do nothing: a plain forward pass.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn wants(&self, _site: &Site) -> bool {
        false
    }

    fn visit_stream(&mut self, _site: &Site, _batch: &BatchInfo, x: Tensor<3>) -> Tensor<3> {
        x
    }

    fn visit_heads(&mut self, _site: &Site, _batch: &BatchInfo, x: Tensor<4>) -> Tensor<4> {
        x
    }
}

/// Runs `x` through the hooks at a `[batch, pos, width]` site if they want it.
pub(crate) fn stream(
    hooks: &mut dyn Hooks,
    site: Site,
    batch: &BatchInfo,
    x: Tensor<3>,
) -> Tensor<3> {
    if hooks.wants(&site) {
        hooks.visit_stream(&site, batch, x)
    } else {
        x
    }
}

/// Runs `x` through the hooks at a rank-4 head site if they want it.
pub(crate) fn heads(
    hooks: &mut dyn Hooks,
    site: Site,
    batch: &BatchInfo,
    x: Tensor<4>,
) -> Tensor<4> {
    if hooks.wants(&site) {
        hooks.visit_heads(&site, batch, x)
    } else {
        x
    }
}
