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
use crate::gguf::dequant::{bf16_le, f16_le};
use crate::mlp::Mlp;
use crate::norm::Norm;
use crate::tokenizer::HfTokenizer;
use crate::transformer::Transformer;
use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::{Device, Tensor, TensorData};
use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// The three files of a BERT folder.
#[derive(Debug, Clone)]
pub struct BertFiles {
    /// `config.json`.
    pub config: PathBuf,
    /// `model.safetensors`.
    pub weights: PathBuf,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
}

impl BertFiles {
    /// The standard file names inside `dir`.
    pub fn in_dir(dir: &Path) -> BertFiles {
        BertFiles {
            config: dir.join("config.json"),
            weights: dir.join("model.safetensors"),
            tokenizer: dir.join("tokenizer.json"),
        }
    }
}

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

/// Loads a BERT folder onto `device`: the encoder and its tokenizer.
pub fn load_bert(
    files: &BertFiles,
    device: &Device,
) -> Result<(Transformer, HfTokenizer), ModelError> {
    let config = config_from_json(&read(&files.config)?, &files.config)?;
    let tokenizer = HfTokenizer::from_file(&files.tokenizer)?;
    let weights = read(&files.weights)?;
    let transformer = load_bert_weights(&weights, config, &files.weights, device)?;
    Ok((transformer, tokenizer))
}

/// Builds the encoder from the bytes of a `model.safetensors` (named `file` in errors).
///
/// Accepts tensor names with or without a `bert.` prefix and LayerNorm parameters named
/// `weight`/`bias` or `gamma`/`beta`, stored as F32, F16 or BF16. Every missing or misshapen
/// tensor is reported together.
pub fn load_bert_weights(
    bytes: &[u8],
    config: TransformerConfig,
    file: &Path,
    device: &Device,
) -> Result<Transformer, ModelError> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| {
        checkpoint_error(
            file,
            format!("not a valid safetensors file (corrupt or truncated?): {e}"),
        )
    })?;
    let prefix = if tensors.names().iter().any(|n| n.starts_with("bert.")) {
        "bert."
    } else {
        ""
    };
    let mut loader = Loader {
        tensors: &tensors,
        prefix,
        device,
        problems: Vec::new(),
    };
    let transformer = loader.transformer(config);
    match loader.problems.is_empty() {
        true => Ok(transformer),
        false => Err(checkpoint_error(file, loader.problems.join("; "))),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn checkpoint_error(file: &Path, detail: String) -> ModelError {
    ModelError::Checkpoint {
        name: "bert".into(),
        file: file.display().to_string(),
        detail,
    }
}

/// Reads tensors, collecting problems instead of stopping at the first (a missing tensor loads
/// as zeros so that the rest can still be checked; the result is discarded then).
struct Loader<'a> {
    tensors: &'a SafeTensors<'a>,
    prefix: &'a str,
    device: &'a Device,
    problems: Vec<String>,
}

impl Loader<'_> {
    fn transformer(&mut self, config: TransformerConfig) -> Transformer {
        let (d, vocab) = (config.d_model, config.vocab_size);
        let max_len = config.max_len().unwrap_or(0);
        let token = self.values("embeddings.word_embeddings.weight", &[vocab, d]);
        let mut positions = self.values("embeddings.position_embeddings.weight", &[max_len, d]);
        if self.has("embeddings.token_type_embeddings.weight") {
            let types = self.values_any_rows("embeddings.token_type_embeddings.weight", d);
            for row in positions.chunks_exact_mut(d) {
                row.iter_mut().zip(&types[..d]).for_each(|(p, t)| *p += t);
            }
        }
        let blocks = (0..config.n_layers)
            .map(|layer| self.block(&config, layer))
            .collect();
        Transformer {
            token_embedding: Embedding {
                weight: Param::from_tensor(self.tensor(token, [vocab, d])),
            },
            position_embedding: Some(Embedding {
                weight: Param::from_tensor(self.tensor(positions, [max_len, d])),
            }),
            embed_norm: Some(self.layer_norm("embeddings.LayerNorm", &config)),
            blocks,
            final_norm: None,
            head: None,
            config,
        }
    }

    fn block(&mut self, config: &TransformerConfig, layer: usize) -> Block {
        let (d, m) = (config.d_model, config.d_mlp);
        let part = |name: &str| format!("encoder.layer.{layer}.{name}");
        let attn = Attention {
            q: self.linear(&part("attention.self.query"), d, d),
            k: self.linear(&part("attention.self.key"), d, d),
            v: self.linear(&part("attention.self.value"), d, d),
            o: self.linear(&part("attention.output.dense"), d, d),
            n_heads: config.n_heads,
            n_kv_heads: config.n_kv_heads,
            d_head: config.d_head,
            q_norm: None,
            k_norm: None,
            scale: None,
            softcap: None,
        };
        let mlp = Mlp {
            up: self.linear(&part("intermediate.dense"), d, m),
            gate: None,
            down: self.linear(&part("output.dense"), m, d),
            activation: config.activation,
        };
        Block {
            attn,
            mlp,
            norm1: self.layer_norm(&part("attention.output.LayerNorm"), config),
            norm2: self.layer_norm(&part("output.LayerNorm"), config),
            post_attn_norm: None,
            post_mlp_norm: None,
            pre_norm: false,
            parallel: false,
        }
    }

    /// A linear map from `d_in` to `d_out` with bias; burn's weight is the transpose of the
    /// stored PyTorch `(d_out, d_in)` matrix.
    fn linear(&mut self, name: &str, d_in: usize, d_out: usize) -> Linear {
        let stored = self.values(&format!("{name}.weight"), &[d_out, d_in]);
        let mut weight = vec![0.0; stored.len()];
        for (row, values) in stored.chunks_exact(d_in.max(1)).enumerate() {
            for (col, &v) in values.iter().enumerate() {
                weight[col * d_out + row] = v;
            }
        }
        let bias = self.values(&format!("{name}.bias"), &[d_out]);
        Linear {
            weight: Param::from_tensor(self.tensor(weight, [d_in, d_out])),
            bias: Some(Param::from_tensor(self.tensor(bias, [d_out]))),
        }
    }

    /// A LayerNorm stored as `weight`/`bias` or, in older files, `gamma`/`beta`.
    fn layer_norm(&mut self, name: &str, config: &TransformerConfig) -> Norm {
        let d = config.d_model;
        let (scale, shift) = match self.has(&format!("{name}.gamma")) {
            true => ("gamma", "beta"),
            false => ("weight", "bias"),
        };
        let weight = self.values(&format!("{name}.{scale}"), &[d]);
        let bias = self.values(&format!("{name}.{shift}"), &[d]);
        Norm {
            weight: Param::from_tensor(self.tensor(weight, [d])),
            bias: Some(Param::from_tensor(self.tensor(bias, [d]))),
            eps: config.norm_eps,
            rms: false,
        }
    }

    fn tensor<const D: usize>(&self, values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        Tensor::from_data(TensorData::new(values, shape), self.device)
    }

    fn has(&self, name: &str) -> bool {
        self.tensors
            .tensor(&format!("{}{name}", self.prefix))
            .is_ok()
    }

    /// A tensor of any row count with rows of width `d` (zeros, recorded as a problem, if absent).
    fn values_any_rows(&mut self, name: &str, d: usize) -> Vec<f32> {
        let rows = self
            .tensors
            .tensor(&format!("{}{name}", self.prefix))
            .map(|t| t.shape().first().copied().unwrap_or(0))
            .unwrap_or(0);
        self.values(name, &[rows.max(1), d])
    }

    /// Tensor `name` as `f32`, checked to have `shape` (zeros, recorded as a problem, if not).
    fn values(&mut self, name: &str, shape: &[usize]) -> Vec<f32> {
        let len = shape.iter().product();
        let full = format!("{}{name}", self.prefix);
        let view = match self.tensors.tensor(&full) {
            Ok(view) => view,
            Err(_) => {
                self.problems.push(format!("tensor `{full}` is missing"));
                return vec![0.0; len];
            }
        };
        if view.shape() != shape {
            self.problems.push(format!(
                "tensor `{full}` has shape {:?} where the config implies {shape:?}",
                view.shape()
            ));
            return vec![0.0; len];
        }
        let data = view.data();
        match view.dtype() {
            Dtype::F32 => data
                .as_chunks::<4>()
                .0
                .iter()
                .map(|b| f32::from_le_bytes(*b))
                .collect(),
            Dtype::F16 => data.as_chunks::<2>().0.iter().map(|b| f16_le(*b)).collect(),
            Dtype::BF16 => data
                .as_chunks::<2>()
                .0
                .iter()
                .map(|b| bf16_le(*b))
                .collect(),
            other => {
                self.problems.push(format!(
                    "tensor `{full}` is {other:?}; cavern reads F32, F16 and BF16"
                ));
                vec![0.0; len]
            }
        }
    }
}
