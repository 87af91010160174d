//! The tokenizers of every model family behind one type, [`Tokenizer`].

mod hf;
mod word;

pub use hf::HfTokenizer;
pub use word::{PAD, UNK, WordTokenizer};

use crate::bpe::BpeTokenizer;
use crate::error::ModelError;
use crate::gguf::GgufFile;
use crate::gguf_vocab::{invalid, meta_str};
use crate::spm;

/// A model's tokenizer: word-level (toy models), byte-level BPE from GGUF metadata (SmolLM2),
/// or the `tokenizers` crate running a `tokenizer.json` (BERT family) or a SentencePiece model
/// from GGUF metadata (Gemma).
#[derive(Debug)]
pub enum Tokenizer {
    /// Lower-cased whitespace words of a toy language.
    Word(WordTokenizer),
    /// Byte-level BPE rebuilt from a GGUF file; adds no BOS token.
    Bpe(BpeTokenizer),
    /// A `tokenizer.json` or a GGUF SentencePiece model run by the `tokenizers` crate, with its
    /// special tokens (`[CLS]`, `[SEP]`, `<bos>`) and without padding or truncation.
    HuggingFace(HfTokenizer),
}

/// A text's token ids and a readable text for each token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// One readable string per token (` Paris`, `##ing`, `[CLS]`).
    pub tokens: Vec<String>,
}

impl Tokenizer {
    /// The tokenizer a GGUF file's `tokenizer.ggml.model` names: byte-level BPE for `"gpt2"`,
    /// SentencePiece for `"llama"`.
    pub fn from_gguf(file: &GgufFile) -> Result<Tokenizer, ModelError> {
        match meta_str(file, "tokenizer.ggml.model")? {
            "llama" => Ok(Tokenizer::HuggingFace(spm::from_gguf(file)?)),
            "gpt2" => Ok(Tokenizer::Bpe(BpeTokenizer::from_gguf(file)?)),
            other => Err(invalid(format!(
                "tokenizer.ggml.model is {other:?}; cavern reads \"gpt2\" (byte-level BPE) and \
                 \"llama\" (SentencePiece)"
            ))),
        }
    }

    /// The ids and token texts of `text`, with the special tokens the model expects.
    pub fn encode(&self, text: &str) -> Result<Encoding, ModelError> {
        let (ids, tokens) = match self {
            Tokenizer::Word(t) => t.encode(text),
            Tokenizer::Bpe(t) => t.encode_with_tokens(text),
            Tokenizer::HuggingFace(t) => t.encode(text)?,
        };
        Ok(Encoding { ids, tokens })
    }

    /// Whether each token of `text` (as [`Tokenizer::encode`] cuts it) is a special token: the
    /// encoding's special-tokens mask for a `tokenizer.json` (`[CLS]`, `[SEP]`), the GGUF
    /// control and user-defined tokens for BPE; the toy word tokenizer has none.
    pub fn special_mask(&self, text: &str) -> Result<Vec<bool>, ModelError> {
        Ok(match self {
            Tokenizer::Word(t) => vec![false; t.encode(text).0.len()],
            Tokenizer::Bpe(t) => t
                .encode(text)
                .into_iter()
                .map(|id| t.is_special(id))
                .collect(),
            Tokenizer::HuggingFace(t) => t.special_mask(text)?,
        })
    }

    /// The id of the one token `text` stands for (`" Paris"` for a BPE vocabulary), or `None`
    /// when it is not exactly one token.
    pub fn single_token(&self, text: &str) -> Option<u32> {
        match self {
            Tokenizer::Word(t) => t.id(text),
            Tokenizer::Bpe(t) => match t.encode(text).as_slice() {
                [id] => Some(*id),
                _ => None,
            },
            Tokenizer::HuggingFace(t) => t.single_token(text),
        }
    }

    /// The readable text of one token id.
    pub fn token_text(&self, id: u32) -> String {
        match self {
            Tokenizer::Word(t) => t.words().get(id as usize).cloned().unwrap_or_default(),
            Tokenizer::Bpe(t) => t.decode(&[id]),
            Tokenizer::HuggingFace(t) => t.token_text(id),
        }
    }

    /// Generated tokens as text: decoded bytes for byte-level BPE, token texts joined by
    /// spaces otherwise.
    pub fn generated_text(&self, ids: &[u32]) -> String {
        match self {
            Tokenizer::Bpe(bpe) => bpe.decode(ids),
            other => {
                let words: Vec<String> = ids.iter().map(|&id| other.token_text(id)).collect();
                words.join(" ")
            }
        }
    }

    /// Number of token ids.
    pub fn vocab_size(&self) -> usize {
        match self {
            Tokenizer::Word(t) => t.vocab_size(),
            Tokenizer::Bpe(t) => t.vocab_size(),
            Tokenizer::HuggingFace(t) => t.vocab_size(),
        }
    }

    /// Every token text that [`Tokenizer::single_token`] accepts, for checking and suggesting
    /// targets before a run.
    pub fn single_tokens(&self) -> Vec<String> {
        (0..self.vocab_size() as u32)
            .map(|id| self.token_text(id))
            .filter(|text| !text.is_empty())
            .filter(|text| self.single_token(text).is_some())
            .collect()
    }
}
