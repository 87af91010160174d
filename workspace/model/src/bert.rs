//! BERT-family encoders from a Hugging Face folder: `config.json`, `model.safetensors` and
//! `tokenizer.json` (as in sentence-transformers' all-MiniLM-L6-v2).
//!
//! The blocks are post-norm with biases and exact GELU. cavern feeds single texts, so every
//! token has segment (token type) 0: its embedding row is added to the position embeddings at
//! load, which computes exactly what BERT computes for one segment. The model's output is the
//! sentence embedding: the mean of the final hidden states over real tokens, L2-normalised.
//! The pooler (`pooler.dense`) and any task heads in the file are not loaded.

use crate::attention::Attention;
use crate::block::Block;
use crate::config::{
    Architecture, AttentionBias, FamilyOptions, MlpActivation, NormKind, OutputHead, Positions,
    TransformerConfig,
};
use crate::error::ModelError;
use crate::hf::build::Build;
use crate::hf::weights::{Plan, Tensors};
use crate::mlp::Mlp;
use crate::transformer::Transformer;
use burn::module::Param;
use burn::nn::Embedding;
use serde::Deserialize;
use std::path::Path;

/// The fields of a Hugging Face `config.json` that a BERT encoder needs.
#[derive(Debug, Deserialize)]
struct HfBertConfig {
    model_type: Option<String>,
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    intermediate_size: usize,
    hidden_act: String,
    layer_norm_eps: f64,
    max_position_embeddings: usize,
    pad_token_id: Option<u32>,
    position_embedding_type: Option<String>,
}

/// Reads a BERT [`TransformerConfig`] from the bytes of `config.json` (named `file` in errors).
///
/// Refuses what the hooked transformer does not compute: relative position embeddings and
/// activations other than exact GELU and ReLU.
pub fn config_from_json(bytes: &[u8], file: &Path) -> Result<TransformerConfig, ModelError> {
    let fail = |detail: String| checkpoint_error(file, detail);
    let hf: HfBertConfig =
        serde_json::from_slice(bytes).map_err(|e| fail(format!("not a BERT config.json: {e}")))?;
    if let Some(kind) = hf.model_type.as_deref().filter(|k| !BERT_TYPES.contains(k)) {
        return Err(fail(format!(
            "model_type is {kind:?}; the BERT loader reads {}",
            BERT_TYPES.join(", ")
        )));
    }
    if let Some(kind) = hf
        .position_embedding_type
        .as_deref()
        .filter(|k| *k != "absolute")
    {
        return Err(fail(format!(
            "position_embedding_type {kind:?} is not supported (only \"absolute\")"
        )));
    }
    let activation = match hf.hidden_act.as_str() {
        "gelu" => MlpActivation::Gelu,
        "relu" => MlpActivation::Relu,
        other => {
            return Err(fail(format!(
                "hidden_act {other:?} is not supported (\"gelu\" or \"relu\")"
            )));
        }
    };
    let n_heads = hf.num_attention_heads;
    if n_heads == 0 || !hf.hidden_size.is_multiple_of(n_heads) {
        return Err(fail(format!(
            "hidden_size ({}) is not a multiple of num_attention_heads ({n_heads})",
            hf.hidden_size
        )));
    }
    let config = TransformerConfig {
        architecture: Architecture::PostNormEncoder,
        vocab_size: hf.vocab_size,
        d_model: hf.hidden_size,
        n_layers: hf.num_hidden_layers,
        n_heads,
        n_kv_heads: n_heads,
        d_head: hf.hidden_size / n_heads,
        d_mlp: hf.intermediate_size,
        norm: NormKind::LayerNorm,
        norm_eps: hf.layer_norm_eps,
        positions: Positions::Learned {
            max_len: hf.max_position_embeddings,
        },
        activation,
        attention_bias: AttentionBias::All,
        mlp_bias: true,
        head: OutputHead::SentenceEmbedding,
        pad_id: hf.pad_token_id.unwrap_or(0),
        options: FamilyOptions::default(),
    };
    config
        .check()
        .map_err(|e| fail(format!("describes an invalid model: {e}")))?;
    Ok(config)
}

/// `model_type` values of the BERT family.
const BERT_TYPES: [&str; 1] = ["bert"];

/// The tensor-name prefix the file uses (`bert.` in files saved with a task head).
fn prefix(tensors: &Tensors) -> &'static str {
    match tensors.names().iter().any(|n| n.starts_with("bert.")) {
        true => "bert.",
        false => "",
    }
}

/// The names of a LayerNorm's scale and shift: `weight`/`bias`, or `gamma`/`beta` in older files.
fn layer_norm_names(tensors: &Tensors, name: &str) -> [String; 2] {
    match tensors.has(&format!("{name}.gamma")) {
        true => [format!("{name}.gamma"), format!("{name}.beta")],
        false => [format!("{name}.weight"), format!("{name}.bias")],
    }
}

/// The tensors a BERT configuration needs (the pooler and task heads are not among them).
pub fn plan(tensors: &Tensors, config: &TransformerConfig) -> Plan {
    let p = prefix(tensors);
    let (d, m, vocab) = (config.d_model, config.d_mlp, config.vocab_size);
    let mut plan = Plan::default();
    plan.need(format!("{p}embeddings.word_embeddings.weight"), &[vocab, d]);
    let max_len = config.max_len().unwrap_or(0);
    plan.need(
        format!("{p}embeddings.position_embeddings.weight"),
        &[max_len, d],
    );
    let types = format!("{p}embeddings.token_type_embeddings.weight");
    if let Some(rows) = tensors.shape(&types).and_then(|s| s.first().copied()) {
        plan.need(types, &[rows.max(1), d]);
    }
    let layer_norm = |plan: &mut Plan, name: &str| {
        for part in layer_norm_names(tensors, name) {
            plan.need(part, &[d]);
        }
    };
    layer_norm(&mut plan, &format!("{p}embeddings.LayerNorm"));
    for layer in 0..config.n_layers {
        let name = |part: &str| format!("{p}encoder.layer.{layer}.{part}");
        for (part, d_in, d_out) in [
            ("attention.self.query", d, d),
            ("attention.self.key", d, d),
            ("attention.self.value", d, d),
            ("attention.output.dense", d, d),
            ("intermediate.dense", d, m),
            ("output.dense", m, d),
        ] {
            plan.need(name(&format!("{part}.weight")), &[d_out, d_in]);
            plan.need(name(&format!("{part}.bias")), &[d_out]);
        }
        layer_norm(&mut plan, &name("attention.output.LayerNorm"));
        layer_norm(&mut plan, &name("output.LayerNorm"));
    }
    plan
}

/// The encoder, from tensors [`plan`] has checked. Segment 0's token-type embedding is added to
/// the position embeddings (cavern feeds single texts).
pub fn build(b: &Build, config: TransformerConfig) -> Result<Transformer, String> {
    let p = prefix(b.tensors);
    let (d, m, vocab) = (config.d_model, config.d_mlp, config.vocab_size);
    let max_len = config.max_len().unwrap_or(0);
    let mut positions = b.values(&format!("{p}embeddings.position_embeddings.weight"))?;
    let types = format!("{p}embeddings.token_type_embeddings.weight");
    if b.tensors.has(&types) {
        let types = b.values(&types)?;
        for row in positions.chunks_exact_mut(d) {
            row.iter_mut().zip(&types[..d]).for_each(|(p, t)| *p += t);
        }
    }
    let layer_norm = |name: &str| {
        let [scale, shift] = layer_norm_names(b.tensors, name);
        b.norm(&scale, Some(&shift), d, config.norm_eps, 0.0)
    };
    let mut blocks = Vec::with_capacity(config.n_layers);
    for layer in 0..config.n_layers {
        let name = |part: &str| format!("{p}encoder.layer.{layer}.{part}");
        let linear = |part: &str, d_in, d_out| {
            let bias = name(&format!("{part}.bias"));
            b.linear(&name(&format!("{part}.weight")), Some(&bias), d_in, d_out)
        };
        let projections = [
            linear("attention.self.query", d, d)?,
            linear("attention.self.key", d, d)?,
            linear("attention.self.value", d, d)?,
            linear("attention.output.dense", d, d)?,
        ];
        let mlp = Mlp {
            up: linear("intermediate.dense", d, m)?,
            gate: None,
            down: linear("output.dense", m, d)?,
            activation: config.activation,
        };
        let norms = [
            layer_norm(&name("attention.output.LayerNorm"))?,
            layer_norm(&name("output.LayerNorm"))?,
        ];
        let attn = Attention::from_parts(&config, projections, None);
        blocks.push(Block::from_parts(&config, attn, mlp, norms, None));
    }
    Ok(Transformer {
        token_embedding: b.embedding(&format!("{p}embeddings.word_embeddings.weight"), vocab, d)?,
        position_embedding: Some(Embedding {
            weight: Param::from_tensor(b.tensor(positions, [max_len, d])),
        }),
        embed_norm: Some(layer_norm(&format!("{p}embeddings.LayerNorm"))?),
        blocks,
        final_norm: None,
        head: None,
        config,
    })
}

fn checkpoint_error(file: &Path, detail: String) -> ModelError {
    ModelError::Checkpoint {
        name: "bert".into(),
        file: file.display().to_string(),
        detail,
    }
}
