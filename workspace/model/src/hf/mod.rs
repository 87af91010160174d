//! Models from Hugging Face folders: `config.json`, the weights as `model.safetensors` or as the
//! shards `model.safetensors.index.json` lists, and `tokenizer.json`.
//!
//! The family comes from `config.json` (`model_type`, else `architectures`); a family the
//! caller names must agree with it. Loading checks the configuration's fields against each
//! other, then every tensor's presence and shape against what they imply, before converting
//! any weight; a weight holding NaN or infinity is an error naming the tensor.

pub mod build;
pub mod config;
mod gpt2;
pub(crate) mod llama;
mod neox;
pub mod weights;

use crate::bert;
use crate::config::TransformerConfig;
use crate::error::ModelError;
use crate::family::Family;
use crate::tokenizer::HfTokenizer;
use crate::transformer::Transformer;
use build::Build;
use burn::tensor::Device;
use safetensors::SafeTensors;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use weights::{Plan, Tensors};

/// The files of a model folder.
#[derive(Debug, Clone)]
pub struct HfFolder {
    /// The folder.
    pub dir: PathBuf,
    /// `config.json`.
    pub config: PathBuf,
    /// `model.safetensors`, or the shards the index lists, in index order.
    pub weights: Vec<PathBuf>,
    /// `tokenizer.json`.
    pub tokenizer: PathBuf,
}

/// Name of the index of a sharded checkpoint.
const INDEX: &str = "model.safetensors.index.json";

impl HfFolder {
    /// Finds the files of the folder `dir`; the weights are the shards of
    /// `model.safetensors.index.json` when it exists, else `model.safetensors`.
    pub fn open(dir: &Path) -> Result<HfFolder, ModelError> {
        let index = dir.join(INDEX);
        let weights = match index.exists() {
            true => shards(&index)?,
            false => vec![dir.join("model.safetensors")],
        };
        Ok(HfFolder {
            dir: dir.to_path_buf(),
            config: dir.join("config.json"),
            weights,
            tokenizer: dir.join("tokenizer.json"),
        })
    }

    /// Every file the model is read from, for its checksum: config, index, shards, tokenizer.
    pub fn files(&self) -> Vec<PathBuf> {
        let index = self.dir.join(INDEX);
        let mut files = vec![self.config.clone()];
        files.extend(index.exists().then_some(index));
        files.extend(self.weights.iter().cloned());
        files.push(self.tokenizer.clone());
        files
    }
}

/// The shard files an index names, each once, in order of first mention.
fn shards(index: &Path) -> Result<Vec<PathBuf>, ModelError> {
    let json: Value = serde_json::from_slice(&read(index)?)
        .map_err(|e| fail(index, format!("not valid JSON: {e}")))?;
    let map = json
        .get("weight_map")
        .and_then(Value::as_object)
        .ok_or_else(|| fail(index, "has no `weight_map` object".into()))?;
    let mut files: Vec<PathBuf> = Vec::new();
    for (tensor, file) in map {
        let name = file
            .as_str()
            .filter(|f| is_plain_file_name(f))
            .ok_or_else(|| {
                fail(
                    index,
                    format!("the file of `{tensor}` is not a file name: {file}"),
                )
            })?;
        let path = index.with_file_name(name);
        if !files.contains(&path) {
            files.push(path);
        }
    }
    match files.is_empty() {
        true => Err(fail(index, "lists no tensors".into())),
        false => Ok(files),
    }
}

/// A name without a directory part, so that an index cannot point outside its folder.
fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && Path::new(name).file_name().is_some_and(|f| f == name)
}

/// `config.json` as a JSON object.
fn read_config(folder: &HfFolder) -> Result<Map<String, Value>, ModelError> {
    let bytes = read(&folder.config)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(fail(&folder.config, "is not a JSON object".into())),
        Err(e) => Err(fail(&folder.config, format!("is not valid JSON: {e}"))),
    }
}

/// The family `config.json` declares, checked against the one the caller named.
pub fn detect_family(json: &Map<String, Value>, named: Option<Family>) -> Result<Family, String> {
    let json = config::Json::new(json);
    let declared = match json.str("model_type")? {
        Some(kind) => Some(Family::from_model_type(kind).ok_or_else(|| {
            format!(
                "model_type {kind:?} is not a family cavern reads (it reads {})",
                Family::names()
            )
        })?),
        None => None,
    };
    let declared = declared.or_else(|| {
        json.first_architecture()
            .and_then(Family::from_architecture)
    });
    match (declared, named) {
        (Some(declared), Some(named)) if declared != named => Err(format!(
            "declares family `{declared}`, but the experiment says `{named}`; remove `family` \
             or correct it"
        )),
        (Some(family), _) | (None, Some(family)) => Ok(family),
        (None, None) => Err(format!(
            "has no model_type or architectures naming its family; add `family = \"...\"` (one \
             of {})",
            Family::names()
        )),
    }
}

/// The family and architecture of a folder, without its weights.
pub fn inspect(
    folder: &HfFolder,
    named: Option<Family>,
) -> Result<(Family, TransformerConfig), ModelError> {
    let json = read_config(folder)?;
    let family = detect_family(&json, named).map_err(|e| fail(&folder.config, e))?;
    let config = match family {
        Family::Bert => bert::config_from_json(&read(&folder.config)?, &folder.config)?,
        _ => config::decoder_config(family, &config::Json::new(&json))
            .map_err(|e| fail(&folder.config, e))?,
    };
    Ok((family, config))
}

/// Loads a folder onto `device`: its family, the model and its tokenizer.
pub fn load(
    folder: &HfFolder,
    named: Option<Family>,
    device: &Device,
) -> Result<(Family, Transformer, HfTokenizer), ModelError> {
    let (family, config) = inspect(folder, named)?;
    let tokenizer = HfTokenizer::from_file(&folder.tokenizer)?;
    let bytes: Vec<Vec<u8>> = folder
        .weights
        .iter()
        .map(|p| read(p))
        .collect::<Result<_, _>>()?;
    let mut parsed = Vec::with_capacity(bytes.len());
    for (path, bytes) in folder.weights.iter().zip(&bytes) {
        let tensors = SafeTensors::deserialize(bytes).map_err(|e| {
            fail(
                path,
                format!("not a valid safetensors file (corrupt or truncated?): {e}"),
            )
        })?;
        parsed.push((path.display().to_string(), tensors));
    }
    let weights_file = folder
        .weights
        .first()
        .map(PathBuf::as_path)
        .unwrap_or(&folder.dir);
    let in_weights = |detail: String| fail(weights_file, detail);
    let tensors = Tensors::new(&parsed).map_err(in_weights)?;
    check_layer_count(&config, &tensors).map_err(in_weights)?;
    let (plan, ignorable): (Plan, fn(&str) -> bool) = match family {
        Family::Bert => (bert::plan(&tensors, &config), |_| true),
        Family::Gpt2 => (gpt2::plan(&tensors, &config), gpt2::ignorable),
        Family::GptNeox => (neox::plan(&tensors, &config), neox::ignorable),
        _ => (llama::plan(&tensors, &config), llama::ignorable),
    };
    tensors.check(&plan, ignorable).map_err(in_weights)?;
    let build = Build {
        tensors: &tensors,
        device,
        norms_hold_one: false,
    };
    let transformer = match family {
        Family::Bert => bert::build(&build, config),
        Family::Gpt2 => gpt2::build(&build, config),
        Family::GptNeox => neox::build(&build, config),
        _ => llama::build(&build, config),
    }
    .map_err(in_weights)?;
    Ok((family, transformer, tokenizer))
}

/// Refuses a layer count the weights cannot hold (every layer has several tensors) before the
/// plan lists each layer's tensors, so that a huge count from `config.json` costs nothing.
fn check_layer_count(config: &TransformerConfig, tensors: &Tensors) -> Result<(), String> {
    let held = tensors.names().len();
    if config.n_layers > held {
        return Err(format!(
            "the config says the model has {} layers, but the weights hold only {held} tensors \
             (each layer has several); correct the layer count in config.json",
            config.n_layers
        ));
    }
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>, ModelError> {
    std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// A checkpoint error naming `file`.
fn fail(file: &Path, detail: String) -> ModelError {
    ModelError::Checkpoint {
        name: file
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "model".into()),
        file: file.display().to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detect(text: &str, named: Option<Family>) -> Result<Family, String> {
        let value: Value = serde_json::from_str(text).unwrap();
        detect_family(value.as_object().unwrap(), named)
    }

    #[test]
    fn the_family_comes_from_the_config() {
        assert_eq!(detect(r#"{"model_type": "gpt2"}"#, None), Ok(Family::Gpt2));
        assert_eq!(
            detect(r#"{"architectures": ["Qwen3ForCausalLM"]}"#, None),
            Ok(Family::Qwen3)
        );
        assert_eq!(detect("{}", Some(Family::Llama)), Ok(Family::Llama));
        let error = detect(r#"{"model_type": "gpt2"}"#, Some(Family::Llama)).unwrap_err();
        assert!(
            error.contains("`gpt2`") && error.contains("`llama`"),
            "{error}"
        );
        let error = detect(r#"{"model_type": "t5"}"#, None).unwrap_err();
        assert!(error.contains("\"t5\" is not a family"), "{error}");
        assert!(detect("{}", None).unwrap_err().contains("family = "));
    }

    #[test]
    fn an_index_names_plain_files_only() {
        assert!(is_plain_file_name("model-00001-of-00002.safetensors"));
        assert!(!is_plain_file_name("../secret.safetensors"));
        assert!(!is_plain_file_name("/etc/passwd"));
        assert!(!is_plain_file_name(""));
    }
}
