//! Transformer configurations, shaped so that every family's checkpoints (BERT, GPT-2, GPT-NeoX,
//! Llama, Mistral, Qwen, Gemma) fit the same fields.

use serde::{Deserialize, Serialize};

/// Where the layer norms sit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Architecture {
    /// GPT/Llama-like: norm before attention and MLP, final norm, causal attention.
    PreNormDecoder,
    /// BERT-like: norm after each residual add, embedding norm, bidirectional attention.
    PostNormEncoder,
}

/// Normalisation layer kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// LayerNorm with weight and bias.
    LayerNorm,
    /// RMSNorm with weight only.
    RmsNorm,
}

/// How positions enter the model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Positions {
    /// Learned absolute position embeddings up to `max_len`.
    Learned {
        /// Longest supported sequence.
        max_len: usize,
    },
    /// Rotary embeddings on queries and keys.
    Rope(RopeConfig),
}

/// Rotary position embeddings: frequencies, which dimensions they rotate and how.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RopeConfig {
    /// Base frequency (`rope_theta`).
    pub base: f32,
    /// Which dimensions of a head form a rotated pair.
    #[serde(default, skip_serializing_if = "is_default")]
    pub layout: RopeLayout,
    /// How many leading dimensions of each head rotate (GPT-NeoX's partial rotary); the whole
    /// head when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotary_dim: Option<usize>,
    /// Base frequency of the sliding-window layers, when it differs (Gemma 3's
    /// `rope_local_base_freq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_base: Option<f32>,
    /// Frequency scaling of the global layers.
    #[serde(default, skip_serializing_if = "is_default")]
    pub scaling: RopeScaling,
}

impl RopeConfig {
    /// Whole-head rotary embeddings with base `base` in `layout`, unscaled.
    pub fn new(base: f32, layout: RopeLayout) -> RopeConfig {
        RopeConfig {
            base,
            layout,
            rotary_dim: None,
            local_base: None,
            scaling: RopeScaling::None,
        }
    }
}

/// Which dimensions of a head RoPE rotates together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RopeLayout {
    /// `(x[2i], x[2i+1])`: llama.cpp's layout (its converter permutes the query and key rows).
    #[default]
    AdjacentPairs,
    /// `(x[i], x[i + d/2])`: Hugging Face's `rotate_half`.
    RotateHalf,
}

/// How RoPE frequencies are rescaled for longer contexts.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RopeScaling {
    /// Frequencies as the base gives them.
    #[default]
    None,
    /// Every frequency divided by `factor` (position interpolation).
    Linear {
        /// The divisor.
        factor: f64,
    },
    /// Llama 3.1's scaling: long wavelengths divided by `factor`, short ones kept, a smooth
    /// blend between.
    Llama3 {
        /// Divisor of the long wavelengths.
        factor: f64,
        /// Wavelengths longer than `original_max_position / low_freq_factor` are divided.
        low_freq_factor: f64,
        /// Wavelengths shorter than `original_max_position / high_freq_factor` are kept.
        high_freq_factor: f64,
        /// The context length the model was trained with before scaling.
        original_max_position: f64,
    },
}

/// MLP non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MlpActivation {
    /// Exact (erf) GELU, as in BERT and Pythia.
    Gelu,
    /// GELU's tanh approximation (`gelu_new`, `gelu_pytorch_tanh`), as in GPT-2.
    GeluTanh,
    /// ReLU.
    Relu,
    /// SwiGLU: `silu(gate(x)) * up(x)`, as in Llama.
    SwiGlu,
    /// GeGLU with tanh GELU: `gelu_tanh(gate(x)) * up(x)`, as in Gemma.
    GeGlu,
}

impl MlpActivation {
    /// Whether the MLP has a gate projection.
    pub fn is_gated(self) -> bool {
        matches!(self, MlpActivation::SwiGlu | MlpActivation::GeGlu)
    }
}

/// Which attention projections carry a bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AttentionBiasRepr", into = "AttentionBiasRepr")]
pub enum AttentionBias {
    /// No projection has one (Llama, Gemma).
    None,
    /// Query, key and value have one, the output projection not (Qwen2).
    Qkv,
    /// All four have one (BERT, GPT-2, GPT-NeoX).
    All,
}

impl AttentionBias {
    /// Whether the query, key and value projections have biases.
    pub fn qkv(self) -> bool {
        self != AttentionBias::None
    }

    /// Whether the output projection has a bias.
    pub fn output(self) -> bool {
        self == AttentionBias::All
    }
}

/// How `attention_bias` is written: `false` (none), `true` (all) or `"qkv"`, so that the
/// configurations written before `"qkv"` existed read and write unchanged.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum AttentionBiasRepr {
    Bool(bool),
    Named(AttentionBiasName),
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum AttentionBiasName {
    None,
    Qkv,
    All,
}

impl From<AttentionBias> for AttentionBiasRepr {
    fn from(bias: AttentionBias) -> AttentionBiasRepr {
        match bias {
            AttentionBias::None => AttentionBiasRepr::Bool(false),
            AttentionBias::Qkv => AttentionBiasRepr::Named(AttentionBiasName::Qkv),
            AttentionBias::All => AttentionBiasRepr::Bool(true),
        }
    }
}

impl From<AttentionBiasRepr> for AttentionBias {
    fn from(repr: AttentionBiasRepr) -> AttentionBias {
        match repr {
            AttentionBiasRepr::Bool(false) | AttentionBiasRepr::Named(AttentionBiasName::None) => {
                AttentionBias::None
            }
            AttentionBiasRepr::Named(AttentionBiasName::Qkv) => AttentionBias::Qkv,
            AttentionBiasRepr::Bool(true) | AttentionBiasRepr::Named(AttentionBiasName::All) => {
                AttentionBias::All
            }
        }
    }
}

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputHead {
    /// Class logits from the mean of the final hidden states over real tokens.
    Classifier {
        /// Number of classes.
        n_classes: usize,
    },
    /// The sentence embedding: the mean of the final hidden states over real tokens,
    /// L2-normalised (sentence-transformers' mean pooling + `Normalize`).
    SentenceEmbedding,
    /// Next-token logits at each sequence's last real token.
    LanguageModel {
        /// Whether the unembedding reuses the token embedding matrix.
        tied: bool,
    },
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

/// Everything needed to build a [`crate::Transformer`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TransformerConfig {
    /// Norm placement and attention masking.
    pub architecture: Architecture,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// Residual width.
    pub d_model: usize,
    /// Number of blocks.
    pub n_layers: usize,
    /// Query heads per block.
    pub n_heads: usize,
    /// Key/value heads per block (grouped-query attention when fewer than `n_heads`).
    pub n_kv_heads: usize,
    /// Width of one head.
    pub d_head: usize,
    /// MLP hidden width.
    pub d_mlp: usize,
    /// Normalisation kind.
    pub norm: NormKind,
    /// Normalisation epsilon.
    pub norm_eps: f64,
    /// Position scheme.
    pub positions: Positions,
    /// MLP non-linearity.
    pub activation: MlpActivation,
    /// Which attention projections have biases.
    pub attention_bias: AttentionBias,
    /// Whether the MLP projections have biases.
    pub mlp_bias: bool,
    /// Output head.
    pub head: OutputHead,
    /// Token id used for padding.
    pub pad_id: u32,
    /// What the decoder families add to this plan (all off for BERT, Llama and the toy models).
    #[serde(default, skip_serializing_if = "is_default")]
    pub options: FamilyOptions,
}

/// Decoder-family features beyond a plain pre-norm or post-norm transformer; the default turns
/// every one off.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct FamilyOptions {
    /// Attention and MLP both read the block's input and add to the same residual stream
    /// (GPT-NeoX's `use_parallel_residual`).
    pub parallel_attn_mlp: bool,
    /// A norm after attention and one after the MLP, before each joins the residual stream
    /// (Gemma 2 and 3).
    pub post_norms: bool,
    /// An RMSNorm over each query and key head before RoPE (Qwen3, Gemma 3).
    pub qk_norm: bool,
    /// Factor of the query-key dot products; `1/sqrt(d_head)` when `None` (Gemma:
    /// `query_pre_attn_scalar^-1/2`).
    pub attn_scale: Option<f64>,
    /// Attention scores pass through `cap * tanh(score / cap)` before the mask (Gemma 2).
    pub attn_softcap: Option<f64>,
    /// Logits pass through `cap * tanh(logit / cap)` (Gemma 2).
    pub final_softcap: Option<f64>,
    /// Factor of the token embeddings (Gemma: `sqrt(d_model)`); 1 when `None`.
    pub embed_scale: Option<f64>,
    /// Local attention: the layers that see only the last `size` positions.
    pub sliding_window: Option<SlidingWindow>,
}

/// Sliding-window (local) attention on some layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlidingWindow {
    /// How many positions a query sees: itself and the `size - 1` before it.
    pub size: usize,
    /// The layers that attend locally; the others attend globally.
    pub layers: Vec<usize>,
}

impl TransformerConfig {
    /// Checks the shape constraints that would otherwise fail deep inside a forward pass.
    pub fn check(&self) -> Result<(), String> {
        let positive = [
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_layers", self.n_layers),
            ("n_heads", self.n_heads),
            ("n_kv_heads", self.n_kv_heads),
            ("d_head", self.d_head),
            ("d_mlp", self.d_mlp),
        ];
        if let Some((name, _)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(format!("{name} must be positive"));
        }
        if !self.n_heads.is_multiple_of(self.n_kv_heads) {
            return Err(format!(
                "n_heads ({}) must be a multiple of n_kv_heads ({})",
                self.n_heads, self.n_kv_heads
            ));
        }
        if let Positions::Rope(rope) = &self.positions {
            let rotary = rope.rotary_dim.unwrap_or(self.d_head);
            if rotary == 0 || rotary > self.d_head || !rotary.is_multiple_of(2) {
                return Err(format!(
                    "rotary embeddings need an even, positive rotary width of at most d_head \
                     ({}), not {rotary}",
                    self.d_head
                ));
            }
            let bases = [Some(rope.base), rope.local_base];
            if bases
                .into_iter()
                .flatten()
                .any(|b| !(b.is_finite() && b > 1.0))
            {
                return Err("the RoPE base must be a finite number above 1".into());
            }
        }
        if let Some(window) = &self.options.sliding_window {
            if window.size == 0 {
                return Err("the sliding window must be positive".into());
            }
            if let Some(layer) = window.layers.iter().find(|&&l| l >= self.n_layers) {
                return Err(format!(
                    "sliding-window layer {layer} is beyond the {} layers",
                    self.n_layers
                ));
            }
        }
        let factors = [
            ("attn_scale", self.options.attn_scale),
            ("attn_softcap", self.options.attn_softcap),
            ("final_softcap", self.options.final_softcap),
            ("embed_scale", self.options.embed_scale),
        ];
        if let Some((name, value)) = factors
            .iter()
            .find_map(|(n, v)| v.filter(|v| !(v.is_finite() && *v > 0.0)).map(|v| (n, v)))
        {
            return Err(format!("{name} must be a positive number, not {value}"));
        }
        if self.pad_id as usize >= self.vocab_size {
            return Err("pad_id is outside the vocabulary".into());
        }
        Ok(())
    }

    /// Longest sequence the position scheme supports, if bounded.
    pub fn max_len(&self) -> Option<usize> {
        match self.positions {
            Positions::Learned { max_len } => Some(max_len),
            Positions::Rope(_) => None,
        }
    }

    /// The sliding window of `layer`, if it attends locally.
    pub fn window(&self, layer: usize) -> Option<usize> {
        self.options
            .sliding_window
            .as_ref()
            .filter(|w| w.layers.contains(&layer))
            .map(|w| w.size)
    }
}
