//! Hugging Face `tokenizer.json` files, run by the `tokenizers` crate.

use crate::error::ModelError;
use std::path::Path;

/// A `tokenizer.json` tokenizer with padding and truncation switched off (MiniLM's file pads
/// and truncates every text to 128 tokens; cavern pads batches itself and refuses texts longer
/// than the model takes).
#[derive(Debug)]
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
}

impl HfTokenizer {
    /// Reads `path`, naming it in the error when it is not a valid `tokenizer.json`.
    pub fn from_file(path: &Path) -> Result<HfTokenizer, ModelError> {
        let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
            path: path.display().to_string(),
            source,
        })?;
        HfTokenizer::from_bytes(&bytes).map_err(|detail| ModelError::Checkpoint {
            name: "tokenizer".into(),
            file: path.display().to_string(),
            detail,
        })
    }

    /// Parses the contents of a `tokenizer.json`.
    pub fn from_bytes(bytes: &[u8]) -> Result<HfTokenizer, String> {
        let mut inner = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| format!("not a valid tokenizer.json: {e}"))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| format!("cannot switch truncation off: {e}"))?;
        Ok(HfTokenizer { inner })
    }

    /// Ids and token strings of `text`, with the post-processor's special tokens.
    pub fn encode(&self, text: &str) -> Result<(Vec<u32>, Vec<String>), ModelError> {
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| ModelError::Tokenize {
                text: text.to_string(),
                detail: e.to_string(),
            })?;
        Ok((encoding.get_ids().to_vec(), encoding.get_tokens().to_vec()))
    }

    /// Whether each token of `text` (as [`HfTokenizer::encode`] cuts it) is a special token:
    /// the encoding's special-tokens mask (`[CLS]`, `[SEP]`).
    pub fn special_mask(&self, text: &str) -> Result<Vec<bool>, ModelError> {
        let encoding = self
            .inner
            .encode(text, true)
            .map_err(|e| ModelError::Tokenize {
                text: text.to_string(),
                detail: e.to_string(),
            })?;
        Ok(encoding
            .get_special_tokens_mask()
            .iter()
            .map(|&m| m == 1)
            .collect())
    }

    /// The id of `text` when it is one token without special tokens added.
    pub fn single_token(&self, text: &str) -> Option<u32> {
        let encoding = self.inner.encode(text, false).ok()?;
        match encoding.get_ids() {
            [id] => Some(*id),
            _ => None,
        }
    }

    /// The readable text of `id`, empty outside the vocabulary: a WordPiece vocabulary's entry
    /// as it is (`##ing`, `[CLS]`), else the decoder's text of the token alone (` Paris` for
    /// the byte-level entry `ĠParis`).
    pub fn token_text(&self, id: u32) -> String {
        match self.inner.get_model() {
            tokenizers::models::ModelWrapper::WordPiece(_) => {
                self.inner.id_to_token(id).unwrap_or_default()
            }
            _ => match self.inner.id_to_token(id) {
                Some(_) => self.inner.decode(&[id], false).unwrap_or_default(),
                None => String::new(),
            },
        }
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
