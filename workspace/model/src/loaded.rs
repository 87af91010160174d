//! A model ready to run: its weights, its tokenizer and where they came from.

use crate::TokenBatch;
use crate::config::{Architecture, TransformerConfig};
use crate::error::ModelError;
use crate::tokenizer::{Encoding, Tokenizer};
use crate::transformer::Transformer;
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Encoder (classifier or sentence embedding) or decoder (next-token) model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    /// Bidirectional encoder.
    Encoder,
    /// Causal language model.
    Decoder,
}

/// A model ready to run.
#[derive(Debug)]
pub struct LoadedModel {
    /// Model name (a built-in or fetchable name, or the file or folder name).
    pub name: String,
    /// What the model is.
    pub description: String,
    /// The weights.
    pub transformer: Transformer,
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// Class names, when the model ends in a classifier.
    pub class_names: Vec<String>,
    /// Held-out accuracy of a built-in toy model's training.
    pub heldout_accuracy: Option<f64>,
    /// Where the model came from (`built-in`, or its path).
    pub source: String,
    /// sha256 of the files the model was read from, hex.
    pub sha256: String,
}

impl LoadedModel {
    /// Model name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The architecture.
    pub fn config(&self) -> &TransformerConfig {
        &self.transformer.config
    }

    /// Encoder or decoder.
    pub fn kind(&self) -> ModelKind {
        kind_of(self.config())
    }

    /// Number of blocks.
    pub fn n_layers(&self) -> usize {
        self.config().n_layers
    }

    /// Class names (empty unless the model ends in a classifier).
    pub fn class_names(&self) -> &[String] {
        &self.class_names
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &Tokenizer {
        &self.tokenizer
    }

    /// Appends a classifier head (`weight` `[d_model, classes]`) reading the mean-pooled final
    /// hidden states, as an experiment does after training one on labelled examples.
    pub fn attach_classifier(
        &mut self,
        class_names: Vec<String>,
        weight: Tensor<2>,
        bias: Tensor<1>,
    ) {
        self.transformer.set_classifier(weight, bias);
        self.class_names = class_names;
    }

    /// Tokenizes each text, refusing texts with no tokens or more than the model takes.
    pub fn encode_texts(&self, texts: &[String]) -> Result<Vec<Encoding>, ModelError> {
        let max = self.config().max_len();
        texts
            .iter()
            .map(|text| {
                let encoding = self.tokenizer.encode(text)?;
                if encoding.ids.is_empty() {
                    return Err(ModelError::EmptyText { text: text.clone() });
                }
                match max.filter(|&m| encoding.ids.len() > m) {
                    Some(max) => Err(ModelError::TooLong {
                        text: text.clone(),
                        len: encoding.ids.len(),
                        max,
                    }),
                    None => Ok(encoding),
                }
            })
            .collect()
    }

    /// Tokenizes texts into a padded batch (see [`LoadedModel::encode_texts`]).
    pub fn encode(&self, texts: &[String]) -> Result<TokenBatch, ModelError> {
        let encodings = self.encode_texts(texts)?;
        Ok(self.batch(encodings.into_iter().map(|e| e.ids).collect()))
    }

    /// A batch of token id sequences, padded with the model's pad id.
    pub fn batch(&self, ids: Vec<Vec<u32>>) -> TokenBatch {
        TokenBatch {
            ids,
            pad_id: self.config().pad_id,
        }
    }
}

/// Encoder or decoder, from the architecture.
pub fn kind_of(config: &TransformerConfig) -> ModelKind {
    match config.architecture {
        Architecture::PostNormEncoder => ModelKind::Encoder,
        Architecture::PreNormDecoder => ModelKind::Decoder,
    }
}
