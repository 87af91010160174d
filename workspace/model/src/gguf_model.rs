//! Decoders from GGUF files in llama.cpp's layout: Llama, Qwen2, Qwen3, Gemma 2 and Gemma 3.
//!
//! A GGUF file loads as the Hugging Face checkpoint it was converted from. Its metadata
//! (`gemma3.block_count`, ...) become the `config.json` fields they were written from, which
//! [`decoder_config`] turns into the configuration a folder of the family gets; its tensors
//! (`blk.0.attn_q.weight`, ...) are read under their Hugging Face names ([`GgufNames`]) by the
//! folder loader's plan and builder, dequantised to `f32`. Two differences remain:
//!
//! * llama.cpp's converter permutes the query and key rows of each head of `llama` models so
//!   that rotating adjacent pairs `(x[2i], x[2i+1])` reproduces rotate-half RoPE; those load
//!   with [`RopeLayout::AdjacentPairs`]. The other families are stored unpermuted.
//! * Gemma's `1 + w` norm scales are stored whole (the converter adds the 1).
//!
//! Metadata llama.cpp has no key for follow llama.cpp's defaults, which are also transformers':
//! Gemma 3's local layers use RoPE base 10000 and five local layers precede each global one;
//! Gemma 2 alternates local and global layers. Errors name the GGUF keys and tensors.
//!
//! Loading is independent of tokenization: the vocabulary is only counted, never read.

use crate::config::{Positions, RopeLayout, TransformerConfig};
use crate::error::ModelError;
use crate::family::Family;
use crate::gguf::{GgufFile, MetaValue};
use crate::gguf_names::GgufNames;
use crate::hf::build::Build;
use crate::hf::config::{Json, decoder_config};
use crate::hf::llama;
use crate::hf::weights::Tensors;
use crate::transformer::Transformer;
use burn::tensor::Device;
use serde_json::{Map, Value};

/// The families cavern reads from GGUF; each one's `general.architecture` is its name.
pub const FAMILIES: [Family; 5] = [
    Family::Llama,
    Family::Qwen2,
    Family::Qwen3,
    Family::Gemma2,
    Family::Gemma3,
];

/// How a metadata value reads.
#[derive(Clone, Copy)]
enum Kind {
    /// A non-negative integer.
    Count,
    /// A finite number.
    Number,
}

/// The `config.json` fields a GGUF file's `ARCH.*` metadata hold: field, key after `ARCH.`,
/// kind, and whether llama.cpp requires the key.
const FIELDS: [(&str, &str, Kind, bool); 10] = [
    ("hidden_size", "embedding_length", Kind::Count, true),
    ("num_hidden_layers", "block_count", Kind::Count, true),
    (
        "num_attention_heads",
        "attention.head_count",
        Kind::Count,
        true,
    ),
    (
        "num_key_value_heads",
        "attention.head_count_kv",
        Kind::Count,
        false,
    ),
    (
        "intermediate_size",
        "feed_forward_length",
        Kind::Count,
        true,
    ),
    (
        "rms_norm_eps",
        "attention.layer_norm_rms_epsilon",
        Kind::Number,
        true,
    ),
    ("rope_theta", "rope.freq_base", Kind::Number, false),
    (
        "sliding_window",
        "attention.sliding_window",
        Kind::Count,
        false,
    ),
    (
        "attn_logit_softcapping",
        "attn_logit_softcapping",
        Kind::Number,
        false,
    ),
    (
        "final_logit_softcapping",
        "final_logit_softcapping",
        Kind::Number,
        false,
    ),
];

/// Layer counts of the Gemma models llama.cpp calls 27B, whose queries it scales by
/// `(d_model / n_heads)^-1/2` rather than `d_head^-1/2` (transformers' `query_pre_attn_scalar`
/// of those checkpoints); the files carry no key for it.
const GEMMA_27B_LAYERS: [(Family, usize); 2] = [(Family::Gemma2, 46), (Family::Gemma3, 62)];

/// The family of a GGUF file, from `general.architecture`.
pub fn family_of(file: &GgufFile) -> Result<Family, ModelError> {
    let meta = Meta { file };
    let architecture = meta
        .optional_str("general.architecture")?
        .ok_or_else(|| meta.missing("general.architecture"))?;
    FAMILIES
        .into_iter()
        .find(|f| f.as_str() == architecture)
        .ok_or_else(|| {
            let known: Vec<String> = FAMILIES.iter().map(|f| format!("`{f}`")).collect();
            fail(
                file,
                format!(
                    "general.architecture is `{architecture}`; cavern reads {} models from GGUF",
                    known.join(", ")
                ),
            )
        })
}

/// Reads a decoder's [`TransformerConfig`] from a GGUF file's metadata: the family from
/// `general.architecture`, the rest as a folder of that family would have it.
///
/// Needs `ARCH.block_count`, `ARCH.embedding_length`, `ARCH.attention.head_count`,
/// `ARCH.feed_forward_length` and `ARCH.attention.layer_norm_rms_epsilon`; the head width is
/// `ARCH.attention.key_length`, else `embedding_length / head_count`. The vocabulary size is the
/// length of `tokenizer.ggml.tokens` (or, without it, `ARCH.vocab_size` or the rows of
/// `token_embd.weight`); the pad id is `tokenizer.ggml.padding_token_id`, else
/// `tokenizer.ggml.eos_token_id`, else 0. The head is tied unless the file has `output.weight`.
///
/// Refuses what the hooked transformer does not compute (partial rotary dimensions, value
/// heads of another width, RoPE scaling other than linear, mixtures of experts) rather than
/// loading a model that computes something else.
pub fn config_from_gguf(file: &GgufFile) -> Result<TransformerConfig, ModelError> {
    let family = family_of(file)?;
    let fields = fields(file, family)?;
    let mut config = decoder_config(family, &Json::new(&fields.json))
        .map_err(|e| fail(file, fields.in_gguf_terms(e)))?;
    if family == Family::Llama
        && let Positions::Rope(rope) = &mut config.positions
    {
        rope.layout = RopeLayout::AdjacentPairs;
    }
    Ok(config)
}

/// Loads a decoder from a GGUF file onto `device`, dequantising every tensor to `f32`.
///
/// The configuration comes from [`config_from_gguf`]. Every tensor the configuration needs
/// must be present with the dims it implies and a type cavern can dequantise, and the file may
/// hold no other tensors (biases, RoPE frequency factors, ...) that would change what the model
/// computes; all such problems are reported together, naming each tensor.
pub fn load_gguf_weights(file: &GgufFile, device: &Device) -> Result<Transformer, ModelError> {
    let family = family_of(file)?;
    let config = config_from_gguf(file)?;
    let gemma = matches!(family, Family::Gemma2 | Family::Gemma3);
    let tensors = Tensors::gguf(file, GgufNames::new(gemma));
    let plan = llama::plan(&tensors, &config);
    tensors.check(&plan, |_| false).map_err(|e| fail(file, e))?;
    let build = Build {
        tensors: &tensors,
        device,
        norms_hold_one: true,
    };
    llama::build(&build, config).map_err(|e| fail(file, e))
}

/// The `config.json` fields a file's metadata give, and the GGUF key each came from.
struct Fields {
    json: Map<String, Value>,
    /// `(field, GGUF key)`, to name the keys in errors about the fields.
    origin: Vec<(&'static str, String)>,
}

impl Fields {
    fn set(&mut self, field: &'static str, key: String, value: Value) {
        self.json.insert(field.to_string(), value);
        self.origin.push((field, key));
    }

    /// `error`, about `config.json` fields, with each field named by its GGUF key.
    fn in_gguf_terms(&self, error: String) -> String {
        self.origin.iter().fold(error, |error, (field, key)| {
            error.replace(&format!("`{field}`"), &format!("`{key}`"))
        })
    }
}

/// The `config.json` fields of a `family` model from the file's metadata.
fn fields(file: &GgufFile, family: Family) -> Result<Fields, ModelError> {
    let meta = Meta { file };
    let arch = family.as_str();
    let key = |suffix: &str| format!("{arch}.{suffix}");
    let mut fields = Fields {
        json: Map::new(),
        origin: Vec::new(),
    };
    for (field, suffix, kind, required) in FIELDS {
        let name = key(suffix);
        let value = match kind {
            Kind::Count => meta.optional_usize(&name)?.map(Value::from),
            Kind::Number => meta.optional_number(&name)?.map(Value::from),
        };
        match value {
            Some(value) => fields.set(field, name, value),
            None if required => return Err(meta.missing(&name)),
            None => {}
        }
    }
    let d_model = meta.usize(&key("embedding_length"))?;
    let n_heads = meta.usize(&key("attention.head_count"))?;
    let head_key = key("attention.key_length");
    let d_head = match meta.optional_usize(&head_key)? {
        Some(width) => Some(width),
        None => (n_heads > 0 && d_model.is_multiple_of(n_heads)).then(|| d_model / n_heads),
    };
    if let Some(d_head) = d_head {
        fields.set("head_dim", head_key, d_head.into());
        for suffix in ["attention.value_length", "rope.dimension_count"] {
            let name = key(suffix);
            if let Some(value) = meta.optional_usize(&name)?.filter(|&v| v != d_head) {
                return Err(fail(
                    file,
                    format!(
                        "{name} is {value}, but cavern needs it to equal the head width {d_head}"
                    ),
                ));
            }
        }
    }
    let n_layers = meta.usize(&key("block_count"))?;
    if GEMMA_27B_LAYERS.contains(&(family, n_layers)) && n_heads > 0 {
        let scalar = d_model / n_heads;
        fields
            .json
            .insert("query_pre_attn_scalar".into(), scalar.into());
    }
    if let Some(experts) = meta
        .optional_usize(&key("expert_count"))?
        .filter(|&n| n > 0)
    {
        return Err(fail(
            file,
            format!(
                "mixtures of experts ({} = {experts}) are not supported",
                key("expert_count")
            ),
        ));
    }
    let scaling_key = key("rope.scaling.type");
    if let Some(kind) = meta.optional_str(&scaling_key)?
        && kind != "none"
    {
        let mut scaling = Map::new();
        scaling.insert("type".into(), kind.into());
        let factor_key = key("rope.scaling.factor");
        if let Some(factor) = meta.optional_number(&factor_key)? {
            scaling.insert("factor".into(), factor.into());
        }
        fields.set("rope_scaling", scaling_key, Value::Object(scaling));
        fields.origin.push(("factor", factor_key));
    }
    let activation = match family {
        Family::Gemma2 | Family::Gemma3 => ("hidden_activation", "gelu_pytorch_tanh"),
        _ => ("hidden_act", "silu"),
    };
    fields.json.insert(activation.0.into(), activation.1.into());
    let (vocab_source, vocab_size) = vocab_size(&meta, arch)?;
    fields.set("vocab_size", vocab_source, vocab_size.into());
    let tied = file.tensor("output.weight").is_none();
    fields
        .json
        .insert("tie_word_embeddings".into(), tied.into());
    for (field, name) in [
        ("pad_token_id", "tokenizer.ggml.padding_token_id"),
        ("eos_token_id", "tokenizer.ggml.eos_token_id"),
    ] {
        if let Some(id) = meta.optional_usize(name)? {
            fields.set(field, name.to_string(), id.into());
        }
    }
    Ok(fields)
}

/// The vocabulary size and where it came from: the token list's length, else
/// `ARCH.vocab_size`, else the rows of `token_embd.weight`.
fn vocab_size(meta: &Meta, arch: &str) -> Result<(String, usize), ModelError> {
    let tokens = "tokenizer.ggml.tokens";
    if let Some(list) = meta.file.get(tokens) {
        let n = list
            .as_array()
            .map(<[MetaValue]>::len)
            .ok_or_else(|| meta.wrong_type(tokens, list, "an array"))?;
        return Ok((tokens.to_string(), n));
    }
    let key = format!("{arch}.vocab_size");
    if let Some(n) = meta.optional_usize(&key)? {
        return Ok((key, n));
    }
    meta.file
        .tensor("token_embd.weight")
        .and_then(|t| t.dims.get(1))
        .and_then(|&n| usize::try_from(n).ok())
        .map(|n| ("token_embd.weight".to_string(), n))
        .ok_or_else(|| {
            fail(
                meta.file,
                format!(
                    "cannot tell the vocabulary size: no tokenizer.ggml.tokens, {key} or \
                     two-dimensional token_embd.weight"
                ),
            )
        })
}

/// A checkpoint error for `file`, named by its `general.name`.
fn fail(file: &GgufFile, detail: String) -> ModelError {
    let name = file
        .get("general.name")
        .and_then(MetaValue::as_str)
        .or_else(|| file.get("general.architecture").and_then(MetaValue::as_str))
        .unwrap_or("model");
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

    /// An optional finite number.
    fn optional_number(&self, key: &str) -> Result<Option<f64>, ModelError> {
        self.file
            .get(key)
            .map(|v| {
                v.as_f64()
                    .filter(|x| x.is_finite())
                    .ok_or_else(|| self.wrong_type(key, v, "a finite number"))
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
