//! Built-in models: toy checkpoints embedded in the binary, loaded into a [`Transformer`].

use crate::config::TransformerConfig;
use crate::error::ModelError;
use crate::loaded::LoadedModel;
use crate::tokenizer::{Tokenizer, WordTokenizer};
use crate::toy::train::TrainingRecord;
use crate::toy::{self, TOY_NAMES};
use crate::transformer::Transformer;
use burn::module::Module;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

/// Everything about a checkpoint except its weights (stored as `NAME.json` beside them).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ModelCard {
    /// Model name.
    pub name: String,
    /// What the model does.
    pub description: String,
    /// Architecture.
    pub config: TransformerConfig,
    /// Vocabulary, by id.
    pub vocabulary: WordTokenizer,
    /// Class names (classifiers only).
    pub class_names: Vec<String>,
    /// How it was trained.
    pub training: TrainingRecord,
}

struct Embedded {
    name: &'static str,
    card: &'static [u8],
    weights: &'static [u8],
}

const EMBEDDED: [Embedded; 2] = [
    Embedded {
        name: "toy-sentiment",
        card: include_bytes!("../checkpoints/toy-sentiment.json"),
        weights: include_bytes!("../checkpoints/toy-sentiment.safetensors"),
    },
    Embedded {
        name: "toy-recall",
        card: include_bytes!("../checkpoints/toy-recall.json"),
        weights: include_bytes!("../checkpoints/toy-recall.safetensors"),
    },
];

/// Names of the built-in models.
pub fn builtin_names() -> &'static [&'static str] {
    &TOY_NAMES
}

/// Loads a built-in model onto `device`.
pub fn load_builtin(name: &str, device: &Device) -> Result<LoadedModel, ModelError> {
    let embedded =
        EMBEDDED
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| ModelError::UnknownModel {
                name: name.to_string(),
                known: TOY_NAMES.join(", "),
            })?;
    load_checkpoint(name, embedded.card, embedded.weights, "built-in", device)
}

/// Loads a model from card and weight bytes, checking that they agree.
pub fn load_checkpoint(
    name: &str,
    card: &[u8],
    weights: &[u8],
    source: &str,
    device: &Device,
) -> Result<LoadedModel, ModelError> {
    let fail = |file: &str, detail: String| ModelError::Checkpoint {
        name: name.to_string(),
        file: file.to_string(),
        detail,
    };
    let card_file = format!("{name}.json");
    let weights_file = format!("{name}.safetensors");
    if card.is_empty() || weights.is_empty() {
        return Err(fail(
            &weights_file,
            format!("the checkpoint is empty; train it with `cavern train-toy {name}`"),
        ));
    }
    let card: ModelCard = serde_json::from_slice(card)
        .map_err(|e| fail(&card_file, format!("invalid model card: {e}")))?;
    card.config.check().map_err(|e| fail(&card_file, e))?;
    if card.vocabulary.vocab_size() != card.config.vocab_size {
        return Err(fail(
            &card_file,
            "vocabulary size disagrees with the config".into(),
        ));
    }
    let mut transformer = Transformer::new(card.config.clone(), device);
    let mut store = SafetensorsStore::from_bytes(Some(weights.to_vec()));
    let applied = transformer
        .load_from(&mut store)
        .map_err(|e| fail(&weights_file, format!("corrupt or truncated weights: {e}")))?;
    if !applied.missing.is_empty() || !applied.errors.is_empty() {
        let missing: Vec<_> = applied
            .missing
            .iter()
            .map(|(path, _)| path.as_str())
            .collect();
        return Err(fail(
            &weights_file,
            format!(
                "weights do not fit the config (missing: {missing:?}, errors: {:?})",
                applied.errors
            ),
        ));
    }
    let sha256 = hex_sha256(&[&serde_json::to_vec(&card).unwrap_or_default(), weights]);
    Ok(LoadedModel {
        name: card.name,
        description: card.description,
        transformer,
        tokenizer: Tokenizer::Word(card.vocabulary),
        class_names: card.class_names,
        heldout_accuracy: Some(card.training.heldout_accuracy),
        source: source.to_string(),
        sha256,
    })
}

/// Writes `NAME.json` and `NAME.safetensors` into `dir`.
pub fn save_checkpoint(
    dir: &Path,
    card: &ModelCard,
    model: &Transformer,
) -> Result<(), ModelError> {
    let io = |path: &Path| {
        let path = path.display().to_string();
        move |source| ModelError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    let card_path = dir.join(format!("{}.json", card.name));
    let json = serde_json::to_string_pretty(card).unwrap_or_default() + "\n";
    std::fs::write(&card_path, json).map_err(io(&card_path))?;
    let weights_path = dir.join(format!("{}.safetensors", card.name));
    let fail = |detail: String| ModelError::Checkpoint {
        name: card.name.clone(),
        file: weights_path.display().to_string(),
        detail,
    };
    let mut store = SafetensorsStore::from_bytes(None);
    model
        .save_into(&mut store)
        .map_err(|e| fail(e.to_string()))?;
    let bytes = store.get_bytes().map_err(|e| fail(e.to_string()))?;
    let bytes = sorted_header(bytes).map_err(fail)?;
    std::fs::write(&weights_path, bytes).map_err(io(&weights_path))
}

/// Rewrites a safetensors header with its keys (and metadata keys) in sorted order, padded to
/// its original length, so the same weights always give the same bytes.
fn sorted_header(mut bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let length = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
        .ok_or("file shorter than its header")? as usize;
    let header = bytes
        .get(8..8 + length)
        .ok_or("header longer than the file")?;
    let mut entries: BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| format!("header is not JSON: {e}"))?;
    if let Some(metadata) = entries.get_mut("__metadata__") {
        let sorted: BTreeMap<String, serde_json::Value> =
            serde_json::from_value(metadata.take()).map_err(|e| format!("bad metadata: {e}"))?;
        *metadata = serde_json::to_value(sorted).map_err(|e| e.to_string())?;
    }
    let mut text = serde_json::to_string(&entries).map_err(|e| e.to_string())?;
    if text.len() > length {
        return Err("sorted header does not fit".into());
    }
    text.extend(std::iter::repeat_n(' ', length - text.len()));
    bytes[8..8 + length].copy_from_slice(text.as_bytes());
    Ok(bytes)
}

/// Trains a toy model and builds its card.
///
/// Sets rayon's global pool to one thread, so call it before any other computation.
pub fn train_toy(
    name: &str,
    seed: u64,
    progress: &mut (dyn FnMut(usize, f32) + Send),
) -> Result<(ModelCard, Transformer), ModelError> {
    let task = toy::task(name).ok_or_else(|| ModelError::UnknownModel {
        name: name.to_string(),
        known: TOY_NAMES.join(", "),
    })?;
    // Parallel float reductions are not reproducible bit for bit, and the backward pass runs
    // outside any scoped pool: one global thread makes the checkpoint a pure function of the seed.
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global()
        .map_err(|e| ModelError::Checkpoint {
            name: name.to_string(),
            file: String::new(),
            detail: format!("training must run single-threaded in a fresh process: {e}"),
        })?;
    let (model, training) = toy::train::train(task.as_ref(), seed, progress);
    let card = ModelCard {
        name: name.to_string(),
        description: task.description().to_string(),
        config: model.config.clone(),
        vocabulary: task.tokenizer(),
        class_names: task.class_names(),
        training,
    };
    Ok((card, model.valid()))
}

/// The sha256 of the concatenated `parts`, lowercase hex.
pub(crate) fn hex_sha256(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
