//! GPT-NeoX's (Pythia's) tensors: `gpt_neox.embed_in`, `gpt_neox.layers.L.{input_layernorm,
//! attention.query_key_value, attention.dense, post_attention_layernorm, mlp.dense_h_to_4h,
//! mlp.dense_4h_to_h}`, `gpt_neox.final_layer_norm`, `embed_out`.
//!
//! The fused `query_key_value` rows are grouped per head: head `i` owns rows
//! `3·i·d_head ..`, its query, then its key, then its value.

use super::build::Build;
use super::weights::{Plan, Tensors, transpose};
use crate::attention::Attention;
use crate::block::Block;
use crate::config::{OutputHead, TransformerConfig};
use crate::mlp::Mlp;
use crate::transformer::Transformer;

/// The tensor-name prefix of the body.
fn prefix(tensors: &Tensors) -> &'static str {
    match tensors.has("gpt_neox.embed_in.weight") {
        true => "gpt_neox.",
        false => "",
    }
}

/// Every tensor `config` needs, with its shape.
pub fn plan(tensors: &Tensors, config: &TransformerConfig) -> Plan {
    let p = prefix(tensors);
    let (d, m, vocab) = (config.d_model, config.d_mlp, config.vocab_size);
    let bias = config.attention_bias.qkv();
    let mut plan = Plan::default();
    plan.need(format!("{p}embed_in.weight"), &[vocab, d]);
    for layer in 0..config.n_layers {
        let name = |part: &str| format!("{p}layers.{layer}.{part}");
        let mut parts = vec![
            ("input_layernorm.weight", vec![d]),
            ("input_layernorm.bias", vec![d]),
            (
                "attention.query_key_value.weight",
                vec![d.saturating_mul(3), d],
            ),
            ("attention.dense.weight", vec![d, d]),
            ("post_attention_layernorm.weight", vec![d]),
            ("post_attention_layernorm.bias", vec![d]),
            ("mlp.dense_h_to_4h.weight", vec![m, d]),
            ("mlp.dense_h_to_4h.bias", vec![m]),
            ("mlp.dense_4h_to_h.weight", vec![d, m]),
            ("mlp.dense_4h_to_h.bias", vec![d]),
        ];
        if bias {
            parts.push(("attention.query_key_value.bias", vec![d.saturating_mul(3)]));
            parts.push(("attention.dense.bias", vec![d]));
        }
        for (part, shape) in parts {
            plan.need(name(part), &shape);
        }
    }
    plan.need(format!("{p}final_layer_norm.weight"), &[d]);
    plan.need(format!("{p}final_layer_norm.bias"), &[d]);
    if config.head == (OutputHead::LanguageModel { tied: false }) {
        plan.need("embed_out.weight", &[vocab, d]);
    }
    plan
}

/// Buffers of older files: the causal mask and the rotary frequencies.
pub fn ignorable(name: &str) -> bool {
    name.ends_with(".attention.bias")
        || name.ends_with(".attention.masked_bias")
        || name.ends_with("rotary_emb.inv_freq")
}

/// Splits the fused per-head `(3·d, d)` rows (and bias) into query, key and value rows.
pub fn split_heads(fused: &[f32], row_len: usize, d_head: usize) -> [Vec<f32>; 3] {
    let mut parts = [Vec::new(), Vec::new(), Vec::new()];
    for (i, head_rows) in fused.chunks_exact(d_head * row_len).enumerate() {
        parts[i % 3].extend_from_slice(head_rows);
    }
    parts
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
    let eps = config.norm_eps;
    let bias = config.attention_bias.qkv();
    let norm = |name: &str| {
        b.norm(
            &format!("{name}.weight"),
            Some(&format!("{name}.bias")),
            d,
            eps,
            0.0,
        )
    };
    let linear = |name: &str, with_bias: bool, d_in, d_out| {
        let bias = format!("{name}.bias");
        b.linear(
            &format!("{name}.weight"),
            with_bias.then_some(bias.as_str()),
            d_in,
            d_out,
        )
    };
    let mut blocks = Vec::with_capacity(config.n_layers);
    for layer in 0..config.n_layers {
        let name = |part: &str| format!("{p}layers.{layer}.{part}");
        let weights = split_heads(&b.values(&name("attention.query_key_value.weight"))?, d, dh);
        let biases = match bias {
            true => Some(split_heads(
                &b.values(&name("attention.query_key_value.bias"))?,
                1,
                dh,
            )),
            false => None,
        };
        let part = |i: usize| {
            let bias = biases.as_ref().map(|b| b[i].clone());
            b.linear_from(transpose(&weights[i], d, d), bias, d, d)
        };
        let [q, k, v] = [part(0), part(1), part(2)];
        let o = linear(&name("attention.dense"), bias, d, d)?;
        let mlp = Mlp {
            up: linear(&name("mlp.dense_h_to_4h"), true, d, m)?,
            gate: None,
            down: linear(&name("mlp.dense_4h_to_h"), true, m, d)?,
            activation: config.activation,
        };
        let attn = Attention::from_parts(&config, [q, k, v, o], None);
        let norms = [
            norm(&name("input_layernorm"))?,
            norm(&name("post_attention_layernorm"))?,
        ];
        blocks.push(Block::from_parts(&config, attn, mlp, norms, None));
    }
    let head = match config.head {
        OutputHead::LanguageModel { tied: false } => {
            Some(b.linear("embed_out.weight", None, d, vocab)?)
        }
        _ => None,
    };
    Ok(Transformer {
        token_embedding: b.embedding(&format!("{p}embed_in.weight"), vocab, d)?,
        position_embedding: None,
        embed_norm: None,
        blocks,
        final_norm: Some(norm(&format!("{p}final_layer_norm"))?),
        head,
        config,
    })
}

#[cfg(test)]
mod tests {
    use super::split_heads;

    #[test]
    fn fused_rows_are_grouped_per_head() {
        // Two heads of width 1, rows of length 1: q0 k0 v0 q1 k1 v1.
        let [q, k, v] = split_heads(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 1, 1);
        assert_eq!((q, k, v), (vec![1.0, 4.0], vec![2.0, 5.0], vec![3.0, 6.0]));
    }
}
