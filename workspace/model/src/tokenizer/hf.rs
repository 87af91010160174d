//! Hugging Face `tokenizer.json` files, run by the `tokenizers` crate.

use crate::error::ModelError;
use std::path::Path;

/// A `tokenizer.json` tokenizer with padding and truncation switched off (MiniLM's file pads
/// and truncates every text to 128 tokens; cavern pads batches itself and refuses texts longer
/// than the model takes), or one built in code (SentencePiece from GGUF, [`crate::spm`]).
#[derive(Debug)]
pub struct HfTokenizer {
    inner: tokenizers::Tokenizer,
    texts: TokenTexts,
}

/// What a token's readable text is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TokenTexts {
    /// Its vocabulary entry (`##ing`, `[CLS]`), as for WordPiece.
    Vocabulary,
    /// What the decoder makes of it alone (` Paris` for `▁Paris` or `ĠParis`), as for
    /// SentencePiece and byte-level BPE.
    Decoded,
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
        // The tokenizers crate panics on some JSON syntax errors (inside its `decoder`), so the
        // syntax (UTF-8 included) is checked first.
        serde_json::from_slice::<serde_json::Value>(bytes)
            .map_err(|e| format!("not a valid tokenizer.json: {e}"))?;
        let mut inner = tokenizers::Tokenizer::from_bytes(bytes)
            .map_err(|e| format!("not a valid tokenizer.json: {e}"))?;
        inner.with_padding(None);
        inner
            .with_truncation(None)
            .map_err(|e| format!("cannot switch truncation off: {e}"))?;
        // A WordPiece entry reads as it is; a byte-level BPE entry (`ĠParis`) as its decoded text.
        let texts = match inner.get_model() {
            tokenizers::models::ModelWrapper::WordPiece(_) => TokenTexts::Vocabulary,
            _ => TokenTexts::Decoded,
        };
        Ok(HfTokenizer { inner, texts })
    }

    /// A tokenizer built in code (no padding or truncation) whose tokens read as the decoder
    /// writes them.
    pub(crate) fn with_decoded_tokens(inner: tokenizers::Tokenizer) -> HfTokenizer {
        HfTokenizer {
            inner,
            texts: TokenTexts::Decoded,
        }
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
        let ids = encoding.get_ids().to_vec();
        let tokens = match self.texts {
            TokenTexts::Vocabulary => encoding.get_tokens().to_vec(),
            TokenTexts::Decoded => ids.iter().map(|&id| self.token_text(id)).collect(),
        };
        Ok((ids, tokens))
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

    /// The readable text of `id` (`##ing`, `[CLS]`, ` Paris`), empty outside the vocabulary.
    pub fn token_text(&self, id: u32) -> String {
        match self.texts {
            TokenTexts::Vocabulary => self.inner.id_to_token(id),
            TokenTexts::Decoded => self.inner.decode(&[id], false).ok(),
        }
        .unwrap_or_default()
    }

    /// The text of a token sequence, special tokens written out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, ModelError> {
        self.inner
            .decode(ids, false)
            .map_err(|e| ModelError::Tokenize {
                text: format!("{ids:?}"),
                detail: e.to_string(),
            })
    }

    /// Vocabulary size, added tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
