//! `[[logit_lens]]` as written and resolved.

use crate::plan::raw::RawVars;
use crate::plan::{
    DEFAULT_MAX_PROMPTS, MAX_PROMPTS, MAX_TOP_K, MetricKind, Parsed, PromptTemplates, RawMetric,
    RawTable, RenderedPrompt, Resolver, TableCtx,
};
use serde::Deserialize;
use toml::Spanned;

/// Top tokens per layer by default.
const DEFAULT_TOP_K: usize = 5;

/// `[[logit_lens]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawLogitLens {
    pub prompts: Option<Spanned<String>>,
    pub vars: Option<RawVars>,
    pub distinct: Option<Spanned<bool>>,
    pub max_prompts: Option<Spanned<usize>>,
    pub metric: Option<Spanned<RawMetric>>,
    pub top_k: Option<Spanned<usize>>,
}

impl RawTable for RawLogitLens {
    const KEYS: &'static [&'static str] = &[
        "prompts",
        "vars",
        "distinct",
        "max_prompts",
        "metric",
        "top_k",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("metric", RawMetric::KEYS)];
}

/// A resolved `[[logit_lens]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct LogitLensSpec {
    /// The rendered prompts, each with its answer and distractor (`targets`).
    pub prompts: Vec<RenderedPrompt>,
    /// Top tokens reported per layer.
    pub top_k: usize,
}

pub(super) fn resolve(
    parsed: &Parsed<RawLogitLens>,
    r: &mut Resolver<'_>,
) -> Option<LogitLensSpec> {
    let (t, raw) = (
        TableCtx::new("[[logit_lens]]", parsed),
        parsed.raw.get_ref(),
    );
    let help = "give a prompt template, e.g. `prompts = \"When {{ a }} and {{ b }} went to the \
                store, {{ b }} gave a drink to\"` with `vars = { a = [...], b = [...] }`";
    let prompts = r.required(&raw.prompts, "prompts", &t, Some(help.into()));
    let metric = r.metric_key(&raw.metric, &t);
    let distinct = r.flag(&raw.distinct, true, "distinct", &t);
    let max = r.count(
        &raw.max_prompts,
        DEFAULT_MAX_PROMPTS,
        1..=MAX_PROMPTS,
        "max_prompts",
        &t,
    );
    let top_k = r.count(&raw.top_k, DEFAULT_TOP_K, 1..=MAX_TOP_K, "top_k", &t);
    let metric = metric?;
    if metric.kind != MetricKind::LogitDiff {
        let span = raw.metric.as_ref().map_or(0..0, |m| m.span());
        r.report(
            span,
            format!(
                "[[logit_lens]] attributes a logit difference, not `{}`",
                metric.kind.as_str()
            ),
            Some("write `metric = { logit_diff = [\"ANSWER\", \"DISTRACTOR\"] }`".into()),
        );
        return None;
    }
    let templates = PromptTemplates {
        prompts: vec![prompts?],
        vars: raw.vars.as_ref(),
        distinct: distinct?,
        max: max?,
    };
    let prompts = r.render_prompts(&templates, &metric, &t)?;
    Some(LogitLensSpec {
        prompts,
        top_k: top_k?,
    })
}
