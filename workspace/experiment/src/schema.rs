//! The experiment-file schema: raw tables as written (spanned, for diagnostics) and the
//! resolved, validated types the runner consumes.

use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use toml::Spanned;

pub use cavern_model::{Family, ModelRef, SitePoint};
pub use cavern_probe::{CavMethod, CavOptions, Pooling, Validation};
pub use cavern_stats::Correction;

/// Default `[experiment] seed`.
pub const DEFAULT_SEED: u64 = 0;
/// Default `[experiment] batch_size`.
pub const DEFAULT_BATCH_SIZE: usize = 32;
/// Default `[random] sets`.
pub const DEFAULT_RANDOM_SETS: usize = 10;
/// Default `[random] size`.
pub const DEFAULT_RANDOM_SIZE: usize = 50;
/// Default logistic-regression L2 penalty.
pub const DEFAULT_L2: f64 = 0.01;
/// Default optimiser iteration budget.
pub const DEFAULT_MAX_ITERATIONS: usize = 200;
/// Default held-out fraction for CAV accuracy.
pub const DEFAULT_HOLDOUT: f64 = 0.3;
/// Smallest number of cross-validation folds.
pub const MIN_FOLDS: usize = 2;
/// Default TCAV significance level.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// Fewest examples a concept set may have.
pub const MIN_CONCEPT_EXAMPLES: usize = 6;
/// Fewest random sets.
pub const MIN_RANDOM_SETS: usize = 2;
/// Fewest examples per random set.
pub const MIN_RANDOM_SIZE: usize = 4;

/// Top-level keys of an experiment file.
pub const TOP_LEVEL_KEYS: &[&str] = &[
    "experiment",
    "concepts",
    "head",
    "random",
    "probe",
    "tcav",
    "attention",
    "attribution",
    "patching",
    "pruning",
    "neighbors",
    "steering",
    "erasure",
    "counterfactual",
];

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
    const KEYS: &'static [&'static str] = &["family", "path"];
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
    const KEYS: &'static [&'static str] = &["class", "token"];
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

/// `[[probe]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawProbe {
    pub concepts: Option<Spanned<Vec<Spanned<String>>>>,
    pub layers: Option<Spanned<RawLayers>>,
    pub site: Option<Spanned<String>>,
    pub pooling: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub l2: Option<Spanned<f64>>,
    pub max_iterations: Option<Spanned<usize>>,
    pub holdout: Option<Spanned<f64>>,
    pub folds: Option<Spanned<usize>>,
    pub sites: Option<Spanned<Vec<Spanned<String>>>>,
    pub relative: Option<Spanned<bool>>,
    pub decompose: Option<Spanned<bool>>,
}

impl RawProbe {
    /// The keys shared with `[[tcav]]`.
    pub fn study(&self) -> RawStudy<'_> {
        RawStudy {
            concepts: &self.concepts,
            layers: &self.layers,
            site: &self.site,
            pooling: &self.pooling,
            method: &self.method,
            l2: &self.l2,
            max_iterations: &self.max_iterations,
            holdout: &self.holdout,
            folds: &self.folds,
        }
    }
}

impl RawTable for RawProbe {
    const KEYS: &'static [&'static str] = &[
        "concepts",
        "layers",
        "site",
        "pooling",
        "method",
        "l2",
        "max_iterations",
        "holdout",
        "folds",
        "sites",
        "relative",
        "decompose",
    ];
}

/// `[[tcav]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawTcav {
    pub target: Option<Spanned<RawTarget>>,
    pub inputs: Option<Spanned<RawInputs>>,
    pub concepts: Option<Spanned<Vec<Spanned<String>>>>,
    pub layers: Option<Spanned<RawLayers>>,
    pub site: Option<Spanned<String>>,
    pub pooling: Option<Spanned<String>>,
    pub method: Option<Spanned<String>>,
    pub l2: Option<Spanned<f64>>,
    pub max_iterations: Option<Spanned<usize>>,
    pub holdout: Option<Spanned<f64>>,
    pub folds: Option<Spanned<usize>>,
    pub random_runs: Option<Spanned<usize>>,
    pub alpha: Option<Spanned<f64>>,
    pub correction: Option<Spanned<String>>,
}

impl RawTcav {
    /// The keys shared with `[[probe]]`.
    pub fn study(&self) -> RawStudy<'_> {
        RawStudy {
            concepts: &self.concepts,
            layers: &self.layers,
            site: &self.site,
            pooling: &self.pooling,
            method: &self.method,
            l2: &self.l2,
            max_iterations: &self.max_iterations,
            holdout: &self.holdout,
            folds: &self.folds,
        }
    }
}

impl RawTable for RawTcav {
    const KEYS: &'static [&'static str] = &[
        "target",
        "inputs",
        "concepts",
        "layers",
        "site",
        "pooling",
        "method",
        "l2",
        "max_iterations",
        "holdout",
        "folds",
        "random_runs",
        "alpha",
        "correction",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("target", RawTarget::KEYS), ("inputs", RawSource::KEYS)];
}

/// `[[attention]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawAttention {
    pub inputs: Option<Spanned<RawInputs>>,
    pub layers: Option<Spanned<RawLayers>>,
    pub average_pattern: Option<Spanned<bool>>,
    pub flow: Option<Spanned<Vec<Spanned<String>>>>,
}

impl RawTable for RawAttention {
    const KEYS: &'static [&'static str] = &["inputs", "layers", "average_pattern", "flow"];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("inputs", RawSource::KEYS)];
}

/// `[[attribution]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawAttribution {
    pub target: Option<Spanned<RawTarget>>,
    pub contrast: Option<Spanned<RawTarget>>,
    pub inputs: Option<Spanned<RawInputs>>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub steps: Option<Spanned<usize>>,
    pub baseline: Option<Spanned<String>>,
    pub site: Option<Spanned<String>>,
    pub layer: Option<Spanned<i64>>,
    pub window: Option<Spanned<usize>>,
    pub samples: Option<Spanned<usize>>,
}

impl RawTable for RawAttribution {
    const KEYS: &'static [&'static str] = &[
        "target", "contrast", "inputs", "methods", "steps", "baseline", "site", "layer", "window",
        "samples",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] = &[
        ("target", RawTarget::KEYS),
        ("contrast", RawTarget::KEYS),
        ("inputs", RawSource::KEYS),
    ];
}

/// `[[neighbors]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawNeighbors {
    pub inputs: Option<Spanned<RawInputs>>,
    pub concepts: Option<Spanned<Vec<Spanned<String>>>>,
    pub site: Option<Spanned<String>>,
    pub layer: Option<Spanned<i64>>,
    pub pooling: Option<Spanned<String>>,
    pub k: Option<Spanned<usize>>,
    pub prototypes: Option<Spanned<usize>>,
    pub criticisms: Option<Spanned<usize>>,
    pub witness: Option<Spanned<String>>,
}

impl RawTable for RawNeighbors {
    const KEYS: &'static [&'static str] = &[
        "inputs",
        "concepts",
        "site",
        "layer",
        "pooling",
        "k",
        "prototypes",
        "criticisms",
        "witness",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("inputs", RawSource::KEYS)];
}

/// The keys `[[probe]]` and `[[tcav]]` have in common, borrowed from either.
#[derive(Debug, Clone, Copy)]
pub struct RawStudy<'a> {
    pub concepts: &'a Option<Spanned<Vec<Spanned<String>>>>,
    pub layers: &'a Option<Spanned<RawLayers>>,
    pub site: &'a Option<Spanned<String>>,
    pub pooling: &'a Option<Spanned<String>>,
    pub method: &'a Option<Spanned<String>>,
    pub l2: &'a Option<Spanned<f64>>,
    pub max_iterations: &'a Option<Spanned<usize>>,
    pub holdout: &'a Option<Spanned<f64>>,
    pub folds: &'a Option<Spanned<usize>>,
}

/// A closed set of names accepted by one key, for generic parsing with suggestions.
pub(crate) trait Choice: Copy + 'static {
    /// Every accepted value.
    const ALL: &'static [Self];
    /// The value when the key is absent.
    const DEFAULT: Self;
    /// The spelling used in experiment files.
    fn name(self) -> &'static str;
}

macro_rules! choice_enum {
    (
        $(#[$meta:meta])*
        $name:ident {
            $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every accepted value, in documentation order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The value when the key is absent (the first listed).
            pub const DEFAULT: Self = Self::ALL[0];

            /// The spelling used in experiment files.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl Choice for $name {
            const ALL: &'static [Self] = $name::ALL;
            const DEFAULT: Self = $name::DEFAULT;
            fn name(self) -> &'static str {
                self.as_str()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }
    };
}

choice_enum! {
    /// Where the model runs.
    DeviceChoice {
        /// The CPU backend.
        Cpu = "cpu",
        /// An NVIDIA GPU (needs the `cuda` feature).
        Cuda = "cuda",
    }
}

/// Model families read from local files.
impl Choice for Family {
    const ALL: &'static [Self] = &Family::ALL;
    const DEFAULT: Self = Family::Bert;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

/// Sites a probe or TCAV study can read: every `[batch, pos, width]` hook point.
impl Choice for SitePoint {
    const ALL: &'static [Self] = &[
        SitePoint::Embed,
        SitePoint::ResidPre,
        SitePoint::ResidMid,
        SitePoint::ResidPost,
        SitePoint::AttnOut,
        SitePoint::MlpOut,
        SitePoint::MlpPost,
        SitePoint::LnFinal,
    ];
    const DEFAULT: Self = SitePoint::ResidPost;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for Pooling {
    const ALL: &'static [Self] = &[Pooling::Mean, Pooling::Last];
    const DEFAULT: Self = Pooling::Mean;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for CavMethod {
    const ALL: &'static [Self] = &[CavMethod::Logistic, CavMethod::MeanDifference];
    const DEFAULT: Self = CavMethod::Logistic;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

impl Choice for Correction {
    const ALL: &'static [Self] = &[
        Correction::Bonferroni,
        Correction::Holm,
        Correction::BenjaminiHochberg,
    ];
    const DEFAULT: Self = Correction::Bonferroni;
    fn name(self) -> &'static str {
        self.as_str()
    }
}

choice_enum! {
    /// A token-attribution method of `[[attribution]]`.
    AttributionMethod {
        /// ‖∂f/∂a_t‖₂ at the site.
        Saliency = "saliency",
        /// Σ_d (∂f/∂a_td)·a_td at the site.
        GradientXInput = "gradient_x_input",
        /// Integrated gradients from the baseline at the site.
        IntegratedGradients = "integrated_gradients",
        /// f(x) − f(x with a window of tokens replaced by the baseline).
        Occlusion = "occlusion",
        /// Coefficients of a LIME surrogate fitted to f on token-masked inputs.
        Lime = "lime",
    }
}

choice_enum! {
    /// What an absent token is, for integrated gradients and occlusion.
    AttributionBaseline {
        /// The model's pad token in place of every non-special token.
        Pad = "pad",
        /// The zero activation at the site.
        Zeros = "zeros",
        /// The tokenizer's unknown-word token (`[UNK]`, `[unk]`, `<unk>`).
        Unk = "unk",
        /// The tokenizer's mask token (`[MASK]`, `<mask>`).
        Mask = "mask",
    }
}

mod interventions;
pub use interventions::*;
choice_enum! {
    /// How `[[attention]]` propagates attention through the layers to the input tokens.
    FlowMethod {
        /// Attention rollout: the product of the residual-adjusted, head-averaged layers.
        Rollout = "rollout",
        /// Attention flow: maximum flow through the same layers as a graph.
        Flow = "flow",
    }
}

choice_enum! {
    /// Which witness values `[[neighbors]]` ranks criticisms by.
    WitnessChoice {
        /// The signed witness: examples the prototypes under-represent.
        Positive = "positive",
        /// |witness| (MMD-critic's choice): under- or over-represented examples.
        Absolute = "absolute",
    }
}

/// What a TCAV study differentiates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// A class logit of an encoder's classifier.
    Class(String),
    /// A decoder's next-token logit.
    Token(String),
}

/// The counterexample pool random sets are drawn from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RandomPool {
    pub examples: Vec<String>,
    /// Number of random sets, >= 2.
    pub sets: usize,
    /// Examples per random set, >= 4 and <= the pool size.
    pub size: usize,
}

/// A resolved `[head]`: a classifier trained on labelled example sets and appended to an
/// encoder, whose classes TCAV `class` targets then name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeadSpec {
    /// Class names, each a `[concepts.NAME]` set holding that class's examples.
    pub classes: Vec<String>,
    /// L2 penalty of the multinomial logistic regression.
    pub l2: f64,
    /// Optimiser iterations.
    pub max_iterations: usize,
    /// Fraction of each class held out to measure accuracy.
    pub holdout: f64,
}

/// A resolved `[[probe]]`: CAV accuracy for concepts x layers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeStudy {
    pub concepts: Vec<String>,
    pub layers: Vec<usize>,
    /// Every site the study sweeps (`site`, or the list `sites`).
    pub sites: Vec<SitePoint>,
    pub pooling: Pooling,
    pub cav: CavOptions,
    /// Also separate each concept from each other listed concept (relative CAVs).
    pub relative: bool,
    /// Also decompose each concept's direction into its examples.
    pub decompose: bool,
}

/// A resolved `[[tcav]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcavStudy {
    pub target: Target,
    pub inputs: Vec<String>,
    pub concepts: Vec<String>,
    pub layers: Vec<usize>,
    pub site: SitePoint,
    pub pooling: Pooling,
    pub cav: CavOptions,
    /// Random sets used, 2 <= random_runs <= random.sets.
    pub random_runs: usize,
    /// Significance level, in (0, 1).
    pub alpha: f64,
    #[serde(serialize_with = "serialize_name")]
    pub correction: Correction,
}

/// A resolved `[[attention]]`: attention statistics per layer and head over an input set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttentionStudy {
    pub inputs: Vec<String>,
    pub layers: Vec<usize>,
    /// Also write the average pattern (when every input has the same token length, at most
    /// [`MAX_PATTERN_TOKENS`]).
    pub average_pattern: bool,
    /// Attention rollout and/or flow per input, through blocks `0..=layer` for every layer
    /// (none when empty).
    #[serde(serialize_with = "serialize_names")]
    pub flow: Vec<FlowMethod>,
}

/// Default `[[attribution]] steps`.
pub const DEFAULT_ATTRIBUTION_STEPS: usize = 32;
/// Default `[[attribution]] window`.
pub const DEFAULT_OCCLUSION_WINDOW: usize = 1;
/// Default `[[attribution]] samples` (LIME).
pub const DEFAULT_LIME_SAMPLES: usize = 200;
/// Fewest `[[attribution]] samples`.
pub const MIN_LIME_SAMPLES: usize = 10;

/// A resolved `[[attribution]]`: per-token attributions of a target logit over an input set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttributionStudy {
    /// The logit explained.
    pub target: Target,
    /// A logit subtracted from the target's (f = l_target − l_contrast), if any.
    pub contrast: Option<Target>,
    pub inputs: Vec<String>,
    /// The methods, in the order given (default all four).
    #[serde(serialize_with = "serialize_names")]
    pub methods: Vec<AttributionMethod>,
    /// Integrated-gradients steps (midpoint rule), >= 1.
    pub steps: usize,
    pub baseline: AttributionBaseline,
    /// The site of the gradient methods (`embed` by default).
    pub site: SitePoint,
    /// Its layer, for per-layer sites.
    pub layer: Option<usize>,
    /// Occlusion window in tokens, >= 1.
    pub window: usize,
    /// LIME samples (masked inputs, the input itself included), >= [`MIN_LIME_SAMPLES`].
    pub samples: usize,
}

/// Default `[[neighbors]] k`.
pub const DEFAULT_NEIGHBORS: usize = 5;
/// Default `[[neighbors]] prototypes` and `criticisms`.
pub const DEFAULT_PROTOTYPES: usize = 4;

/// A resolved `[[neighbors]]`: each input's nearest reference examples at one site, and
/// MMD-critic prototypes and criticisms of the reference set.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NeighborsStudy {
    pub inputs: Vec<String>,
    /// The `[concepts]` sets forming the labelled reference set, in order.
    pub concepts: Vec<String>,
    pub site: SitePoint,
    /// Its layer, for per-layer sites (the last layer by default).
    pub layer: Option<usize>,
    pub pooling: Pooling,
    /// Nearest examples per input, >= 1.
    pub k: usize,
    /// Prototypes of the reference set (0: none).
    pub prototypes: usize,
    /// Criticisms of the reference set (0: none).
    pub criticisms: usize,
    pub witness: WitnessChoice,
}

/// Longest input (in tokens) an `[[attention]]` study writes the average pattern for.
pub const MAX_PATTERN_TOKENS: usize = 64;

/// A fully resolved and validated experiment file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Experiment {
    /// The experiment file as given.
    pub path: PathBuf,
    /// The file's text.
    pub source_text: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub source_sha256: String,
    pub name: String,
    pub seed: u64,
    pub model: ModelRef,
    pub device: DeviceChoice,
    pub batch_size: usize,
    /// Concept name to its examples.
    pub concepts: BTreeMap<String, Vec<String>>,
    /// The classifier head to train, if any.
    pub head: Option<HeadSpec>,
    /// Absent when the file has no `[random]` table (and so no studies).
    pub random: Option<RandomPool>,
    pub probes: Vec<ProbeStudy>,
    pub tcavs: Vec<TcavStudy>,
    pub attentions: Vec<AttentionStudy>,
    pub attributions: Vec<AttributionStudy>,
    pub patchings: Vec<PatchingStudy>,
    pub prunings: Vec<PruningStudy>,
    pub neighbors: Vec<NeighborsStudy>,
    pub steerings: Vec<SteeringStudy>,
    pub erasures: Vec<ErasureStudy>,
    pub counterfactuals: Vec<CounterfactualStudy>,
}

/// Serialises a list of [`Choice`]s by their file spellings.
fn serialize_names<T: Choice, S: serde::Serializer>(
    values: &[T],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(values.iter().map(|v| v.name()))
}

/// Serialises a [`Choice`] by its file spelling.
fn serialize_name<T: Choice, S: serde::Serializer>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.name())
}

/// Texts as written in `contrast`: a `[concepts]` set's name, or the texts inline.
#[derive(Debug, Clone)]
pub enum RawTexts {
    Concept(String),
    Inline(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawTexts {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextsVisitor;
        impl<'de> Visitor<'de> for TextsVisitor {
            type Value = RawTexts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a concept name or an array of texts")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawTexts, E> {
                Ok(RawTexts::Concept(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawTexts, A::Error> {
                let mut texts = Vec::new();
                while let Some(text) = seq.next_element()? {
                    texts.push(text);
                }
                Ok(RawTexts::Inline(texts))
            }
        }
        deserializer.deserialize_any(TextsVisitor)
    }
}

/// `contrast` of `[[steering]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like `{ positive = \"CONCEPT\" or [...], negative = ... }`"
)]
pub struct RawContrast {
    pub positive: Option<Spanned<RawTexts>>,
    pub negative: Option<Spanned<RawTexts>>,
}

impl RawContrast {
    const KEYS: &'static [&'static str] = &["positive", "negative"];
}

/// `[[steering]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawSteering {
    pub inputs: Option<Spanned<RawInputs>>,
    pub concept: Option<Spanned<String>>,
    pub contrast: Option<Spanned<RawContrast>>,
    pub vector: Option<Spanned<String>>,
    pub layers: Option<Spanned<RawLayers>>,
    pub site: Option<Spanned<String>>,
    pub positions: Option<Spanned<String>>,
    pub pooling: Option<Spanned<String>>,
    pub alphas: Option<Spanned<Vec<Spanned<f64>>>>,
    pub target: Option<Spanned<RawTarget>>,
    pub top_k: Option<Spanned<usize>>,
    #[serde(rename = "continue")]
    pub continue_tokens: Option<Spanned<usize>>,
    pub flip_bound: Option<Spanned<f64>>,
}

impl RawTable for RawSteering {
    const KEYS: &'static [&'static str] = &[
        "inputs",
        "concept",
        "contrast",
        "vector",
        "layers",
        "site",
        "positions",
        "pooling",
        "alphas",
        "target",
        "top_k",
        "continue",
        "flip_bound",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] = &[
        ("inputs", RawSource::KEYS),
        ("contrast", RawContrast::KEYS),
        ("target", RawTarget::KEYS),
    ];
}

/// `[[erasure]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawErasure {
    pub concept: Option<Spanned<String>>,
    pub layer: Option<Spanned<i64>>,
    pub site: Option<Spanned<String>>,
    pub pooling: Option<Spanned<String>>,
    pub methods: Option<Spanned<Vec<Spanned<String>>>>,
    pub inputs: Option<Spanned<RawInputs>>,
    pub target: Option<Spanned<RawTarget>>,
    pub holdout: Option<Spanned<f64>>,
    pub covariance: Option<Spanned<String>>,
}

impl RawTable for RawErasure {
    const KEYS: &'static [&'static str] = &[
        "concept",
        "layer",
        "site",
        "pooling",
        "methods",
        "inputs",
        "target",
        "holdout",
        "covariance",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("inputs", RawSource::KEYS), ("target", RawTarget::KEYS)];
}

/// `[[counterfactual]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawCounterfactual {
    pub template: Option<Spanned<String>>,
    pub vars: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    pub target: Option<Spanned<RawTarget>>,
}

impl RawTable for RawCounterfactual {
    const KEYS: &'static [&'static str] = &["template", "vars", "target"];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("target", RawTarget::KEYS)];
}

choice_enum! {
    /// The token positions `[[steering]]` adds its vector at.
    SteeringPositions {
        /// Every real token of the input (and every generated one).
        All = "all",
        /// The input's last real token (and every generated one).
        Last = "last",
    }
}

choice_enum! {
    /// A concept-erasure method of `[[erasure]]`.
    ErasureMethod {
        /// LEACE (Belrose et al. 2023), fitted on the concept vs the random pool.
        Leace = "leace",
        /// Directional ablation: the component along the concept's CAV is removed.
        ProjectOut = "project_out",
    }
}

choice_enum! {
    /// The covariance estimate LEACE whitens with.
    ErasureCovariance {
        /// The sample covariance, pseudo-inverted where rank-deficient (the paper's closed form).
        Sample = "sample",
        /// Ledoit–Wolf shrinkage towards a multiple of the identity.
        LedoitWolf = "ledoit_wolf",
    }
}

/// Where a steering vector comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SteeringSource {
    /// The CAV of a `[concepts]` set against the random pool, trained at each layer.
    Concept(String),
    /// The difference of the mean pooled activations of two text sets, at each layer.
    Contrast {
        /// Name in tables: `contrast:A-B` (a set's concept name, or `inline`).
        label: String,
        positive: Vec<String>,
        negative: Vec<String>,
    },
    /// A saved vector (a safetensors file), the same at every layer.
    File(PathBuf),
}

/// Default `[[steering]] top_k`.
pub const DEFAULT_TOP_K: usize = 5;

/// A resolved `[[steering]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteeringStudy {
    pub inputs: Vec<String>,
    pub source: SteeringSource,
    pub layers: Vec<usize>,
    pub site: SitePoint,
    pub positions: SteeringPositions,
    /// Pooling of the activations a concept or contrast vector is computed from.
    pub pooling: Pooling,
    /// Ascending and distinct, 0 included; in units of the mean activation norm at the site.
    pub alphas: Vec<f64>,
    /// The target whose probability is tracked; the unsteered prediction when absent.
    pub target: Option<Target>,
    pub top_k: usize,
    /// Greedy continuation tokens (decoders).
    pub continue_tokens: usize,
    /// Largest |α| the flip search tries; 0 turns it off.
    pub flip_bound: f64,
}

/// Default `[[erasure]]` held-out fraction of the fresh probe.
pub const DEFAULT_ERASURE_HOLDOUT: f64 = 0.3;

/// A resolved `[[erasure]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErasureStudy {
    pub concept: String,
    pub layer: usize,
    pub site: SitePoint,
    pub pooling: Pooling,
    #[serde(serialize_with = "serialize_names")]
    pub methods: Vec<ErasureMethod>,
    /// Inputs the model's output change is measured on.
    pub inputs: Vec<String>,
    /// The target whose probability is tracked; the unsteered prediction when absent.
    pub target: Option<Target>,
    pub holdout: f64,
    pub covariance: ErasureCovariance,
}

/// A resolved `[[counterfactual]]`: minimal pairs from a template's slots.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterfactualStudy {
    pub template: String,
    /// Every combination of the slots' values rendered, the last slot varying fastest.
    pub texts: Vec<String>,
    /// Slot name to its values, in the order given (slots sorted by name).
    pub slots: Vec<(String, Vec<String>)>,
    /// The target whose probability is tracked; the unedited prediction when absent.
    pub target: Option<Target>,
}
