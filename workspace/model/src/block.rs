//! One transformer block, pre-norm or post-norm, with its residual hook points.

use crate::attention::Attention;
use crate::config::{Architecture, TransformerConfig};
use crate::hooks::{self, BatchInfo, Hooks};
use crate::mlp::Mlp;
use crate::norm::Norm;
use crate::rope::Rope;
use crate::site::{Site, SitePoint};
use burn::module::Module;
use burn::tensor::{Device, Tensor};

/// Attention + MLP with residual connections.
#[derive(Module, Debug)]
pub struct Block {
    /// Self-attention.
    pub attn: Attention,
    /// Feed-forward.
    pub mlp: Mlp,
    /// Norm before attention (pre-norm) or after the attention residual add (post-norm).
    pub norm1: Norm,
    /// Norm before the MLP (pre-norm) or after the MLP residual add (post-norm).
    pub norm2: Norm,
    /// Pre-norm when true, post-norm otherwise.
    pub pre_norm: bool,
}

impl Block {
    /// Fresh, randomly initialised block.
    pub fn new(config: &TransformerConfig, device: &Device) -> Block {
        let norm = || Norm::new(config.norm, config.d_model, config.norm_eps, device);
        Block {
            attn: Attention::new(config, device),
            mlp: Mlp::new(config, device),
            norm1: norm(),
            norm2: norm(),
            pre_norm: config.architecture == Architecture::PreNormDecoder,
        }
    }

    /// Runs the block on the residual stream `[batch, pos, d_model]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        layer: usize,
        mask_bias: Tensor<4>,
        rope: Option<&Rope>,
        hooks: &mut dyn Hooks,
        batch: &BatchInfo,
    ) -> Tensor<3> {
        let site = |point| Site::new(point, layer);
        let x = hooks::stream(hooks, site(SitePoint::ResidPre), batch, x);
        let attn_in = if self.pre_norm {
            self.norm1.forward(x.clone())
        } else {
            x.clone()
        };
        let attn_out = self
            .attn
            .forward(attn_in, layer, mask_bias, rope, hooks, batch);
        let attn_out = hooks::stream(hooks, site(SitePoint::AttnOut), batch, attn_out);
        let mut x = x + attn_out;
        if !self.pre_norm {
            x = self.norm1.forward(x);
        }
        let x = hooks::stream(hooks, site(SitePoint::ResidMid), batch, x);
        let mlp_in = if self.pre_norm {
            self.norm2.forward(x.clone())
        } else {
            x.clone()
        };
        let mlp_out = self.mlp.forward(mlp_in, layer, hooks, batch);
        let mlp_out = hooks::stream(hooks, site(SitePoint::MlpOut), batch, mlp_out);
        let mut x = x + mlp_out;
        if !self.pre_norm {
            x = self.norm2.forward(x);
        }
        hooks::stream(hooks, site(SitePoint::ResidPost), batch, x)
    }
}
