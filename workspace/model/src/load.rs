//! Loading any model by what an experiment file or command names: a built-in toy model, a
//! fetched model, or a local Hugging Face folder or GGUF file.

use crate::builtin::{builtin_names, hex_sha256, load_builtin};
use crate::config::TransformerConfig;
use crate::error::ModelError;
pub use crate::family::Family;
use crate::fetch::{self, cavern_home};
use crate::gguf::GgufFile;
use crate::gguf_model::{config_from_gguf, family_of, load_gguf_weights};
use crate::hf::{self, HfFolder};
use crate::loaded::LoadedModel;
use crate::tokenizer::{HfTokenizer, Tokenizer};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What names a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelRef {
    /// A built-in or fetchable model's name.
    Named(String),
    /// A local Hugging Face folder or GGUF file.
    Local {
        /// The family, when named; a folder's `config.json` says it otherwise, and a named one
        /// must agree with it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        family: Option<Family>,
        /// The folder or file.
        path: PathBuf,
    },
}

impl ModelRef {
    /// What a command-line `--model` names: an existing folder or `.gguf` file is a local
    /// model (its family read from it), anything else a built-in or fetchable name.
    pub fn from_arg(arg: &str) -> ModelRef {
        let path = Path::new(arg);
        if path.is_dir() || (path.is_file() && is_gguf(path)) {
            return ModelRef::Local {
                family: None,
                path: path.to_path_buf(),
            };
        }
        ModelRef::Named(arg.to_string())
    }

    /// The name, or the path, for messages.
    pub fn label(&self) -> String {
        match self {
            ModelRef::Named(name) => name.clone(),
            ModelRef::Local { path, .. } => path.display().to_string(),
        }
    }
}

/// Names a model may be given by: the built-in ones, then the fetchable ones.
pub fn model_names() -> Vec<&'static str> {
    let fetchable = fetch::known_models().iter().map(|spec| spec.name);
    builtin_names().iter().copied().chain(fetchable).collect()
}

/// A model's architecture and tokenizer, read without its weights where the format allows.
#[derive(Debug)]
pub struct ModelInfo {
    /// The architecture.
    pub config: TransformerConfig,
    /// The tokenizer.
    pub tokenizer: Tokenizer,
    /// Class names, when the model ends in a classifier.
    pub class_names: Vec<String>,
}

/// Describes a model without building it (GGUF files are read whole, but not dequantised).
pub fn inspect_model(model: &ModelRef) -> Result<ModelInfo, ModelError> {
    match locate(model)? {
        Located::Builtin(name) => {
            let loaded = load_builtin(&name, &Device::flex())?;
            Ok(ModelInfo {
                config: loaded.transformer.config,
                tokenizer: loaded.tokenizer,
                class_names: loaded.class_names,
            })
        }
        Located::Folder(family, dir) => {
            let folder = HfFolder::open(&dir)?;
            let (_, config) = hf::inspect(&folder, family)?;
            Ok(ModelInfo {
                config,
                tokenizer: Tokenizer::HuggingFace(HfTokenizer::from_file(&folder.tokenizer)?),
                class_names: Vec::new(),
            })
        }
        Located::Gguf(family, path) => {
            let file = read_gguf(&path)?;
            gguf_family(&file, family, &path)?;
            Ok(ModelInfo {
                config: config_from_gguf(&file).map_err(|e| in_file(e, &path))?,
                tokenizer: Tokenizer::from_gguf(&file).map_err(|e| in_file(e, &path))?,
                class_names: Vec::new(),
            })
        }
    }
}

/// Loads a model onto `device`.
pub fn load_model(model: &ModelRef, device: &Device) -> Result<LoadedModel, ModelError> {
    let label = model.label();
    let name = match model {
        ModelRef::Named(name) => name.clone(),
        ModelRef::Local { path, .. } => path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| label.clone()),
    };
    match locate(model)? {
        Located::Builtin(name) => load_builtin(&name, device),
        Located::Folder(family, dir) => {
            let folder = HfFolder::open(&dir)?;
            let (family, transformer, tokenizer) = hf::load(&folder, family, device)?;
            let c = &transformer.config;
            let description = match family {
                Family::Bert => format!(
                    "BERT encoder, {} layers, d={}, {} heads, read from {}",
                    c.n_layers,
                    c.d_model,
                    c.n_heads,
                    dir.display()
                ),
                _ => decoder_description(family, c, &dir),
            };
            let files = folder.files();
            Ok(LoadedModel {
                name,
                description,
                sha256: sha256_of_files(&files)?,
                transformer,
                tokenizer: Tokenizer::HuggingFace(tokenizer),
                class_names: Vec::new(),
                heldout_accuracy: None,
                source: dir.display().to_string(),
            })
        }
        Located::Gguf(family, path) => {
            let file = read_gguf(&path)?;
            let family = gguf_family(&file, family, &path)?;
            let tokenizer = Tokenizer::from_gguf(&file).map_err(|e| in_file(e, &path))?;
            let transformer = load_gguf_weights(&file, device).map_err(|e| in_file(e, &path))?;
            let description = decoder_description(family, &transformer.config, &path);
            Ok(LoadedModel {
                name,
                description,
                sha256: hex_sha256(&[file.bytes()]),
                transformer,
                tokenizer,
                class_names: Vec::new(),
                heldout_accuracy: None,
                source: path.display().to_string(),
            })
        }
    }
}

/// Where a model's files are.
enum Located {
    Builtin(String),
    /// A Hugging Face folder, with the family the caller named, if any.
    Folder(Option<Family>, PathBuf),
    /// A GGUF file, with the family the caller named, if any.
    Gguf(Option<Family>, PathBuf),
}

/// What a loaded decoder is, for `LoadedModel::description`.
fn decoder_description(family: Family, c: &TransformerConfig, source: &Path) -> String {
    format!(
        "{family} decoder, {} layers, d={}, {} query / {} key-value heads, read from {}",
        c.n_layers,
        c.d_model,
        c.n_heads,
        c.n_kv_heads,
        source.display()
    )
}

/// The family of a GGUF file (its `general.architecture`), checked against the one the caller
/// named.
fn gguf_family(file: &GgufFile, named: Option<Family>, path: &Path) -> Result<Family, ModelError> {
    let family = family_of(file).map_err(|e| in_file(e, path))?;
    match named {
        Some(named) if named != family => Err(ModelError::Checkpoint {
            name: family.to_string(),
            file: path.display().to_string(),
            detail: format!(
                "declares family `{family}` (general.architecture), but the experiment says \
                 `{named}`; remove `family` or correct it"
            ),
        }),
        _ => Ok(family),
    }
}

fn is_gguf(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
}

fn locate(model: &ModelRef) -> Result<Located, ModelError> {
    match model {
        ModelRef::Named(name) if builtin_names().contains(&name.as_str()) => {
            Ok(Located::Builtin(name.clone()))
        }
        ModelRef::Named(name) => {
            let spec = fetch::lookup(name).map_err(|_| ModelError::UnknownModel {
                name: name.clone(),
                known: model_names().join(", "),
            })?;
            let dir = fetch::local_path(name, &cavern_home())
                .map_err(|e| ModelError::Unavailable(e.to_string()))?;
            Ok(match spec.files {
                [only] if is_gguf(Path::new(only.file)) => {
                    Located::Gguf(Some(spec.family), dir.join(only.file))
                }
                _ => Located::Folder(Some(spec.family), dir),
            })
        }
        ModelRef::Local { family, path } if path.is_dir() => {
            Ok(Located::Folder(*family, path.clone()))
        }
        ModelRef::Local { family, path } if path.is_file() && is_gguf(path) => {
            Ok(Located::Gguf(*family, path.clone()))
        }
        ModelRef::Local { path, .. } => Err(ModelError::Unavailable(format!(
            "{} is not a folder holding config.json, model.safetensors (or sharded \
             *.safetensors with model.safetensors.index.json) and tokenizer.json, nor a .gguf \
             file",
            path.display()
        ))),
    }
}

fn read_gguf(path: &Path) -> Result<GgufFile, ModelError> {
    GgufFile::read(path).map_err(|e| ModelError::Checkpoint {
        name: "model".into(),
        file: path.display().to_string(),
        detail: e.to_string(),
    })
}

/// Names `path` as the file of a checkpoint error raised while reading it.
fn in_file(error: ModelError, path: &Path) -> ModelError {
    match error {
        ModelError::Checkpoint { name, detail, .. } => ModelError::Checkpoint {
            name,
            file: path.display().to_string(),
            detail,
        },
        other => other,
    }
}

/// The sha256 of the files' contents, concatenated in order, hex.
fn sha256_of_files(paths: &[PathBuf]) -> Result<String, ModelError> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    for path in paths {
        let io = |source| ModelError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = std::fs::File::open(path).map_err(io)?;
        loop {
            let n = file.read(&mut buffer).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}
