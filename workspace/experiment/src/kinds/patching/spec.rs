//! `[[patching]]` as written and resolved.

use crate::choice_enum;
use crate::plan::raw::{RawLayers, RawVars};
use crate::plan::{
    DEFAULT_MAX_PROMPTS, MAX_PROMPTS, MetricKind, Parsed, PromptTemplates, RawMetric, RawTable,
    RenderedPrompt, Resolver, TableCtx,
};
use serde::Deserialize;
use toml::Spanned;

/// Most final tokens `align_last` may match.
pub const MAX_ALIGN_LAST: usize = 1_000;

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

/// A resolved `[[patching]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchingSpec {
    /// The prompt pairs (one, or the template's renderings).
    pub pairs: Vec<RenderedPrompt>,
    pub metric: MetricKind,
    pub sites: Vec<PatchSite>,
    pub layers: Vec<usize>,
    pub directions: Vec<Direction>,
    /// Also estimate every patch by attribution patching.
    pub attribution: bool,
    /// Patch only each prompt's last N tokens, matched from the end (a pair's prompts may then
    /// differ in length).
    pub align_last: Option<usize>,
}

pub(super) fn resolve(parsed: &Parsed<RawPatching>, r: &mut Resolver<'_>) -> Option<PatchingSpec> {
    let (t, raw) = (TableCtx::new("[[patching]]", parsed), parsed.raw.get_ref());
    let help = "give the two prompts, e.g. `clean = \"When {{ a }} and {{ b }} went to the \
                store, {{ b }} gave a drink to\"` with `vars = { a = [...], b = [...] }`";
    let clean = r.required(&raw.clean, "clean", &t, Some(help.into()));
    let corrupted = r.required(&raw.corrupted, "corrupted", &t, Some(help.into()));
    let metric = r.metric_key(&raw.metric, &t);
    let distinct = r.flag(&raw.distinct, true, "distinct", &t);
    let max = r.count(
        &raw.max_pairs,
        DEFAULT_MAX_PROMPTS,
        1..=MAX_PROMPTS,
        "max_pairs",
        &t,
    );
    let sites = match t.optional(&raw.sites, "sites")? {
        Some(list) => r.choice_list(list, "sites", "site", &t),
        None => Some(vec![PatchSite::ResidPre]),
    };
    let directions = match t.optional(&raw.directions, "directions")? {
        Some(list) => r.choice_list(list, "directions", "direction", &t),
        None => Some(vec![Direction::Denoise]),
    };
    let layers = r.layers_or_all(&raw.layers, &t);
    let attribution = r.flag(&raw.attribution, true, "attribution", &t);
    let align_last = match t.optional(&raw.align_last, "align_last")? {
        Some(_) => r
            .count(&raw.align_last, 1, 1..=MAX_ALIGN_LAST, "align_last", &t)
            .map(Some),
        None => Some(None),
    };
    let metric = metric?;
    let templates = PromptTemplates {
        prompts: vec![clean?, corrupted?],
        vars: raw.vars.as_ref(),
        distinct: distinct?,
        max: max?,
    };
    let pairs = r.render_prompts(&templates, &metric, &t)?;
    Some(PatchingSpec {
        pairs,
        metric: metric.kind,
        sites: sites?,
        layers: layers?,
        directions: directions?,
        attribution: attribution?,
        align_last: align_last?,
    })
}
