//! Llama-family models from GGUF files in llama.cpp's layout: the configuration from the
//! metadata, the weights dequantised to `f32`.
//!
//! Tensor names and metadata keys are llama.cpp's (`token_embd.weight`,
//! `blk.N.attn_q.weight`, `llama.block_count`, ...). llama.cpp's converter permutes the rows of
//! each query and key head so that rotating adjacent pairs `(x[2i], x[2i+1])` reproduces Hugging
//! Face's rotate-half RoPE; cavern's [`Rope`](crate::rope::Rope) rotates adjacent pairs too, so
//! the query and key weights load as they are stored.
//!
//! Loading is independent of tokenization: the vocabulary is only counted, never read.

use crate::attention::Attention;
use crate::block::Block;
use crate::config::{
    Architecture, AttentionBias, FamilyOptions, MlpActivation, NormKind, OutputHead, Positions,
    RopeConfig, RopeLayout, TransformerConfig,
};
use crate::error::ModelError;
use crate::gguf::{GgufFile, MetaValue};
use crate::hf::weights::{check_finite, transpose};
use crate::mlp::Mlp;
use crate::norm::Norm;
use crate::transformer::Transformer;
use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::{Device, Tensor, TensorData};

/// The only `general.architecture` this module loads.
const ARCHITECTURE: &str = "llama";

/// RoPE base frequency when `llama.rope.freq_base` is absent (llama.cpp's default).
const DEFAULT_ROPE_BASE: f64 = 10_000.0;

/// Reads a Llama [`TransformerConfig`] from a GGUF file's metadata.
///
/// Needs `general.architecture` = `"llama"` and the keys `llama.block_count`,
/// `llama.embedding_length`, `llama.attention.head_count`, `llama.feed_forward_length` and
/// `llama.attention.layer_norm_rms_epsilon`; `llama.attention.head_count_kv` defaults to the
/// head count and `llama.rope.freq_base` to 10000. The vocabulary size is the length of
/// `tokenizer.ggml.tokens` (or, without it, `llama.vocab_size` or the rows of
/// `token_embd.weight`); the pad id is `tokenizer.ggml.padding_token_id`, else
/// `tokenizer.ggml.eos_token_id`, else 0. The head is tied unless the file has `output.weight`.
///
/// Refuses features the hooked transformer does not implement (partial rotary dimensions, RoPE
/// scaling, mixtures of experts) rather than loading a model that computes something else.
pub fn config_from_gguf(file: &GgufFile) -> Result<TransformerConfig, ModelError> {
    check_architecture(file)?;
    let meta = Meta { file };
    let d_model = meta.usize("llama.embedding_length")?;
    let n_heads = meta.usize("llama.attention.head_count")?;
    if n_heads == 0 || !d_model.is_multiple_of(n_heads) {
        return Err(fail(
            file,
            format!(
                "llama.embedding_length ({d_model}) is not a multiple of \
                 llama.attention.head_count ({n_heads})"
            ),
        ));
    }
    let d_head = d_model / n_heads;
    check_unsupported(file, d_head)?;
    let vocab_size = vocab_size(file)?;
    let config = TransformerConfig {
        architecture: Architecture::PreNormDecoder,
        vocab_size,
        d_model,
        n_layers: meta.usize("llama.block_count")?,
        n_heads,
        n_kv_heads: meta
            .optional_usize("llama.attention.head_count_kv")?
            .unwrap_or(n_heads),
        d_head,
        d_mlp: meta.usize("llama.feed_forward_length")?,
        norm: NormKind::RmsNorm,
        norm_eps: meta.f64("llama.attention.layer_norm_rms_epsilon")?,
        positions: Positions::Rope(RopeConfig::new(
            meta.optional_f64("llama.rope.freq_base")?
                .unwrap_or(DEFAULT_ROPE_BASE) as f32,
            RopeLayout::AdjacentPairs,
        )),
        activation: MlpActivation::SwiGlu,
        attention_bias: AttentionBias::None,
        mlp_bias: false,
        head: OutputHead::LanguageModel {
            tied: file.tensor("output.weight").is_none(),
        },
        pad_id: pad_id(&meta)?,
        options: FamilyOptions::default(),
    };
    config
        .check()
        .map_err(|e| fail(file, format!("the metadata describe an invalid model: {e}")))?;
    Ok(config)
}

/// Loads a Llama model from a GGUF file onto `device`, dequantising every tensor to `f32`.
///
/// The configuration comes from [`config_from_gguf`]. Every tensor the configuration needs
/// must be present with the shape it implies and a type cavern can dequantise, and the file may
/// hold no other tensors (biases, RoPE frequency factors, ...) that would change what the model
/// computes; all such problems are reported together, naming each tensor.
pub fn load_gguf_weights(file: &GgufFile, device: &Device) -> Result<Transformer, ModelError> {
    let config = config_from_gguf(file)?;
    let expected = expected_tensors(&config);
    check_tensors(file, &expected)?;
    let loader = Loader { file, device };
    let (vocab, d) = (config.vocab_size, config.d_model);
    let token_embedding = Embedding {
        weight: Param::from_tensor(loader.matrix("token_embd.weight", vocab, d)?),
    };
    let blocks = (0..config.n_layers)
        .map(|layer| loader.block(&config, layer))
        .collect::<Result<Vec<_>, _>>()?;
    let final_norm = loader.norm("output_norm.weight", &config)?;
    let head = match config.head {
        OutputHead::LanguageModel { tied: false } => {
            Some(loader.linear("output.weight", d, vocab)?)
        }
        _ => None,
    };
    Ok(Transformer {
        token_embedding,
        position_embedding: None,
        embed_norm: None,
        blocks,
        final_norm: Some(final_norm),
        head,
        config,
    })
}

/// The tensors a configuration needs, with their GGUF dims (`ne[0]` first).
///
/// A linear map from `n` to `m` features is stored as `[n, m]` (numpy shape `(m, n)`, like a
/// PyTorch weight); the token embedding as `[d_model, vocab]`.
fn expected_tensors(config: &TransformerConfig) -> Vec<(String, Vec<u64>)> {
    let dims = |dims: &[usize]| dims.iter().map(|&d| d as u64).collect::<Vec<_>>();
    let (d, vocab, mlp) = (config.d_model, config.vocab_size, config.d_mlp);
    let (q, kv) = (
        config.n_heads * config.d_head,
        config.n_kv_heads * config.d_head,
    );
    let mut tensors = vec![("token_embd.weight".to_string(), dims(&[d, vocab]))];
    for layer in 0..config.n_layers {
        let per_layer: [(&str, &[usize]); 9] = [
            ("attn_norm", &[d]),
            ("attn_q", &[d, q]),
            ("attn_k", &[d, kv]),
            ("attn_v", &[d, kv]),
            ("attn_output", &[q, d]),
            ("ffn_norm", &[d]),
            ("ffn_gate", &[d, mlp]),
            ("ffn_up", &[d, mlp]),
            ("ffn_down", &[mlp, d]),
        ];
        tensors.extend(
            per_layer
                .iter()
                .map(|(name, shape)| (format!("blk.{layer}.{name}.weight"), dims(shape))),
        );
    }
    tensors.push(("output_norm.weight".to_string(), dims(&[d])));
    if config.head == (OutputHead::LanguageModel { tied: false }) {
        tensors.push(("output.weight".to_string(), dims(&[d, vocab])));
    }
    tensors
}

/// Checks presence, dims and type of every expected tensor and that there are no others,
/// reporting every problem at once.
fn check_tensors(file: &GgufFile, expected: &[(String, Vec<u64>)]) -> Result<(), ModelError> {
    let mut problems = Vec::new();
    for (name, dims) in expected {
        match file.tensor(name) {
            None => problems.push(format!("tensor `{name}` is missing")),
            Some(info) if &info.dims != dims => problems.push(format!(
                "tensor `{name}` has dims {:?} but the config needs {dims:?} (GGUF order, ne[0] first)",
                info.dims
            )),
            Some(info) if !info.kind.is_supported() => problems.push(format!(
                "tensor `{name}` has type {}, which cavern cannot dequantise",
                info.kind
            )),
            Some(_) => {}
        }
    }
    let unexpected: Vec<&str> = file
        .tensors
        .iter()
        .map(|t| t.name.as_str())
        .filter(|name| !expected.iter().any(|(e, _)| e == name))
        .collect();
    if !unexpected.is_empty() {
        problems.push(format!(
            "tensors that a plain Llama does not have (biases, RoPE factors, experts?) are not \
             supported: {}",
            unexpected.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(fail(file, problems.join("; ")))
    }
}

/// Refuses a file whose `general.architecture` is not `llama`.
fn check_architecture(file: &GgufFile) -> Result<(), ModelError> {
    match file.get("general.architecture").map(MetaValue::as_str) {
        Some(Some(ARCHITECTURE)) => Ok(()),
        Some(Some(other)) => Err(fail(
            file,
            format!(
                "general.architecture is `{other}`; only `{ARCHITECTURE}` models are supported"
            ),
        )),
        Some(None) => Err(fail(file, "general.architecture is not a string".into())),
        None => Err(fail(
            file,
            "metadata key `general.architecture` is missing".into(),
        )),
    }
}

/// Refuses metadata describing computations the hooked transformer does not implement.
fn check_unsupported(file: &GgufFile, d_head: usize) -> Result<(), ModelError> {
    let meta = Meta { file };
    for key in [
        "llama.rope.dimension_count",
        "llama.attention.key_length",
        "llama.attention.value_length",
    ] {
        if let Some(value) = meta.optional_usize(key)?.filter(|&v| v != d_head) {
            return Err(fail(
                file,
                format!("{key} is {value}, but cavern needs it to equal the head width {d_head}"),
            ));
        }
    }
    if let Some(kind) = meta.optional_str("llama.rope.scaling.type")?
        && kind != "none"
    {
        return Err(fail(
            file,
            format!("RoPE scaling `{kind}` (llama.rope.scaling.type) is not supported"),
        ));
    }
    if let Some(experts) = meta
        .optional_usize("llama.expert_count")?
        .filter(|&n| n > 0)
    {
        return Err(fail(
            file,
            format!("mixtures of experts (llama.expert_count = {experts}) are not supported"),
        ));
    }
    Ok(())
}

/// The vocabulary size: the token list's length, else `llama.vocab_size`, else the rows of
/// `token_embd.weight`.
fn vocab_size(file: &GgufFile) -> Result<usize, ModelError> {
    let meta = Meta { file };
    if let Some(tokens) = file.get("tokenizer.ggml.tokens") {
        return tokens.as_array().map(<[MetaValue]>::len).ok_or_else(|| {
            fail(
                file,
                format!(
                    "metadata key `tokenizer.ggml.tokens` is a {}, not an array",
                    tokens.type_name()
                ),
            )
        });
    }
    if let Some(n) = meta.optional_usize("llama.vocab_size")? {
        return Ok(n);
    }
    file.tensor("token_embd.weight")
        .and_then(|t| t.dims.get(1))
        .and_then(|&n| usize::try_from(n).ok())
        .ok_or_else(|| {
            fail(
                file,
                "cannot tell the vocabulary size: no tokenizer.ggml.tokens, llama.vocab_size or \
                 two-dimensional token_embd.weight"
                    .into(),
            )
        })
}

/// `tokenizer.ggml.padding_token_id`, else `tokenizer.ggml.eos_token_id`, else 0.
fn pad_id(meta: &Meta) -> Result<u32, ModelError> {
    let id = match meta.optional_usize("tokenizer.ggml.padding_token_id")? {
        Some(id) => Some(id),
        None => meta.optional_usize("tokenizer.ggml.eos_token_id")?,
    };
    u32::try_from(id.unwrap_or(0)).map_err(|_| {
        fail(
            meta.file,
            "the pad or end-of-sequence id does not fit a u32".into(),
        )
    })
}

/// A checkpoint error for `file`, named by its `general.name`.
fn fail(file: &GgufFile, detail: String) -> ModelError {
    let name = file
        .get("general.name")
        .and_then(MetaValue::as_str)
        .unwrap_or(ARCHITECTURE);
    ModelError::Checkpoint {
        name: name.to_string(),
        file: "GGUF file".to_string(),
        detail,
    }
}

/// Typed access to metadata, with errors naming the key.
struct Meta<'a> {
    file: &'a GgufFile,
}

impl Meta<'_> {
    /// A required non-negative integer that fits a `usize`.
    fn usize(&self, key: &str) -> Result<usize, ModelError> {
        self.optional_usize(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional non-negative integer that fits a `usize`.
    fn optional_usize(&self, key: &str) -> Result<Option<usize>, ModelError> {
        self.file
            .get(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| self.wrong_type(key, v, "a non-negative integer"))
            })
            .transpose()
    }

    /// A required number.
    fn f64(&self, key: &str) -> Result<f64, ModelError> {
        self.optional_f64(key)?.ok_or_else(|| self.missing(key))
    }

    /// An optional number.
    fn optional_f64(&self, key: &str) -> Result<Option<f64>, ModelError> {
        self.file
            .get(key)
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| self.wrong_type(key, v, "a number"))
            })
            .transpose()
    }

    /// An optional string.
    fn optional_str(&self, key: &str) -> Result<Option<&str>, ModelError> {
        self.file
            .get(key)
            .map(|v| {
                v.as_str()
                    .ok_or_else(|| self.wrong_type(key, v, "a string"))
            })
            .transpose()
    }

    fn missing(&self, key: &str) -> ModelError {
        fail(self.file, format!("metadata key `{key}` is missing"))
    }

    fn wrong_type(&self, key: &str, value: &MetaValue, want: &str) -> ModelError {
        fail(
            self.file,
            format!(
                "metadata key `{key}` should be {want} but is {value:?} ({})",
                value.type_name()
            ),
        )
    }
}

/// Builds modules from tensors whose presence and dims [`check_tensors`] has checked.
struct Loader<'a> {
    file: &'a GgufFile,
    device: &'a Device,
}

impl Loader<'_> {
    /// One pre-norm block: RMSNorms, grouped-query attention and a SwiGLU MLP, no biases.
    fn block(&self, config: &TransformerConfig, layer: usize) -> Result<Block, ModelError> {
        let name = |part: &str| format!("blk.{layer}.{part}.weight");
        let (d, q, kv, mlp) = (
            config.d_model,
            config.n_heads * config.d_head,
            config.n_kv_heads * config.d_head,
            config.d_mlp,
        );
        let attn = Attention {
            q: self.linear(&name("attn_q"), d, q)?,
            k: self.linear(&name("attn_k"), d, kv)?,
            v: self.linear(&name("attn_v"), d, kv)?,
            o: self.linear(&name("attn_output"), q, d)?,
            n_heads: config.n_heads,
            n_kv_heads: config.n_kv_heads,
            d_head: config.d_head,
            q_norm: None,
            k_norm: None,
            scale: None,
            softcap: None,
        };
        let mlp = Mlp {
            up: self.linear(&name("ffn_up"), d, mlp)?,
            gate: Some(self.linear(&name("ffn_gate"), d, mlp)?),
            down: self.linear(&name("ffn_down"), mlp, d)?,
            activation: MlpActivation::SwiGlu,
        };
        Ok(Block {
            attn,
            mlp,
            norm1: self.norm(&name("attn_norm"), config)?,
            norm2: self.norm(&name("ffn_norm"), config)?,
            post_attn_norm: None,
            post_mlp_norm: None,
            pre_norm: true,
            parallel: false,
        })
    }

    /// An RMSNorm with the stored scale.
    fn norm(&self, name: &str, config: &TransformerConfig) -> Result<Norm, ModelError> {
        let d = config.d_model;
        let weight = Tensor::from_data(TensorData::new(self.values(name, d)?, [d]), self.device);
        Ok(Norm {
            weight: Param::from_tensor(weight),
            bias: None,
            eps: config.norm_eps,
            rms: true,
        })
    }

    /// A bias-free linear map from `d_in` to `d_out` features: burn's weight is `[d_in, d_out]`,
    /// the transpose of the stored (PyTorch-like) `(d_out, d_in)` matrix.
    fn linear(&self, name: &str, d_in: usize, d_out: usize) -> Result<Linear, ModelError> {
        let stored = self.values(name, d_in * d_out)?;
        let transposed = transpose(&stored, d_out, d_in);
        let weight = Tensor::from_data(TensorData::new(transposed, [d_in, d_out]), self.device);
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias: None,
        })
    }

    /// A matrix stored with numpy shape `(rows, cols)`, as a `[rows, cols]` tensor.
    fn matrix(&self, name: &str, rows: usize, cols: usize) -> Result<Tensor<2>, ModelError> {
        let values = self.values(name, rows * cols)?;
        Ok(Tensor::from_data(
            TensorData::new(values, [rows, cols]),
            self.device,
        ))
    }

    /// Tensor `name` dequantised, checked to hold `len` values.
    fn values(&self, name: &str, len: usize) -> Result<Vec<f32>, ModelError> {
        let values = self
            .file
            .dequantize(name)
            .map_err(|e| fail(self.file, e.to_string()))?;
        check_finite(name, &values).map_err(|e| fail(self.file, e))?;
        if values.len() != len {
            return Err(fail(
                self.file,
                format!(
                    "tensor `{name}` decodes to {} values where {len} were expected",
                    values.len()
                ),
            ));
        }
        Ok(values)
    }
}
