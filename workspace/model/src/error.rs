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
    #[error("the text {} has no tokens", quote_text(text))]
    EmptyText {
        /// The text.
        text: String,
    },
    /// The tokenizer failed on a text.
    #[error("cannot tokenize {}: {detail}", quote_text(text))]
    Tokenize {
        /// The text.
        text: String,
        /// The tokenizer's message.
        detail: String,
    },
    /// A text is longer than the model supports.
    #[error(
        "the text {} has {len} tokens; the model takes at most {max}",
        quote_text(text)
    )]
    TooLong {
        /// The text.
        text: String,
        /// Its token count.
        len: usize,
        /// The model's limit.
        max: usize,
    },
    /// A generation cannot run as asked; the message says why and how to fix it.
    #[error("cannot generate: {0}")]
    Generate(String),
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Words kept at each end of a long text that an error message quotes.
const QUOTED_WORDS: usize = 6;

/// Characters kept at each end of a long text without spaces that an error message quotes.
const QUOTED_CHARS: usize = 60;

/// A text as error messages quote it, in double quotes with escapes: whole when short; when it
/// has more than 3 × [`QUOTED_WORDS`] words, its first and last [`QUOTED_WORDS`] words around
/// `… (N words) …`; when it is longer than 3 × [`QUOTED_CHARS`] characters in fewer words, its
/// first and last [`QUOTED_CHARS`] characters around `… (N characters) …`.
pub fn quote_text(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.len() > 3 * QUOTED_WORDS {
        let head = words[..QUOTED_WORDS].join(" ");
        let tail = words[words.len() - QUOTED_WORDS..].join(" ");
        return format!("{head:?} … ({} words) … {tail:?}", words.len());
    }
    let chars: Vec<char> = text.chars().collect();
    if chars.len() > 3 * QUOTED_CHARS {
        let head: String = chars[..QUOTED_CHARS].iter().collect();
        let tail: String = chars[chars.len() - QUOTED_CHARS..].iter().collect();
        return format!("{head:?} … ({} characters) … {tail:?}", chars.len());
    }
    format!("{text:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_quoted_by_their_ends() {
        assert_eq!(quote_text("a \"short\" one"), r#""a \"short\" one""#);
        let long: Vec<String> = (0..700).map(|i| format!("w{i}")).collect();
        let error = ModelError::TooLong {
            text: long.join(" "),
            len: 702,
            max: 512,
        };
        assert_eq!(
            error.to_string(),
            "the text \"w0 w1 w2 w3 w4 w5\" … (700 words) … \"w694 w695 w696 w697 w698 w699\" \
             has 702 tokens; the model takes at most 512"
        );
        let unbroken = "é".repeat(200);
        let quoted = quote_text(&unbroken);
        assert!(quoted.contains("… (200 characters) …"), "{quoted}");
        assert_eq!(quoted.matches('é').count(), 2 * QUOTED_CHARS);
        assert_eq!(
            quote_text(&"x ".repeat(18)),
            format!("{:?}", "x ".repeat(18))
        );
    }
}
