//! The tokenizer metadata of a GGUF file (`tokenizer.ggml.*`), read with errors that name the
//! key: what both GGUF tokenizers, byte-level BPE and SentencePiece, start from.

use crate::ModelError;
use crate::gguf::{GgufFile, MetaValue};

/// `tokenizer.ggml.token_type` of an ordinary token.
pub(crate) const TOKEN_TYPE_NORMAL: u64 = 1;
/// `tokenizer.ggml.token_type` of a control token such as `<bos>` or `<|im_start|>`.
pub(crate) const TOKEN_TYPE_CONTROL: u64 = 3;
/// `tokenizer.ggml.token_type` of a user-defined token, matched whole in the text.
pub(crate) const TOKEN_TYPE_USER_DEFINED: u64 = 4;

/// The type of every token (`tokenizer.ggml.token_type`), or `None` when the file has none.
pub(crate) fn token_types(
    file: &GgufFile,
    n_tokens: usize,
) -> Result<Option<Vec<u64>>, ModelError> {
    let key = "tokenizer.ggml.token_type";
    let Some(value) = file.get(key) else {
        return Ok(None);
    };
    let items = array(value, key)?;
    if items.len() != n_tokens {
        return Err(invalid(format!(
            "{key} has {} entries but there are {n_tokens} tokens",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_u64()
                .ok_or_else(|| invalid(format!("{key}[{i}] is {}", item.type_name())))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// The score of every token (`tokenizer.ggml.scores`), which must be present.
pub(crate) fn scores(file: &GgufFile, n_tokens: usize) -> Result<Vec<f64>, ModelError> {
    let key = "tokenizer.ggml.scores";
    let value = file
        .get(key)
        .ok_or_else(|| invalid(format!("{key} is missing")))?;
    let items = array(value, key)?;
    if items.len() != n_tokens {
        return Err(invalid(format!(
            "{key} has {} entries but there are {n_tokens} tokens",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_f64()
                .ok_or_else(|| invalid(format!("{key}[{i}] is {}", item.type_name())))
        })
        .collect()
}

/// A required string value.
pub(crate) fn meta_str<'a>(file: &'a GgufFile, key: &str) -> Result<&'a str, ModelError> {
    let value = file
        .get(key)
        .ok_or_else(|| invalid(format!("{key} is missing")))?;
    value
        .as_str()
        .ok_or_else(|| invalid(format!("{key} is {}, not a string", value.type_name())))
}

/// A required array of strings.
pub(crate) fn meta_strings(file: &GgufFile, key: &str) -> Result<Vec<String>, ModelError> {
    let value = file
        .get(key)
        .ok_or_else(|| invalid(format!("{key} is missing")))?;
    array(value, key)?
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            MetaValue::String(s) => Ok(s.clone()),
            other => Err(invalid(format!("{key}[{i}] is {}", other.type_name()))),
        })
        .collect()
}

/// An optional token id.
pub(crate) fn meta_id(file: &GgufFile, key: &str) -> Result<Option<u32>, ModelError> {
    let Some(value) = file.get(key) else {
        return Ok(None);
    };
    value
        .as_u64()
        .and_then(|id| u32::try_from(id).ok())
        .map(Some)
        .ok_or_else(|| invalid(format!("{key} is not a token id: {value:?}")))
}

/// An optional flag, `default` when absent.
pub(crate) fn meta_flag(file: &GgufFile, key: &str, default: bool) -> Result<bool, ModelError> {
    let Some(value) = file.get(key) else {
        return Ok(default);
    };
    value
        .as_bool()
        .ok_or_else(|| invalid(format!("{key} is {}, not a bool", value.type_name())))
}

/// The elements of an array value.
fn array<'a>(value: &'a MetaValue, key: &str) -> Result<&'a [MetaValue], ModelError> {
    value
        .as_array()
        .ok_or_else(|| invalid(format!("{key} is {}, not an array", value.type_name())))
}

/// A tokenizer-metadata error.
pub(crate) fn invalid(detail: String) -> ModelError {
    ModelError::Checkpoint {
        name: "tokenizer".to_string(),
        file: "GGUF tokenizer metadata".to_string(),
        detail,
    }
}
