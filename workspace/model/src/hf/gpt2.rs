//! GPT-2's tensors: `wte`, `wpe`, `h.L.{ln_1, attn.c_attn, attn.c_proj, ln_2, mlp.c_fc,
//! mlp.c_proj}`, `ln_f`, with or without a `transformer.` prefix.
//!
//! GPT-2 stores its linear maps as Conv1D weights, `(d_in, d_out)`, which is burn's layout;
//! `c_attn` holds the query, key and value maps side by side along `d_out`.

use super::build::Build;
use super::weights::{Plan, Tensors};
use crate::attention::Attention;
use crate::block::Block;
use crate::config::{OutputHead, TransformerConfig};
use crate::mlp::Mlp;
use crate::transformer::Transformer;

/// The tensor-name prefix the file uses.
fn prefix(tensors: &Tensors) -> &'static str {
    match tensors.has("transformer.wte.weight") {
        true => "transformer.",
        false => "",
    }
}

/// Every tensor `config` needs, with its shape.
pub fn plan(tensors: &Tensors, config: &TransformerConfig) -> Plan {
    let p = prefix(tensors);
    let (d, m, vocab) = (config.d_model, config.d_mlp, config.vocab_size);
    let mut plan = Plan::default();
    plan.need(format!("{p}wte.weight"), &[vocab, d]);
    plan.need(
        format!("{p}wpe.weight"),
        &[config.max_len().unwrap_or(0), d],
    );
    for layer in 0..config.n_layers {
        let name = |part: &str| format!("{p}h.{layer}.{part}");
        for (part, shape) in [
            ("ln_1.weight", vec![d]),
            ("ln_1.bias", vec![d]),
            ("attn.c_attn.weight", vec![d, d.saturating_mul(3)]),
            ("attn.c_attn.bias", vec![d.saturating_mul(3)]),
            ("attn.c_proj.weight", vec![d, d]),
            ("attn.c_proj.bias", vec![d]),
            ("ln_2.weight", vec![d]),
            ("ln_2.bias", vec![d]),
            ("mlp.c_fc.weight", vec![d, m]),
            ("mlp.c_fc.bias", vec![m]),
            ("mlp.c_proj.weight", vec![m, d]),
            ("mlp.c_proj.bias", vec![d]),
        ] {
            plan.need(name(part), &shape);
        }
    }
    plan.need(format!("{p}ln_f.weight"), &[d]);
    plan.need(format!("{p}ln_f.bias"), &[d]);
    if config.head == (OutputHead::LanguageModel { tied: false }) {
        plan.need("lm_head.weight", &[vocab, d]);
    }
    plan
}

/// Tensors a GPT-2 file may hold that compute nothing: the causal-mask buffers of older
/// files, and a saved copy of the tied unembedding.
pub fn ignorable(name: &str) -> bool {
    name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias") || name == "lm_head.weight"
}

/// The model, from tensors `plan` has checked.
pub fn build(b: &Build, config: TransformerConfig) -> Result<Transformer, String> {
    let p = prefix(b.tensors);
    let (d, m, vocab) = (config.d_model, config.d_mlp, config.vocab_size);
    let eps = config.norm_eps;
    let norm = |name: &str| {
        b.norm(
            &format!("{name}.weight"),
            Some(&format!("{name}.bias")),
            d,
            eps,
            0.0,
        )
    };
    let conv1d = |name: &str, d_in: usize, d_out: usize| -> Result<_, String> {
        let weight = b.values(&format!("{name}.weight"))?;
        let bias = b.values(&format!("{name}.bias"))?;
        Ok(b.linear_from(weight, Some(bias), d_in, d_out))
    };
    let mut blocks = Vec::with_capacity(config.n_layers);
    for layer in 0..config.n_layers {
        let name = |part: &str| format!("{p}h.{layer}.{part}");
        let fused = b.values(&name("attn.c_attn.weight"))?;
        let fused_bias = b.values(&name("attn.c_attn.bias"))?;
        let [q, k, v] = [0, 1, 2].map(|i| {
            let weight = fused
                .chunks_exact(3 * d)
                .flat_map(|row| &row[i * d..(i + 1) * d])
                .copied()
                .collect();
            let bias = fused_bias[i * d..(i + 1) * d].to_vec();
            b.linear_from(weight, Some(bias), d, d)
        });
        let o = conv1d(&name("attn.c_proj"), d, d)?;
        let mlp = Mlp {
            up: conv1d(&name("mlp.c_fc"), d, m)?,
            gate: None,
            down: conv1d(&name("mlp.c_proj"), m, d)?,
            activation: config.activation,
        };
        let attn = Attention::from_parts(&config, [q, k, v, o], None);
        let norms = [norm(&name("ln_1"))?, norm(&name("ln_2"))?];
        blocks.push(Block::from_parts(&config, attn, mlp, norms, None));
    }
    let head = match config.head {
        OutputHead::LanguageModel { tied: false } => {
            Some(b.linear("lm_head.weight", None, d, vocab)?)
        }
        _ => None,
    };
    Ok(Transformer {
        token_embedding: b.embedding(&format!("{p}wte.weight"), vocab, d)?,
        position_embedding: Some(b.embedding(
            &format!("{p}wpe.weight"),
            config.max_len().unwrap_or(0),
            d,
        )?),
        embed_norm: None,
        blocks,
        final_norm: Some(norm(&format!("{p}ln_f"))?),
        head,
        config,
    })
}
