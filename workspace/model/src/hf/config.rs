//! A decoder's [`TransformerConfig`] from a Hugging Face `config.json`, family by family, with
//! its fields checked against each other; features cavern does not compute are refused.
//!
//! Reads both the field names of transformers 4 (`rope_theta`, `rope_scaling`,
//! `rope_local_base_freq`, `rotary_pct`) and transformers 5's `rope_parameters`, and the
//! per-layer `layer_types` where a file has them (else each family's default pattern).

use crate::config::{
    Architecture, AttentionBias, FamilyOptions, MlpActivation, NormKind, OutputHead, Positions,
    RopeConfig, RopeLayout, RopeScaling, SlidingWindow, TransformerConfig,
};
use crate::family::Family;
use serde_json::{Map, Value};

/// The most layers a `config.json` may declare (the largest published models have under 200).
pub const MAX_LAYERS: usize = 4096;

/// The parsed `config.json`, with typed getters whose errors name the key.
pub struct Json<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Json<'a> {
    /// Wraps a JSON object.
    pub fn new(map: &'a Map<String, Value>) -> Json<'a> {
        Json { map }
    }

    /// The value of `key`, `None` when absent or null.
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// A string, if present.
    pub fn str(&self, key: &str) -> Result<Option<&'a str>, String> {
        self.get(key)
            .map(|v| v.as_str().ok_or_else(|| wrong(key, v, "a string")))
            .transpose()
    }

    /// The first entry of `architectures` (`"GPT2LMHeadModel"`), if there is one.
    pub fn first_architecture(&self) -> Option<&'a str> {
        self.get("architectures")?.as_array()?.first()?.as_str()
    }

    /// A non-negative integer, if present.
    pub fn count(&self, key: &str) -> Result<Option<usize>, String> {
        self.get(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| wrong(key, v, "a non-negative integer"))
            })
            .transpose()
    }

    /// A required positive integer.
    pub fn size(&self, key: &str) -> Result<usize, String> {
        match self.count(key)? {
            Some(0) => Err(format!("`{key}` is 0; it must be positive")),
            Some(n) => Ok(n),
            None => Err(format!("`{key}` is missing")),
        }
    }

    /// A required layer count: positive and at most [`MAX_LAYERS`], since per-layer lists are
    /// built from it before the weights are read.
    pub fn layers(&self, key: &str) -> Result<usize, String> {
        let n = self.size(key)?;
        if n > MAX_LAYERS {
            return Err(format!(
                "`{key}` is {n}; cavern reads at most {MAX_LAYERS} layers (correct `{key}`)"
            ));
        }
        Ok(n)
    }

    /// A number, if present.
    pub fn number(&self, key: &str) -> Result<Option<f64>, String> {
        self.get(key)
            .map(|v| v.as_f64().ok_or_else(|| wrong(key, v, "a number")))
            .transpose()
    }

    /// A positive finite number, if present.
    fn positive(&self, key: &str) -> Result<Option<f64>, String> {
        match self.number(key)? {
            Some(x) if !(x.is_finite() && x > 0.0) => {
                Err(format!("`{key}` is {x}; it must be a positive number"))
            }
            other => Ok(other),
        }
    }

    /// A boolean, or `default` when absent.
    pub fn flag(&self, key: &str, default: bool) -> Result<bool, String> {
        self.get(key)
            .map(|v| v.as_bool().ok_or_else(|| wrong(key, v, "true or false")))
            .transpose()
            .map(|b| b.unwrap_or(default))
    }

    /// A nested object, if present.
    fn object(&self, key: &str) -> Result<Option<Json<'a>>, String> {
        self.get(key)
            .map(|v| {
                v.as_object()
                    .map(Json::new)
                    .ok_or_else(|| wrong(key, v, "an object"))
            })
            .transpose()
    }

    /// A list of strings, if present.
    fn strings(&self, key: &str) -> Result<Option<Vec<&'a str>>, String> {
        self.get(key)
            .map(|v| {
                v.as_array()
                    .and_then(|a| a.iter().map(Value::as_str).collect::<Option<Vec<_>>>())
                    .ok_or_else(|| wrong(key, v, "a list of strings"))
            })
            .transpose()
    }
}

fn wrong(key: &str, value: &Value, want: &str) -> String {
    let shown: String = value.to_string().chars().take(60).collect();
    format!("`{key}` should be {want}, not {shown}")
}

/// The configuration of a decoder of `family` (not BERT, which `crate::bert` reads).
pub fn decoder_config(family: Family, json: &Json) -> Result<TransformerConfig, String> {
    let config = match family {
        Family::Gpt2 => gpt2(json)?,
        Family::GptNeox => gpt_neox(json)?,
        Family::Llama | Family::Mistral | Family::Qwen2 | Family::Qwen3 => llama(family, json)?,
        Family::Gemma2 | Family::Gemma3 => gemma(family, json)?,
        Family::Bert => return Err("BERT folders are read by the BERT loader".into()),
    };
    config
        .check()
        .map_err(|e| format!("describes an invalid model: {e}"))?;
    Ok(config)
}

/// GPT-2: `n_embd`, `n_layer`, `n_head`, `n_inner` (4 × `n_embd` when null), learned
/// positions up to `n_positions`.
fn gpt2(json: &Json) -> Result<TransformerConfig, String> {
    for key in ["scale_attn_by_inverse_layer_idx", "add_cross_attention"] {
        if json.flag(key, false)? {
            return Err(format!("`{key}` = true is not supported"));
        }
    }
    if !json.flag("scale_attn_weights", true)? {
        return Err("`scale_attn_weights` = false is not supported".into());
    }
    let d_model = json.size("n_embd")?;
    let n_heads = json.size("n_head")?;
    let d_head = divide(d_model, n_heads, "n_embd", "n_head")?;
    let d_mlp = match json.count("n_inner")? {
        Some(n) => n,
        None => d_model.checked_mul(4).ok_or("`n_embd` is too large")?,
    };
    Ok(TransformerConfig {
        architecture: Architecture::PreNormDecoder,
        vocab_size: json.size("vocab_size")?,
        d_model,
        n_layers: json.layers("n_layer")?,
        n_heads,
        n_kv_heads: n_heads,
        d_head,
        d_mlp,
        norm: NormKind::LayerNorm,
        norm_eps: json.positive("layer_norm_epsilon")?.unwrap_or(1e-5),
        positions: Positions::Learned {
            max_len: json.size("n_positions")?,
        },
        activation: activation(json, "activation_function")?,
        attention_bias: AttentionBias::All,
        mlp_bias: true,
        head: OutputHead::LanguageModel {
            tied: json.flag("tie_word_embeddings", true)?,
        },
        pad_id: pad_id(json)?,
        options: FamilyOptions::default(),
    })
}

/// GPT-NeoX / Pythia: LayerNorms, partial rotary (`rotary_pct` or `partial_rotary_factor`),
/// parallel attention and MLP unless `use_parallel_residual` is false.
fn gpt_neox(json: &Json) -> Result<TransformerConfig, String> {
    let (d_model, n_heads) = (json.size("hidden_size")?, json.size("num_attention_heads")?);
    let d_head = divide(d_model, n_heads, "hidden_size", "num_attention_heads")?;
    let mut rope = rope(json, d_head, "rotary_emb_base")?;
    if rope.rotary_dim.is_none() {
        rope.rotary_dim = Some(rotary_dim(
            d_head,
            json.positive("rotary_pct")?.unwrap_or(0.25),
        )?);
    }
    Ok(TransformerConfig {
        architecture: Architecture::PreNormDecoder,
        vocab_size: json.size("vocab_size")?,
        d_model,
        n_layers: json.layers("num_hidden_layers")?,
        n_heads,
        n_kv_heads: n_heads,
        d_head,
        d_mlp: json.size("intermediate_size")?,
        norm: NormKind::LayerNorm,
        norm_eps: json.positive("layer_norm_eps")?.unwrap_or(1e-5),
        positions: Positions::Rope(rope),
        activation: activation(json, "hidden_act")?,
        attention_bias: match json.flag("attention_bias", true)? {
            true => AttentionBias::All,
            false => AttentionBias::None,
        },
        mlp_bias: true,
        head: OutputHead::LanguageModel {
            tied: json.flag("tie_word_embeddings", false)?,
        },
        pad_id: pad_id(json)?,
        options: FamilyOptions {
            parallel_attn_mlp: json.flag("use_parallel_residual", true)?,
            ..FamilyOptions::default()
        },
    })
}

/// Llama, Mistral, Qwen2 and Qwen3: RMSNorm, SwiGLU, rotate-half RoPE, grouped-query
/// attention; Qwen2's q/k/v biases, Qwen3's q/k norms, Mistral's sliding window.
fn llama(family: Family, json: &Json) -> Result<TransformerConfig, String> {
    let (d_model, n_heads) = (json.size("hidden_size")?, json.size("num_attention_heads")?);
    let d_head = match json.count("head_dim")? {
        Some(d) => d,
        None => divide(d_model, n_heads, "hidden_size", "num_attention_heads")?,
    };
    let n_layers = json.layers("num_hidden_layers")?;
    let activation = activation(json, "hidden_act")?;
    if activation != MlpActivation::SwiGlu {
        return Err(format!(
            "`hidden_act` must be \"silu\" for {}: its MLP is gated",
            family.as_str()
        ));
    }
    let bias = json.flag("attention_bias", false)?;
    let attention_bias = match (family, bias) {
        (Family::Qwen2, _) => AttentionBias::Qkv,
        (_, true) => AttentionBias::All,
        (_, false) => AttentionBias::None,
    };
    let sliding_window = match family {
        Family::Mistral => window(json, n_layers, |_| true)?,
        Family::Qwen2 | Family::Qwen3 => {
            let first = json.count("max_window_layers")?.unwrap_or(0);
            match json.flag("use_sliding_window", false)? {
                true => window(json, n_layers, |layer| layer >= first)?,
                false => None,
            }
        }
        _ => None,
    };
    Ok(TransformerConfig {
        architecture: Architecture::PreNormDecoder,
        vocab_size: json.size("vocab_size")?,
        d_model,
        n_layers,
        n_heads,
        n_kv_heads: kv_heads(json, n_heads)?,
        d_head,
        d_mlp: json.size("intermediate_size")?,
        norm: NormKind::RmsNorm,
        norm_eps: json.positive("rms_norm_eps")?.unwrap_or(1e-6),
        positions: Positions::Rope(rope(json, d_head, "rope_theta")?),
        activation,
        attention_bias,
        mlp_bias: json.flag("mlp_bias", false)?,
        head: OutputHead::LanguageModel {
            tied: json.flag("tie_word_embeddings", false)?,
        },
        pad_id: pad_id(json)?,
        options: FamilyOptions {
            qk_norm: family == Family::Qwen3,
            sliding_window,
            ..FamilyOptions::default()
        },
    })
}

/// Gemma 2 and 3: GeGLU, `1 + w` RMSNorms before and after attention and MLP, embeddings
/// scaled by `sqrt(hidden_size)`, queries by `query_pre_attn_scalar^-1/2`, local layers
/// alternating with global ones; Gemma 2's soft-capping, Gemma 3's q/k norms and local RoPE base.
fn gemma(family: Family, json: &Json) -> Result<TransformerConfig, String> {
    if json.flag("use_bidirectional_attention", false)? {
        return Err("`use_bidirectional_attention` = true is not supported".into());
    }
    let (d_model, n_heads) = (json.size("hidden_size")?, json.size("num_attention_heads")?);
    let d_head = json.count("head_dim")?.unwrap_or(256);
    let n_layers = json.layers("num_hidden_layers")?;
    let activation_key = match json.str("hidden_activation")? {
        Some(_) => "hidden_activation",
        None => "hidden_act",
    };
    let activation = match activation(json, activation_key)? {
        MlpActivation::GeluTanh => MlpActivation::GeGlu,
        _ => {
            return Err(format!(
                "`{activation_key}` must be \"gelu_pytorch_tanh\" for Gemma's gated MLP"
            ));
        }
    };
    let local = |layer: usize| match family {
        Family::Gemma2 => layer.is_multiple_of(2),
        _ => !(layer + 1).is_multiple_of(6),
    };
    let mut rope = rope(json, d_head, "rope_theta")?;
    if family == Family::Gemma3 && rope.local_base.is_none() {
        rope.local_base = Some(json.positive("rope_local_base_freq")?.unwrap_or(10_000.0) as f32);
    }
    let scalar = json
        .positive("query_pre_attn_scalar")?
        .unwrap_or(d_head as f64);
    Ok(TransformerConfig {
        architecture: Architecture::PreNormDecoder,
        vocab_size: json.size("vocab_size")?,
        d_model,
        n_layers,
        n_heads,
        n_kv_heads: kv_heads(json, n_heads)?,
        d_head,
        d_mlp: json.size("intermediate_size")?,
        norm: NormKind::RmsNorm,
        norm_eps: json.positive("rms_norm_eps")?.unwrap_or(1e-6),
        positions: Positions::Rope(rope),
        activation,
        attention_bias: match json.flag("attention_bias", false)? {
            true => AttentionBias::All,
            false => AttentionBias::None,
        },
        mlp_bias: false,
        head: OutputHead::LanguageModel {
            tied: json.flag("tie_word_embeddings", true)?,
        },
        pad_id: pad_id(json)?,
        options: FamilyOptions {
            post_norms: true,
            qk_norm: family == Family::Gemma3,
            attn_scale: Some(scalar.powf(-0.5)),
            attn_softcap: json.positive("attn_logit_softcapping")?,
            final_softcap: json.positive("final_logit_softcapping")?,
            embed_scale: Some((d_model as f64).sqrt()),
            sliding_window: window(json, n_layers, local)?,
            parallel_attn_mlp: false,
        },
    })
}

/// `a / b`, refusing a remainder.
fn divide(a: usize, b: usize, a_key: &str, b_key: &str) -> Result<usize, String> {
    match a.is_multiple_of(b) {
        true => Ok(a / b),
        false => Err(format!(
            "`{a_key}` ({a}) is not a multiple of `{b_key}` ({b})"
        )),
    }
}

/// `num_key_value_heads` (the head count when absent), dividing the head count.
fn kv_heads(json: &Json, n_heads: usize) -> Result<usize, String> {
    let kv = json.count("num_key_value_heads")?.unwrap_or(n_heads);
    if kv == 0 || !n_heads.is_multiple_of(kv) {
        return Err(format!(
            "`num_attention_heads` ({n_heads}) is not a multiple of `num_key_value_heads` ({kv})"
        ));
    }
    Ok(kv)
}

/// The MLP non-linearity named by `key`.
fn activation(json: &Json, key: &str) -> Result<MlpActivation, String> {
    match json.str(key)?.unwrap_or("gelu_new") {
        "gelu" => Ok(MlpActivation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(MlpActivation::GeluTanh),
        "relu" => Ok(MlpActivation::Relu),
        "silu" | "swish" => Ok(MlpActivation::SwiGlu),
        other => Err(format!(
            "`{key}` {other:?} is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu, silu)"
        )),
    }
}

/// The window of the layers that attend locally: `layer_types` where the file has it, else the
/// layers `default_local` picks; `None` without a `sliding_window`.
fn window(
    json: &Json,
    n_layers: usize,
    default_local: impl Fn(usize) -> bool,
) -> Result<Option<SlidingWindow>, String> {
    let Some(size) = json.count("sliding_window")? else {
        return Ok(None);
    };
    if size == 0 {
        return Err("`sliding_window` is 0; it must be positive".into());
    }
    let layers: Vec<usize> = match json.strings("layer_types")? {
        Some(types) => {
            if types.len() != n_layers {
                return Err(format!(
                    "`layer_types` lists {} layers but `num_hidden_layers` is {n_layers}",
                    types.len()
                ));
            }
            let mut local = Vec::new();
            for (layer, kind) in types.iter().enumerate() {
                match *kind {
                    "sliding_attention" => local.push(layer),
                    "full_attention" => {}
                    other => {
                        return Err(format!(
                            "`layer_types` entry {layer} is {other:?}; cavern knows \
                             \"sliding_attention\" and \"full_attention\""
                        ));
                    }
                }
            }
            local
        }
        None => (0..n_layers).filter(|&l| default_local(l)).collect(),
    };
    Ok((!layers.is_empty()).then_some(SlidingWindow { size, layers }))
}

/// Rotary embeddings from `rope_parameters` (transformers 5; per layer type for Gemma 3) or
/// from `base_key` (default 10000) and `rope_scaling`.
fn rope(json: &Json, d_head: usize, base_key: &str) -> Result<RopeConfig, String> {
    let (global, local, scaling) = match json.object("rope_parameters")? {
        Some(params) => {
            let (global, local) = match params.object("full_attention")? {
                Some(full) => (full, params.object("sliding_attention")?),
                None => (params, None),
            };
            let scaling = rope_scaling(&global)?;
            (global, local, scaling)
        }
        None => {
            let scaling = match json.object("rope_scaling")? {
                Some(scaling) => rope_scaling(&scaling)?,
                None => RopeScaling::None,
            };
            (Json::new(json.map), None, scaling)
        }
    };
    let base = global
        .positive("rope_theta")?
        .or(json.positive(base_key)?)
        .unwrap_or(10_000.0);
    let local_base = match &local {
        Some(local) => {
            if rope_scaling(local)? != RopeScaling::None {
                return Err("RoPE scaling of local layers is not supported".into());
            }
            local.positive("rope_theta")?.map(|b| b as f32)
        }
        None => None,
    };
    let rotary_dim = match global.positive("partial_rotary_factor")? {
        Some(factor) => Some(rotary_dim(d_head, factor)?),
        None => None,
    };
    Ok(RopeConfig {
        base: base as f32,
        layout: RopeLayout::RotateHalf,
        rotary_dim,
        local_base,
        scaling,
    })
}

/// The scaling an object with `rope_type` (or `type`) and its factors describes.
fn rope_scaling(params: &Json) -> Result<RopeScaling, String> {
    let kind = match params.str("rope_type")? {
        Some(kind) => Some(kind),
        None => params.str("type")?,
    };
    let factor = |key: &str| {
        params
            .positive(key)?
            .ok_or_else(|| format!("RoPE scaling needs `{key}`"))
    };
    match kind.unwrap_or("default") {
        "default" => Ok(RopeScaling::None),
        "linear" => Ok(RopeScaling::Linear {
            factor: factor("factor")?,
        }),
        "llama3" => {
            let (low, high) = (factor("low_freq_factor")?, factor("high_freq_factor")?);
            if high <= low {
                return Err("llama3 RoPE scaling needs high_freq_factor > low_freq_factor".into());
            }
            Ok(RopeScaling::Llama3 {
                factor: factor("factor")?,
                low_freq_factor: low,
                high_freq_factor: high,
                original_max_position: factor("original_max_position_embeddings")?,
            })
        }
        other => Err(format!(
            "RoPE scaling {other:?} is not supported (default, linear, llama3)"
        )),
    }
}

/// The rotated width of a head: `d_head × factor`, rounded down as transformers does.
fn rotary_dim(d_head: usize, factor: f64) -> Result<usize, String> {
    let dim = (d_head as f64 * factor) as usize;
    match dim > 0 && dim <= d_head && dim.is_multiple_of(2) {
        true => Ok(dim),
        false => Err(format!(
            "the rotary fraction {factor} of a head of {d_head} gives {dim} dimensions; cavern \
             needs an even number between 2 and {d_head}"
        )),
    }
}

/// `pad_token_id`, else the (first) `eos_token_id`, else 0.
fn pad_id(json: &Json) -> Result<u32, String> {
    let first_eos = match json.get("eos_token_id") {
        Some(Value::Array(ids)) => ids.first().and_then(Value::as_u64),
        Some(other) => Some(
            other
                .as_u64()
                .ok_or_else(|| wrong("eos_token_id", other, "a token id"))?,
        ),
        None => None,
    };
    let id = match json.count("pad_token_id")? {
        Some(id) => id as u64,
        None => first_eos.unwrap_or(0),
    };
    u32::try_from(id).map_err(|_| format!("the pad token id {id} does not fit a u32"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(family: Family, text: &str) -> Result<TransformerConfig, String> {
        let value: Value = serde_json::from_str(text).unwrap();
        decoder_config(family, &Json::new(value.as_object().unwrap()))
    }

    const LLAMA: &str = r#"{"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "intermediate_size": 48,
        "hidden_act": "silu", "rms_norm_eps": 1e-5"#;

    /// Found by fuzzing: a Mistral config with 2^32 layers listed every layer as local.
    #[test]
    fn a_layer_count_beyond_the_bound_is_refused_before_any_list() {
        let text = LLAMA.replace(
            "\"num_hidden_layers\": 2",
            "\"num_hidden_layers\": 4294967296",
        );
        let error = config(
            Family::Mistral,
            &format!(r#"{text}, "sliding_window": 4}}"#),
        );
        assert_eq!(
            error.unwrap_err(),
            "`num_hidden_layers` is 4294967296; cavern reads at most 4096 layers \
             (correct `num_hidden_layers`)"
        );
        let text = LLAMA.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 4096");
        assert_eq!(
            config(Family::Llama, &format!("{text}}}"))
                .unwrap()
                .n_layers,
            4096
        );
    }

    #[test]
    fn rope_reads_old_and_new_field_names() {
        let old = config(
            Family::Llama,
            &format!(
                r#"{LLAMA}, "rope_theta": 500000.0, "rope_scaling": {{"rope_type": "llama3",
                "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192}}}}"#
            ),
        )
        .unwrap();
        let new = config(
            Family::Llama,
            &format!(
                r#"{LLAMA}, "rope_parameters": {{"rope_theta": 500000.0, "rope_type": "llama3",
                "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 8192}}}}"#
            ),
        )
        .unwrap();
        assert_eq!(old, new);
        let Positions::Rope(rope) = old.positions else {
            panic!("rope")
        };
        assert_eq!(rope.base, 500_000.0);
        assert!(matches!(
            rope.scaling,
            RopeScaling::Llama3 { factor: 8.0, .. }
        ));
    }

    #[test]
    fn mistral_windows_every_layer_and_qwen2_has_qkv_bias() {
        let mistral = config(
            Family::Mistral,
            &format!(r#"{LLAMA}, "sliding_window": 3}}"#),
        )
        .unwrap();
        assert_eq!(mistral.window(0), Some(3));
        assert_eq!(mistral.window(1), Some(3));
        let qwen = config(Family::Qwen2, &format!("{LLAMA}}}")).unwrap();
        assert_eq!(qwen.attention_bias, AttentionBias::Qkv);
        assert_eq!(qwen.window(0), None);
    }

    #[test]
    fn inconsistent_fields_are_refused_by_name() {
        let cases = [
            (
                r#""num_key_value_heads": 3"#,
                "not a multiple of `num_key_value_heads` (3)",
            ),
            (r#""hidden_act": "gelu""#, "`hidden_act` must be \"silu\""),
            (
                r#""vocab_size": -1"#,
                "`vocab_size` should be a non-negative integer",
            ),
            (
                r#""rope_scaling": {"type": "yarn", "factor": 2}"#,
                "\"yarn\" is not supported",
            ),
            (
                r#""layer_types": ["full_attention"], "sliding_window": 4"#,
                "lists 1 layers",
            ),
            (r#""pad_token_id": 64"#, "pad_id is outside the vocabulary"),
        ];
        for (field, message) in cases {
            // A later duplicate key wins in serde_json's map.
            let error = config(Family::Mistral, &format!("{LLAMA}, {field}}}")).unwrap_err();
            assert!(error.contains(message), "{field}: {error}");
        }
    }

    #[test]
    fn gemma3_local_layers_and_bases() {
        let text = r#"{"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 7,
            "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
            "intermediate_size": 48, "hidden_activation": "gelu_pytorch_tanh",
            "query_pre_attn_scalar": 16, "sliding_window": 4, "rope_theta": 1000000.0,
            "rope_local_base_freq": 10000.0}"#;
        let gemma = config(Family::Gemma3, text).unwrap();
        let windowed: Vec<bool> = (0..7).map(|l| gemma.window(l).is_some()).collect();
        assert_eq!(windowed, [true, true, true, true, true, false, true]);
        let Positions::Rope(rope) = gemma.positions else {
            panic!("rope")
        };
        assert_eq!((rope.base, rope.local_base), (1e6, Some(1e4)));
        assert_eq!(gemma.options.attn_scale, Some(0.25));
        assert_eq!(gemma.activation, MlpActivation::GeGlu);
    }
}
