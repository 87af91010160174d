//! `[[patching]]` and `[[pruning]]`: raw tables as written and the resolved studies.

use super::{Choice, RawLayers, RawTable, serialize_name, serialize_names};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// Template variables as written: each a list of strings (checked during validation).
pub type RawVars = Spanned<BTreeMap<String, Spanned<toml::Value>>>;

/// A patching or pruning `metric` as written: exactly one key.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like `{ logit_diff = [\"A\", \"B\"] }`, `{ logprob = \"T\" }`, \
                 `{ class_prob = \"C\" }` or `{ kl = true }`"
)]
pub struct RawMetric {
    pub logit_diff: Option<Spanned<Vec<Spanned<String>>>>,
    pub logprob: Option<Spanned<String>>,
    pub class_prob: Option<Spanned<String>>,
    pub kl: Option<Spanned<bool>>,
}

impl RawMetric {
    /// Every key a metric table accepts.
    pub const KEYS: &'static [&'static str] = &["logit_diff", "logprob", "class_prob", "kl"];
}

/// `[[patching]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawPatching {
    pub clean: Option<Spanned<String>>,
    pub corrupted: Option<Spanned<String>>,
    pub vars: Option<RawVars>,
    pub distinct: Option<Spanned<bool>>,
    pub max_pairs: Option<Spanned<usize>>,
    pub metric: Option<Spanned<RawMetric>>,
    pub sites: Option<Spanned<Vec<Spanned<String>>>>,
    pub layers: Option<Spanned<RawLayers>>,
    pub directions: Option<Spanned<Vec<Spanned<String>>>>,
    pub attribution: Option<Spanned<bool>>,
    pub align_last: Option<Spanned<usize>>,
}

impl RawTable for RawPatching {
    const KEYS: &'static [&'static str] = &[
        "clean",
        "corrupted",
        "vars",
        "distinct",
        "max_pairs",
        "metric",
        "sites",
        "layers",
        "directions",
        "attribution",
        "align_last",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("metric", RawMetric::KEYS)];
}

/// `[[pruning]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawPruning {
    pub prompts: Option<Spanned<String>>,
    pub vars: Option<RawVars>,
    pub distinct: Option<Spanned<bool>>,
    pub max_prompts: Option<Spanned<usize>>,
    pub metric: Option<Spanned<RawMetric>>,
    pub method: Option<Spanned<String>>,
    pub layers: Option<Spanned<RawLayers>>,
    pub curve_steps: Option<Spanned<usize>>,
    pub rescore: Option<Spanned<bool>>,
}

impl RawTable for RawPruning {
    const KEYS: &'static [&'static str] = &[
        "prompts",
        "vars",
        "distinct",
        "max_prompts",
        "metric",
        "method",
        "layers",
        "curve_steps",
        "rescore",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("metric", RawMetric::KEYS)];
}

choice_enum! {
    /// What one patch of `[[patching]]` replaces.
    PatchSite {
        /// The residual stream entering a block, one position at a time.
        ResidPre = "resid_pre",
        /// What attention adds, one position at a time.
        AttnOut = "attn_out",
        /// What the MLP adds, one position at a time.
        MlpOut = "mlp_out",
        /// One head's output (`attn.hook_z`) at every position.
        Head = "head",
        /// One head's output at one position.
        HeadPosition = "head_position",
    }
}

choice_enum! {
    /// Which run `[[patching]]` patches into.
    Direction {
        /// Clean activations into the corrupted run.
        Denoise = "denoise",
        /// Corrupted activations into the clean run.
        Noise = "noise",
    }
}

choice_enum! {
    /// What a head's output becomes when `[[pruning]]` removes it.
    Ablation {
        /// Zeros.
        Zero = "zero",
        /// Its mean over every real token of the study's prompts.
        Mean = "mean",
    }
}

/// What a patching or pruning study measures, at each prompt's last token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// `logit(A) − logit(B)`.
    LogitDiff,
    /// `log p(T)`.
    Logprob,
    /// `p(C)` of a classifier's class.
    ClassProb,
    /// `KL(reference ‖ run)`: to the clean run (patching) or the unablated run (pruning).
    Kl,
}

impl MetricKind {
    /// The spelling used in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::LogitDiff => "logit_diff",
            MetricKind::Logprob => "logprob",
            MetricKind::ClassProb => "class_prob",
            MetricKind::Kl => "kl",
        }
    }
}

/// A prompt (pair) with its rendered metric targets: tokens (`logit_diff`: two, `logprob`:
/// one), a class name (`class_prob`), none (`kl`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderedPrompt {
    /// The clean prompt (pruning: the prompt).
    pub clean: String,
    /// The corrupted prompt (empty for pruning).
    pub corrupted: String,
    /// Metric targets.
    pub targets: Vec<String>,
}

/// Default `[[patching]] max_pairs` and `[[pruning]] max_prompts`.
pub const DEFAULT_MAX_PROMPTS: usize = 64;
/// Default `[[pruning]] curve_steps`.
pub const DEFAULT_CURVE_STEPS: usize = 10;

/// A resolved `[[patching]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchingStudy {
    /// The prompt pairs (one, or the template's renderings).
    pub pairs: Vec<RenderedPrompt>,
    pub metric: MetricKind,
    #[serde(serialize_with = "serialize_names")]
    pub sites: Vec<PatchSite>,
    pub layers: Vec<usize>,
    #[serde(serialize_with = "serialize_names")]
    pub directions: Vec<Direction>,
    /// Also estimate every patch by attribution patching.
    pub attribution: bool,
    /// Patch only each prompt's last N tokens, matched from the end (a pair's prompts may then
    /// differ in length).
    pub align_last: Option<usize>,
}

/// A resolved `[[pruning]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PruningStudy {
    pub prompts: Vec<RenderedPrompt>,
    pub metric: MetricKind,
    #[serde(serialize_with = "serialize_name")]
    pub method: Ablation,
    pub layers: Vec<usize>,
    /// Points on the pruning curve (besides none removed).
    pub curve_steps: usize,
    /// Re-score importance after each curve step.
    pub rescore: bool,
}
