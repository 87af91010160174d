//! Transformer configurations, shaped so that real checkpoints (BERT, Llama) fit the same fields.

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
    /// Rotary embeddings on queries and keys (llama.cpp's adjacent-pair layout).
    Rope {
        /// Base frequency.
        base: f32,
    },
}

/// MLP non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MlpActivation {
    /// Exact (erf) GELU, as in BERT.
    Gelu,
    /// ReLU.
    Relu,
    /// SwiGLU: `silu(gate(x)) * up(x)`, as in Llama.
    SwiGlu,
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
    /// Whether the attention projections have biases.
    pub attention_bias: bool,
    /// Whether the MLP projections have biases.
    pub mlp_bias: bool,
    /// Output head.
    pub head: OutputHead,
    /// Token id used for padding.
    pub pad_id: u32,
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
        if matches!(self.positions, Positions::Rope { .. }) && !self.d_head.is_multiple_of(2) {
            return Err("rotary embeddings need an even d_head".into());
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
            Positions::Rope { .. } => None,
        }
    }
}
