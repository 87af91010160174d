//! The tensors of Llama, Mistral, Qwen2/3 and Gemma 2/3 folders: `model.embed_tokens`,
//! `model.layers.L.self_attn.{q,k,v,o}_proj` (with biases, q/k norms where the config has
//! them), `model.layers.L.mlp.{gate,up,down}_proj`, the layer norms, `model.norm`, `lm_head`.
//!
//! Llama-like blocks have `input_layernorm` before attention and `post_attention_layernorm`
//! before the MLP. Gemma's blocks have four: `input_layernorm`, `post_attention_layernorm`
//! (after attention), `pre_feedforward_layernorm` and `post_feedforward_layernorm`; Gemma
//! stores each RMSNorm's `w` and scales by `1 + w`, which is folded into the loaded scale.
//!
//! GGUF files of these families load through the same plan and builder, their tensors renamed
//! by [`crate::gguf_names`].

use super::build::Build;
use super::weights::{Plan, Tensors};
use crate::attention::Attention;
use crate::block::Block;
use crate::config::{OutputHead, TransformerConfig};
use crate::mlp::Mlp;
use crate::norm::Norm;
use crate::transformer::Transformer;

/// The tensor-name prefix of the body (`model.`, or `language_model.model.` in some
/// multimodal Gemma 3 files).
fn prefix(tensors: &Tensors) -> &'static str {
    ["model.", "language_model.model.", ""]
        .into_iter()
        .find(|p| tensors.has(&format!("{p}embed_tokens.weight")))
        .unwrap_or("model.")
}

/// Whether the config is Gemma's (norms around attention and MLP).
fn is_gemma(config: &TransformerConfig) -> bool {
    config.options.post_norms
}

/// The names of the norms of a block: before attention, before the MLP, and Gemma's after each.
fn norm_names(config: &TransformerConfig) -> ([&'static str; 2], Option<[&'static str; 2]>) {
    match is_gemma(config) {
        true => (
            ["input_layernorm", "pre_feedforward_layernorm"],
            Some(["post_attention_layernorm", "post_feedforward_layernorm"]),
        ),
        false => (["input_layernorm", "post_attention_layernorm"], None),
    }
}

/// Every tensor `config` needs, with its shape.
pub fn plan(tensors: &Tensors, config: &TransformerConfig) -> Plan {
    let p = prefix(tensors);
    let (d, m, vocab, dh) = (
        config.d_model,
        config.d_mlp,
        config.vocab_size,
        config.d_head,
    );
    let (q, kv) = (
        config.n_heads.saturating_mul(dh),
        config.n_kv_heads.saturating_mul(dh),
    );
    let mut plan = Plan::default();
    plan.need(format!("{p}embed_tokens.weight"), &[vocab, d]);
    let (pre, post) = norm_names(config);
    for layer in 0..config.n_layers {
        let name = |part: &str| format!("{p}layers.{layer}.{part}");
        for (part, rows, cols) in [
            ("self_attn.q_proj", q, d),
            ("self_attn.k_proj", kv, d),
            ("self_attn.v_proj", kv, d),
            ("self_attn.o_proj", d, q),
            ("mlp.gate_proj", m, d),
            ("mlp.up_proj", m, d),
            ("mlp.down_proj", d, m),
        ] {
            plan.need(name(&format!("{part}.weight")), &[rows, cols]);
            let biased = match part {
                "self_attn.o_proj" => config.attention_bias.output(),
                p if p.starts_with("self_attn") => config.attention_bias.qkv(),
                _ => config.mlp_bias,
            };
            if biased {
                plan.need(name(&format!("{part}.bias")), &[rows]);
            }
        }
        if config.options.qk_norm {
            plan.need(name("self_attn.q_norm.weight"), &[dh]);
            plan.need(name("self_attn.k_norm.weight"), &[dh]);
        }
        for norm in pre.iter().chain(post.iter().flatten()) {
            plan.need(name(&format!("{norm}.weight")), &[d]);
        }
    }
    plan.need(format!("{p}norm.weight"), &[d]);
    if config.head == (OutputHead::LanguageModel { tied: false }) {
        plan.need("lm_head.weight", &[vocab, d]);
    }
    plan
}

/// Buffers of older files (rotary frequencies) and a saved copy of a tied unembedding.
pub fn ignorable(name: &str) -> bool {
    name.ends_with("rotary_emb.inv_freq") || name == "lm_head.weight"
}

/// The model, from tensors `plan` has checked.
pub fn build(b: &Build, config: TransformerConfig) -> Result<Transformer, String> {
    let p = prefix(b.tensors);
    let (d, m, vocab, dh) = (
        config.d_model,
        config.d_mlp,
        config.vocab_size,
        config.d_head,
    );
    let (q_width, kv_width) = (config.n_heads * dh, config.n_kv_heads * dh);
    let offset = match is_gemma(&config) && !b.norms_hold_one {
        true => 1.0,
        false => 0.0,
    };
    let eps = config.norm_eps;
    let norm = |name: &str, width| b.norm(&format!("{name}.weight"), None, width, eps, offset);
    let (pre, post) = norm_names(&config);
    let mut blocks = Vec::with_capacity(config.n_layers);
    for layer in 0..config.n_layers {
        let name = |part: &str| format!("{p}layers.{layer}.{part}");
        let linear = |part: &str, biased: bool, d_in, d_out| {
            let bias = name(&format!("{part}.bias"));
            b.linear(
                &name(&format!("{part}.weight")),
                biased.then_some(bias.as_str()),
                d_in,
                d_out,
            )
        };
        let (qkv_bias, o_bias) = (config.attention_bias.qkv(), config.attention_bias.output());
        let projections = [
            linear("self_attn.q_proj", qkv_bias, d, q_width)?,
            linear("self_attn.k_proj", qkv_bias, d, kv_width)?,
            linear("self_attn.v_proj", qkv_bias, d, kv_width)?,
            linear("self_attn.o_proj", o_bias, q_width, d)?,
        ];
        let head_norms = match config.options.qk_norm {
            true => Some((
                norm(&name("self_attn.q_norm"), dh)?,
                norm(&name("self_attn.k_norm"), dh)?,
            )),
            false => None,
        };
        let attn = Attention::from_parts(&config, projections, head_norms);
        let mlp = Mlp {
            up: linear("mlp.up_proj", config.mlp_bias, d, m)?,
            gate: Some(linear("mlp.gate_proj", config.mlp_bias, d, m)?),
            down: linear("mlp.down_proj", config.mlp_bias, m, d)?,
            activation: config.activation,
        };
        let norms = [norm(&name(pre[0]), d)?, norm(&name(pre[1]), d)?];
        let post_norms: Option<(Norm, Norm)> = match post {
            Some([attn_post, mlp_post]) => {
                Some((norm(&name(attn_post), d)?, norm(&name(mlp_post), d)?))
            }
            None => None,
        };
        blocks.push(Block::from_parts(&config, attn, mlp, norms, post_norms));
    }
    let head = match config.head {
        OutputHead::LanguageModel { tied: false } => {
            Some(b.linear("lm_head.weight", None, d, vocab)?)
        }
        _ => None,
    };
    Ok(Transformer {
        token_embedding: b.embedding(&format!("{p}embed_tokens.weight"), vocab, d)?,
        position_embedding: None,
        embed_norm: None,
        blocks,
        final_norm: Some(norm(&format!("{p}norm"), d)?),
        head,
        config,
    })
}
