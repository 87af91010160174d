//! Multi-head (grouped-query) self-attention with `pattern` and `z` hook points.

use crate::config::{NormKind, TransformerConfig};
use crate::hooks::{self, BatchInfo, Hooks};
use crate::kernels::{self, Scaling};
use crate::kv_cache::LayerKv;
use crate::linear;
use crate::norm::Norm;
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
    /// RMSNorm over each query head before RoPE (Qwen3, Gemma 3).
    pub q_norm: Option<Norm>,
    /// RMSNorm over each key head before RoPE.
    pub k_norm: Option<Norm>,
    /// Factor of the query-key dot products; `1/sqrt(d_head)` when `None`.
    #[module(skip)]
    pub scale: Option<f64>,
    /// Scores pass through `cap * tanh(score / cap)` before the mask (Gemma 2).
    #[module(skip)]
    pub softcap: Option<f64>,
}

impl Attention {
    /// Fresh, randomly initialised attention.
    pub fn new(config: &TransformerConfig, device: &Device) -> Attention {
        let linear = |i, o, bias| LinearConfig::new(i, o).with_bias(bias).init(device);
        let (qkv_bias, o_bias) = (config.attention_bias.qkv(), config.attention_bias.output());
        let head_norm = || {
            config
                .options
                .qk_norm
                .then(|| Norm::new(NormKind::RmsNorm, config.d_head, config.norm_eps, device))
        };
        let (d, h, kv, dh) = (
            config.d_model,
            config.n_heads,
            config.n_kv_heads,
            config.d_head,
        );
        Attention {
            q: linear(d, h * dh, qkv_bias),
            k: linear(d, kv * dh, qkv_bias),
            v: linear(d, kv * dh, qkv_bias),
            o: linear(h * dh, d, o_bias),
            n_heads: h,
            n_kv_heads: kv,
            d_head: dh,
            q_norm: head_norm(),
            k_norm: head_norm(),
            scale: config.options.attn_scale,
            softcap: config.options.attn_softcap,
        }
    }

    /// Attention with the given projections (and head norms, where the config has them); the
    /// head counts, scale and soft-cap come from `config`.
    pub fn from_parts(
        config: &TransformerConfig,
        [q, k, v, o]: [Linear; 4],
        head_norms: Option<(Norm, Norm)>,
    ) -> Attention {
        let (q_norm, k_norm) = head_norms.unzip();
        Attention {
            q,
            k,
            v,
            o,
            n_heads: config.n_heads,
            n_kv_heads: config.n_kv_heads,
            d_head: config.d_head,
            q_norm,
            k_norm,
            scale: config.options.attn_scale,
            softcap: config.options.attn_softcap,
        }
    }

    /// Attention output before it joins the residual stream, `[batch, pos, d_model]`.
    ///
    /// `mask_bias` is `[batch, 1, pos, pos]`, 0 where a query may look and a large negative
    /// number where it may not (padding, the future for decoders, and what lies outside a
    /// sliding window). With a `cache`, the pass's keys and values join the cached ones and
    /// queries attend to every slot (`mask_bias` is then `[batch, 1, pos, slots]`).
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
        let [b, t, _] = x.dims();
        let (h, kv, dh) = (self.n_heads, self.n_kv_heads, self.d_head);
        let split = |y: Tensor<3>, heads: usize| y.reshape([b, t, heads, dh]).swap_dims(1, 2);
        let mut q = split(linear::tokens(&self.q, x.clone()), h);
        let mut k = split(linear::tokens(&self.k, x.clone()), kv);
        let mut v = split(linear::tokens(&self.v, x), kv);
        if let (Some(q_norm), Some(k_norm)) = (&self.q_norm, &self.k_norm) {
            q = q_norm.forward(q);
            k = k_norm.forward(k);
        }
        if let Some(rope) = rope {
            q = rope.apply(q);
            k = rope.apply(k);
        }
        if let Some(cache) = cache {
            (k, v) = cache.extend(k, v);
        }
        let z = if kernels::on_flex_f32(&[&q, &k, &v, &mask_bias]) {
            self.z_fused(q, k, v, mask_bias, layer, hooks, batch)
        } else {
            self.z_op_by_op(q, k, v, mask_bias, layer, hooks, batch)
        };
        let z = hooks::heads(hooks, Site::new(SitePoint::Z, layer), batch, z);
        linear::tokens(&self.o, z.reshape([b, t, h * dh]))
    }

    /// The mixed values `[batch, pos, heads, d_head]` through the CPU attention kernel, which
    /// materialises the pattern only when something hooks it.
    #[allow(clippy::too_many_arguments)]
    fn z_fused(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        mask_bias: Tensor<4>,
        layer: usize,
        hooks: &mut dyn Hooks,
        batch: &BatchInfo,
    ) -> Tensor<4> {
        let scaling = Scaling {
            factor: self.scale.unwrap_or(1.0 / (self.d_head as f64).sqrt()) as f32,
            softcap: self.softcap.map(|cap| cap as f32),
        };
        let site = Site::new(SitePoint::Pattern, layer);
        if hooks.wants(&site) {
            let pattern = kernels::attention_pattern(q, k, mask_bias, scaling);
            let pattern = hooks.visit_heads(&site, batch, pattern);
            kernels::attention_mix(pattern, v)
        } else {
            kernels::attention_z(q, k, v, mask_bias, scaling)
        }
    }

    /// The mixed values `[batch, pos, heads, d_head]` through burn's tensor ops (GPUs, and
    /// passes that record gradients).
    #[allow(clippy::too_many_arguments)]
    fn z_op_by_op(
        &self,
        q: Tensor<4>,
        mut k: Tensor<4>,
        mut v: Tensor<4>,
        mask_bias: Tensor<4>,
        layer: usize,
        hooks: &mut dyn Hooks,
        batch: &BatchInfo,
    ) -> Tensor<4> {
        let (h, kv, dh) = (self.n_heads, self.n_kv_heads, self.d_head);
        let [b, _, slots, _] = k.dims();
        if kv < h {
            let repeat = |y: Tensor<4>| {
                y.unsqueeze_dim::<5>(2)
                    .repeat_dim(2, h / kv)
                    .reshape([b, h, slots, dh])
            };
            k = repeat(k);
            v = repeat(v);
        }
        let scores = q.matmul(k.swap_dims(2, 3));
        let scores = match self.scale {
            Some(scale) => scores.mul_scalar(scale),
            None => scores.div_scalar((dh as f64).sqrt()),
        };
        let scores = match self.softcap {
            Some(cap) => scores.div_scalar(cap).tanh().mul_scalar(cap),
            None => scores,
        };
        let scores = scores + mask_bias;
        let pattern = softmax(scores, 3);
        let pattern = hooks::heads(hooks, Site::new(SitePoint::Pattern, layer), batch, pattern);
        pattern.matmul(v).swap_dims(1, 2)
    }
}
