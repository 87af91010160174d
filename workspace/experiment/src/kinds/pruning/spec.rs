//! `[[pruning]]` as written and resolved.

use crate::choice_enum;
use crate::plan::raw::{RawLayers, RawVars};
use crate::plan::{
    DEFAULT_MAX_PROMPTS, MAX_PROMPTS, MetricKind, Parsed, PromptTemplates, RawMetric, RawTable,
    RenderedPrompt, Resolver, TableCtx,
};
use serde::Deserialize;
use toml::Spanned;

/// Default `[[pruning]] curve_steps`.
pub const DEFAULT_CURVE_STEPS: usize = 10;
/// Most `[[pruning]] curve_steps`.
pub const MAX_CURVE_STEPS: usize = 1_000;

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
    /// What a head's output becomes when `[[pruning]]` removes it.
    Ablation {
        /// Zeros.
        Zero = "zero",
        /// Its mean over every real token of the study's prompts.
        Mean = "mean",
    }
}

/// A resolved `[[pruning]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PruningSpec {
    pub prompts: Vec<RenderedPrompt>,
    pub metric: MetricKind,
    pub method: Ablation,
    pub layers: Vec<usize>,
    /// Points on the pruning curve (besides none removed).
    pub curve_steps: usize,
    /// Re-score importance after each curve step.
    pub rescore: bool,
}

pub(super) fn resolve(parsed: &Parsed<RawPruning>, r: &mut Resolver<'_>) -> Option<PruningSpec> {
    let (t, raw) = (TableCtx::new("[[pruning]]", parsed), parsed.raw.get_ref());
    let help = "give a prompt template, e.g. `prompts = \"{{ a }} {{ b }} =\"` with \
                `vars = { a = [...], b = [...] }`";
    let prompts = r.required(&raw.prompts, "prompts", &t, Some(help.into()));
    let metric = r.metric_key(&raw.metric, &t);
    let distinct = r.flag(&raw.distinct, false, "distinct", &t);
    let max = r.count(
        &raw.max_prompts,
        DEFAULT_MAX_PROMPTS,
        1..=MAX_PROMPTS,
        "max_prompts",
        &t,
    );
    let method = r.choice(&raw.method, "method", &t);
    let layers = r.layers_or_all(&raw.layers, &t);
    let steps = r.count(
        &raw.curve_steps,
        DEFAULT_CURVE_STEPS,
        1..=MAX_CURVE_STEPS,
        "curve_steps",
        &t,
    );
    let rescore = r.flag(&raw.rescore, false, "rescore", &t);
    let metric = metric?;
    let templates = PromptTemplates {
        prompts: vec![prompts?],
        vars: raw.vars.as_ref(),
        distinct: distinct?,
        max: max?,
    };
    let prompts = r.render_prompts(&templates, &metric, &t)?;
    Some(PruningSpec {
        prompts,
        metric: metric.kind,
        method: method?,
        layers: layers?,
        curve_steps: steps?,
        rescore: rescore?,
    })
}
