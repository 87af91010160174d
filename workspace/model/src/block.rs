//! One transformer block, pre-norm or post-norm, sequential or parallel, with optional norms
//! after attention and the MLP, and its residual hook points.

use crate::attention::Attention;
use crate::config::{Architecture, TransformerConfig};
use crate::hooks::{self, BatchInfo, Hooks};
use crate::kv_cache::LayerKv;
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
    /// Norm of the attention output before it joins the residual stream (Gemma).
    pub post_attn_norm: Option<Norm>,
    /// Norm of the MLP output before it joins the residual stream (Gemma).
    pub post_mlp_norm: Option<Norm>,
    /// Pre-norm when true, post-norm otherwise.
    pub pre_norm: bool,
    /// Whether the MLP reads the block's input instead of the stream after attention
    /// (GPT-NeoX); `resid_mid` is then only the sum of the input and the attention output.
    #[module(skip)]
    pub parallel: bool,
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
            post_attn_norm: config.options.post_norms.then(norm),
            post_mlp_norm: config.options.post_norms.then(norm),
            pre_norm: config.architecture == Architecture::PreNormDecoder,
            parallel: config.options.parallel_attn_mlp,
        }
    }

    /// A block of `config`'s kind from its parts: the norms before attention and the MLP (or
    /// after each residual add, post-norm), and the post-norms where the config has them.
    pub fn from_parts(
        config: &TransformerConfig,
        attn: Attention,
        mlp: Mlp,
        [norm1, norm2]: [Norm; 2],
        post_norms: Option<(Norm, Norm)>,
    ) -> Block {
        let (post_attn_norm, post_mlp_norm) = post_norms.unzip();
        Block {
            attn,
            mlp,
            norm1,
            norm2,
            post_attn_norm,
            post_mlp_norm,
            pre_norm: config.architecture == Architecture::PreNormDecoder,
            parallel: config.options.parallel_attn_mlp,
        }
    }

    /// Runs the block on the residual stream `[batch, pos, d_model]` (with a `cache`, the
    /// pass's tokens attend to the cached ones too; see [`Attention::forward`]).
    #[allow(clippy::too_many_arguments)]
    pub fn forward(
        &self,
        x: Tensor<3>,
        layer: usize,
        mask_bias: Tensor<4>,
        rope: Option<&Rope>,
        hooks: &mut dyn Hooks,
        batch: &BatchInfo,
        cache: Option<&mut LayerKv>,
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
            .forward(attn_in, layer, mask_bias, rope, hooks, batch, cache);
        let attn_out = post_norm(
            hooks,
            site(SitePoint::AttnOutPreNorm),
            batch,
            attn_out,
            self.post_attn_norm.as_ref(),
        );
        let attn_out = hooks::stream(hooks, site(SitePoint::AttnOut), batch, attn_out);
        let block_in = self.parallel.then(|| x.clone());
        let mut x = x + attn_out;
        if !self.pre_norm {
            x = self.norm1.forward(x);
        }
        let x = hooks::stream(hooks, site(SitePoint::ResidMid), batch, x);
        let mlp_in = match (self.pre_norm, block_in) {
            (true, Some(block_in)) => self.norm2.forward(block_in),
            (true, None) => self.norm2.forward(x.clone()),
            (false, _) => x.clone(),
        };
        let mlp_out = self.mlp.forward(mlp_in, layer, hooks, batch);
        let mlp_out = post_norm(
            hooks,
            site(SitePoint::MlpOutPreNorm),
            batch,
            mlp_out,
            self.post_mlp_norm.as_ref(),
        );
        let mlp_out = hooks::stream(hooks, site(SitePoint::MlpOut), batch, mlp_out);
        let mut x = x + mlp_out;
        if !self.pre_norm {
            x = self.norm2.forward(x);
        }
        hooks::stream(hooks, site(SitePoint::ResidPost), batch, x)
    }
}

/// Hooks a sublayer's output at its pre-norm `site`, then applies the post-norm if there is one.
fn post_norm(
    hooks: &mut dyn Hooks,
    site: Site,
    batch: &BatchInfo,
    x: Tensor<3>,
    norm: Option<&Norm>,
) -> Tensor<3> {
    let x = hooks::stream(hooks, site, batch, x);
    match norm {
        Some(norm) => norm.forward(x),
        None => x,
    }
}
