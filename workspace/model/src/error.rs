//! Errors of model loading and tokenization.

use thiserror::Error;

/// What can go wrong when loading or running a model.
#[derive(Debug, Error)]
pub enum ModelError {
    /// The name is neither built in nor known.
    #[error("unknown model `{name}`; known models: {known}")]
    UnknownModel {
        /// The requested name.
        name: String,
        /// Comma-separated known names.
        known: String,
    },
    /// A known model cannot be used as named (not fetched, damaged, or the path is wrong); the
    /// message says how to fix it.
    #[error("{0}")]
    Unavailable(String),
    /// A checkpoint file is missing, truncated or inconsistent.
    #[error("cannot load model `{name}` from {file}: {detail}")]
    Checkpoint {
        /// Model name.
        name: String,
        /// The offending file.
        file: String,
        /// What is wrong.
        detail: String,
    },
    /// A text produced no tokens.
    #[error("the text {text:?} has no tokens")]
    EmptyText {
        /// The text.
        text: String,
    },
    /// The tokenizer failed on a text.
    #[error("cannot tokenize {text:?}: {detail}")]
    Tokenize {
        /// The text.
        text: String,
        /// The tokenizer's message.
        detail: String,
    },
    /// A text is longer than the model supports.
    #[error("the text {text:?} has {len} tokens; the model takes at most {max}")]
    TooLong {
        /// The text.
        text: String,
        /// Its token count.
        len: usize,
        /// The model's limit.
        max: usize,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}
