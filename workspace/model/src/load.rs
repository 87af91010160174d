//! Loading any model by what an experiment file or command names: a built-in toy model, a
//! fetched model, or a local BERT folder or GGUF file.

use crate::bert::{BertFiles, config_from_json, load_bert};
use crate::builtin::{builtin_names, hex_sha256, load_builtin};
use crate::config::TransformerConfig;
use crate::error::ModelError;
use crate::fetch::{self, cavern_home};
use crate::gguf::GgufFile;
use crate::llama::{config_from_gguf, load_gguf_weights};
use crate::loaded::LoadedModel;
use crate::tokenizer::{HfTokenizer, Tokenizer};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The model families cavern reads from files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// BERT encoders: a folder with `config.json`, `model.safetensors`, `tokenizer.json`.
    Bert,
    /// Llama decoders: one GGUF file.
    Llama,
}

impl Family {
    /// The name used in experiment files.
    pub fn as_str(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Llama => "llama",
        }
    }
}

/// What names a model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ModelRef {
    /// A built-in or fetchable model's name.
    Named(String),
    /// A local folder (BERT) or GGUF file (Llama).
    Local {
        /// The family, which decides how `path` is read.
        family: Family,
        /// The folder or file.
        path: PathBuf,
    },
}

impl ModelRef {
    /// What a command-line `--model` names: an existing folder is a BERT model, an existing
    /// `.gguf` file a Llama model, anything else a built-in or fetchable name.
    pub fn from_arg(arg: &str) -> ModelRef {
        let path = Path::new(arg);
        if path.is_dir() {
            return ModelRef::Local {
                family: Family::Bert,
                path: path.to_path_buf(),
            };
        }
        if path.is_file()
            && path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("gguf"))
        {
            return ModelRef::Local {
                family: Family::Llama,
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
        Located::File(Family::Bert, dir) => {
            let files = BertFiles::in_dir(&dir);
            Ok(ModelInfo {
                config: config_from_json(&read(&files.config)?, &files.config)?,
                tokenizer: Tokenizer::HuggingFace(HfTokenizer::from_file(&files.tokenizer)?),
                class_names: Vec::new(),
            })
        }
        Located::File(Family::Llama, path) => {
            let file = read_gguf(&path)?;
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
        Located::File(Family::Bert, dir) => {
            let files = BertFiles::in_dir(&dir);
            let (transformer, tokenizer) = load_bert(&files, device)?;
            let c = &transformer.config;
            let description = format!(
                "BERT encoder, {} layers, d={}, {} heads, read from {}",
                c.n_layers,
                c.d_model,
                c.n_heads,
                dir.display()
            );
            Ok(LoadedModel {
                name,
                description,
                sha256: sha256_of_files(&[&files.config, &files.weights, &files.tokenizer])?,
                transformer,
                tokenizer: Tokenizer::HuggingFace(tokenizer),
                class_names: Vec::new(),
                heldout_accuracy: None,
                source: dir.display().to_string(),
            })
        }
        Located::File(Family::Llama, path) => {
            let file = read_gguf(&path)?;
            let tokenizer = Tokenizer::from_gguf(&file).map_err(|e| in_file(e, &path))?;
            let transformer = load_gguf_weights(&file, device).map_err(|e| in_file(e, &path))?;
            let c = &transformer.config;
            let description = format!(
                "Llama decoder, {} layers, d={}, {} query / {} key-value heads, read from {}",
                c.n_layers,
                c.d_model,
                c.n_heads,
                c.n_kv_heads,
                path.display()
            );
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
    File(Family, PathBuf),
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
            Ok(match spec.family {
                Family::Bert => Located::File(Family::Bert, dir),
                Family::Llama => Located::File(Family::Llama, dir.join(spec.files[0].file)),
            })
        }
        ModelRef::Local { family, path } => {
            let want_dir = *family == Family::Bert;
            if want_dir != path.is_dir() || !path.exists() {
                let what = match family {
                    Family::Bert => {
                        "a folder holding config.json, model.safetensors and tokenizer.json"
                    }
                    Family::Llama => "a GGUF file",
                };
                return Err(ModelError::Unavailable(format!(
                    "{} is not {what} (family = \"{}\")",
                    path.display(),
                    family.as_str()
                )));
            }
            Ok(Located::File(*family, path.clone()))
        }
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn read_gguf(path: &Path) -> Result<GgufFile, ModelError> {
    GgufFile::read(path).map_err(|e| ModelError::Checkpoint {
        name: "llama".into(),
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
fn sha256_of_files(paths: &[&Path]) -> Result<String, ModelError> {
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
