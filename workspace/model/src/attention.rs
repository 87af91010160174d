//! Multi-head (grouped-query) self-attention with `pattern` and `z` hook points.

use crate::config::TransformerConfig;
use crate::hooks::{self, BatchInfo, Hooks};
use crate::linear;
use crate::rope::Rope;
use crate::site::{Site, SitePoint};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

/// Self-attention of one block.
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection `[d_model, n_heads * d_head]`.
    pub q: Linear,
    /// Key projection `[d_model, n_kv_heads * d_head]`.
    pub k: Linear,
    /// Value projection `[d_model, n_kv_heads * d_head]`.
    pub v: Linear,
    /// Output projection `[n_heads * d_head, d_model]`.
    pub o: Linear,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads.
    pub n_kv_heads: usize,
    /// Head width.
    pub d_head: usize,
}

impl Attention {
    /// Fresh, randomly initialised attention.
    pub fn new(config: &TransformerConfig, device: &Device) -> Attention {
        let linear = |i, o| {
            LinearConfig::new(i, o)
                .with_bias(config.attention_bias)
                .init(device)
        };
        let (d, h, kv, dh) = (
            config.d_model,
            config.n_heads,
            config.n_kv_heads,
            config.d_head,
        );
        Attention {
            q: linear(d, h * dh),
            k: linear(d, kv * dh),
            v: linear(d, kv * dh),
            o: linear(h * dh, d),
            n_heads: h,
            n_kv_heads: kv,
            d_head: dh,
        }
    }

    /// Attention output before it joins the residual stream, `[batch, pos, d_model]`.
    ///
    /// `mask_bias` is `[batch, 1, pos, pos]`, 0 where a query may look and a large negative
    /// number where it may not (padding, and the future for decoders).
    pub fn forward(
        &self,
        x: Tensor<3>,
        layer: usize,
        mask_bias: Tensor<4>,
        rope: Option<&Rope>,
        hooks: &mut dyn Hooks,
        batch: &BatchInfo,
    ) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let (h, kv, dh) = (self.n_heads, self.n_kv_heads, self.d_head);
        let split = |y: Tensor<3>, heads: usize| y.reshape([b, t, heads, dh]).swap_dims(1, 2);
        let mut q = split(linear::tokens(&self.q, x.clone()), h);
        let mut k = split(linear::tokens(&self.k, x.clone()), kv);
        let mut v = split(linear::tokens(&self.v, x), kv);
        if let Some(rope) = rope {
            q = rope.apply(q);
            k = rope.apply(k);
        }
        if kv < h {
            let repeat = |y: Tensor<4>| {
                y.unsqueeze_dim::<5>(2)
                    .repeat_dim(2, h / kv)
                    .reshape([b, h, t, dh])
            };
            k = repeat(k);
            v = repeat(v);
        }
        let scores = q.matmul(k.swap_dims(2, 3)).div_scalar((dh as f64).sqrt()) + mask_bias;
        let pattern = softmax(scores, 3);
        let pattern = hooks::heads(hooks, Site::new(SitePoint::Pattern, layer), batch, pattern);
        let z = pattern.matmul(v).swap_dims(1, 2);
        let z = hooks::heads(hooks, Site::new(SitePoint::Z, layer), batch, z);
        linear::tokens(&self.o, z.reshape([b, t, h * dh]))
    }
}
