//! Tables as written in an experiment file: serde types with spans for diagnostics, shared by
//! the file's own tables and the study kinds' (each kind's own table is in its module).

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// Template variables as written: each a list of strings (checked during validation).
pub type RawVars = Spanned<BTreeMap<String, Spanned<toml::Value>>>;

/// A raw table type and the keys it accepts, for unknown-key diagnostics.
pub trait RawTable: DeserializeOwned {
    /// Every key the table accepts.
    const KEYS: &'static [&'static str];
    /// Keys whose value may be an inline table, with the keys that inner table accepts.
    const NESTED: &'static [(&'static str, &'static [&'static str])] = &[];
}

/// `[experiment]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawExperiment {
    pub name: Option<Spanned<String>>,
    pub seed: Option<Spanned<u64>>,
    pub model: Option<Spanned<RawModel>>,
    pub device: Option<Spanned<String>>,
    pub batch_size: Option<Spanned<usize>>,
}

impl RawTable for RawExperiment {
    const KEYS: &'static [&'static str] = &["name", "seed", "model", "device", "batch_size"];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("model", RawLocalModel::KEYS)];
}

/// `model` as written: a built-in or fetchable model's name, or a local model.
#[derive(Debug, Clone)]
pub enum RawModel {
    Name(String),
    Local(RawLocalModel),
}

/// A local model as written: `{ path = "..." }`, optionally with `family = "..."`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like `{ family = \"bert\", path = \"...\" }`"
)]
pub struct RawLocalModel {
    pub family: Option<Spanned<String>>,
    pub path: Option<Spanned<String>>,
}

impl RawLocalModel {
    /// Every key the table accepts.
    pub const KEYS: &'static [&'static str] = &["family", "path"];
}

impl<'de> Deserialize<'de> for RawModel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ModelVisitor;
        impl<'de> Visitor<'de> for ModelVisitor {
            type Value = RawModel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a model name or a table like `{ family = \"bert\", path = \"...\" }`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawModel, E> {
                Ok(RawModel::Name(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawModel, A::Error> {
                RawLocalModel::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawModel::Local)
            }
        }
        deserializer.deserialize_any(ModelVisitor)
    }
}

/// `[head]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawHead {
    pub classes: Option<Spanned<Vec<Spanned<String>>>>,
    pub l2: Option<Spanned<f64>>,
    pub max_iterations: Option<Spanned<usize>>,
    pub holdout: Option<Spanned<f64>>,
}

impl RawTable for RawHead {
    const KEYS: &'static [&'static str] = &["classes", "l2", "max_iterations", "holdout"];
}

/// An example-set source as written: `[concepts.NAME]` or an inline `inputs` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table with one of `file`, `examples` or `template`"
)]
pub struct RawSource {
    pub file: Option<Spanned<String>>,
    pub examples: Option<Spanned<Vec<Spanned<String>>>>,
    pub template: Option<Spanned<String>>,
    /// Loosely typed so that bad values get a dedicated message.
    pub vars: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
}

impl RawTable for RawSource {
    const KEYS: &'static [&'static str] = &["file", "examples", "template", "vars"];
}

/// `[random]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawRandom {
    pub file: Option<Spanned<String>>,
    pub examples: Option<Spanned<Vec<Spanned<String>>>>,
    pub template: Option<Spanned<String>>,
    pub vars: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    pub sets: Option<Spanned<usize>>,
    pub size: Option<Spanned<usize>>,
}

impl RawRandom {
    /// The pool's source keys.
    pub fn source(&self) -> RawSource {
        RawSource {
            file: self.file.clone(),
            examples: self.examples.clone(),
            template: self.template.clone(),
            vars: self.vars.clone(),
        }
    }
}

impl RawTable for RawRandom {
    const KEYS: &'static [&'static str] = &["file", "examples", "template", "vars", "sets", "size"];
}

/// `layers` as written: a list of indices or `"all"`.
#[derive(Debug, Clone)]
pub enum RawLayers {
    All,
    List(Vec<Spanned<i64>>),
}

impl<'de> Deserialize<'de> for RawLayers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct LayersVisitor;
        impl<'de> Visitor<'de> for LayersVisitor {
            type Value = RawLayers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of layer indices or \"all\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawLayers, E> {
                if v == "all" {
                    Ok(RawLayers::All)
                } else {
                    Err(E::invalid_value(de::Unexpected::Str(v), &self))
                }
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawLayers, A::Error> {
                let mut layers = Vec::new();
                while let Some(layer) = seq.next_element()? {
                    layers.push(layer);
                }
                Ok(RawLayers::List(layers))
            }
        }
        deserializer.deserialize_any(LayersVisitor)
    }
}

/// A TCAV `target` as written: `{ class = "..." }` or `{ token = "..." }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like `{ class = \"...\" }` or `{ token = \"...\" }`"
)]
pub struct RawTarget {
    pub class: Option<Spanned<String>>,
    pub token: Option<Spanned<String>>,
}

impl RawTarget {
    /// Every key the table accepts.
    pub const KEYS: &'static [&'static str] = &["class", "token"];
}

/// TCAV `inputs` as written: a file path or an inline source table.
#[derive(Debug, Clone)]
pub enum RawInputs {
    File(String),
    Source(RawSource),
}

impl<'de> Deserialize<'de> for RawInputs {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InputsVisitor;
        impl<'de> Visitor<'de> for InputsVisitor {
            type Value = RawInputs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a file path or a table with `file`, `examples` or `template`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawInputs, E> {
                Ok(RawInputs::File(v.to_owned()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawInputs, A::Error> {
                RawSource::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(RawInputs::Source)
            }
        }
        deserializer.deserialize_any(InputsVisitor)
    }
}
