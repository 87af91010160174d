//! `[[steering]]` as written and resolved.

use crate::choice_enum;
use crate::plan::raw::{RawInputs, RawLayers, RawSource, RawTarget};
use crate::plan::{MAX_TOP_K, ModelKind, Parsed, RawTable, Resolver, TableCtx, Target};
use cavern_model::SitePoint;
use cavern_probe::Pooling;
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::fmt;
use std::path::PathBuf;
use toml::Spanned;

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

choice_enum! {
    /// The token positions `[[steering]]` adds its vector at.
    SteeringPositions {
        /// Every real token of the input (and every generated one).
        All = "all",
        /// The input's last real token (and every generated one).
        Last = "last",
    }
}

/// Where a steering vector comes from.
#[derive(Debug, Clone, PartialEq)]
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
/// Most `[[steering]] continue` tokens.
pub const MAX_CONTINUE_TOKENS: usize = 1_000;

/// A resolved `[[steering]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SteeringSpec {
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

pub(super) fn resolve(parsed: &Parsed<RawSteering>, r: &mut Resolver<'_>) -> Option<SteeringSpec> {
    let (t, raw) = (TableCtx::new("[[steering]]", parsed), parsed.raw.get_ref());
    let inputs = r.required_inputs(&raw.inputs, &t);
    let source = steering_source(r, raw, &t);
    let layers = r.required(&raw.layers, "layers", &t, None);
    let layers = layers.and_then(|layers| r.layers(layers, t.name));
    let site = r.residual_site(&raw.site, &t);
    let positions = r.choice(&raw.positions, "positions", &t);
    let pooling = r.choice(&raw.pooling, "pooling", &t);
    let alphas = r.required(&raw.alphas, "alphas", &t, None);
    let alphas = alphas.and_then(|alphas| resolve_alphas(r, alphas));
    let target = r.optional_target(&raw.target, &t);
    let top_k = r.count(&raw.top_k, DEFAULT_TOP_K, 1..=MAX_TOP_K, "top_k", &t);
    let continue_tokens = continuation(r, &raw.continue_tokens, &t);
    let flip_bound = match (&raw.flip_bound, &alphas) {
        (Some(bound), _) => r.positive(bound, "flip_bound", &t),
        (None, Some(alphas)) => alphas.iter().map(|a| a.abs()).reduce(f64::max),
        (None, None) => None,
    };
    Some(SteeringSpec {
        inputs: inputs?,
        source: source?,
        layers: layers?,
        site: site?,
        positions: positions?,
        pooling: pooling?,
        alphas: alphas?,
        target: target?,
        top_k: top_k?,
        continue_tokens: continue_tokens?,
        flip_bound: flip_bound?,
    })
}

/// Exactly one of `concept`, `contrast` or `vector`.
fn steering_source(
    r: &mut Resolver<'_>,
    raw: &RawSteering,
    t: &TableCtx<'_>,
) -> Option<SteeringSource> {
    if ["concept", "contrast", "vector"]
        .iter()
        .any(|k| t.was_reported(k))
    {
        return None;
    }
    match (&raw.concept, &raw.contrast, &raw.vector) {
        (Some(concept), None, None) => r.concept_trained(concept, t).map(SteeringSource::Concept),
        (None, Some(contrast), None) => resolve_contrast(r, contrast),
        (None, None, Some(vector)) => vector_file(r, vector),
        _ => {
            let message = "[[steering]] needs exactly one of `concept`, `contrast` or `vector`";
            let help = "`concept = \"NAME\"` steers along a [concepts] set's CAV, `contrast = \
                        { positive = ..., negative = ... }` along a difference of means, \
                        `vector = \"FILE.safetensors\"` along a saved vector";
            r.report(t.span.clone(), message.into(), Some(help.into()));
            None
        }
    }
}

fn resolve_contrast(
    r: &mut Resolver<'_>,
    contrast: &Spanned<RawContrast>,
) -> Option<SteeringSource> {
    let raw = contrast.get_ref();
    let mut side = |value: &Option<Spanned<RawTexts>>, key: &str| {
        let Some(value) = value else {
            let message = format!("`contrast` in [[steering]] has no `{key}`");
            let help = "write `contrast = { positive = \"CONCEPT\" or [\"text\", ...], \
                        negative = ... }`";
            r.report(contrast.span(), message, Some(help.into()));
            return None;
        };
        match value.get_ref() {
            RawTexts::Concept(name) => {
                let spanned = Spanned::new(value.span(), name.clone());
                let name = r.concept_name(&spanned, "`contrast` of [[steering]]")?;
                // A defined set that did not load has its problem reported already.
                let texts = r.concepts().get(&name)?.clone();
                Some((name, texts))
            }
            RawTexts::Inline(texts) if texts.is_empty() => {
                let message = format!("`{key}` in `contrast` of [[steering]] is empty");
                let help = "list at least one text, or name a [concepts] set";
                r.report(value.span(), message, Some(help.into()));
                None
            }
            RawTexts::Inline(texts) => Some((
                "inline".to_owned(),
                texts.iter().map(|t| t.get_ref().clone()).collect(),
            )),
        }
    };
    let positive = side(&raw.positive, "positive");
    let negative = side(&raw.negative, "negative");
    let ((pos_name, positive), (neg_name, negative)) = (positive?, negative?);
    Some(SteeringSource::Contrast {
        label: format!("contrast:{pos_name}-{neg_name}"),
        positive,
        negative,
    })
}

/// `vector`: a safetensors file that exists (its width is checked when the model runs).
fn vector_file(r: &mut Resolver<'_>, vector: &Spanned<String>) -> Option<SteeringSource> {
    let path = r.base_dir().join(vector.get_ref());
    if path.is_file() {
        return Some(SteeringSource::File(path));
    }
    let message = format!("vector file `{}` does not exist", path.display());
    let help = "give a safetensors file, relative to the experiment file, e.g. a run's \
                `cavs/CONCEPT.L2.resid_post.safetensors`";
    r.report(vector.span(), message, Some(help.into()));
    None
}

/// `alphas`: finite, distinct; returned ascending with 0 (the unsteered baseline) added.
fn resolve_alphas(r: &mut Resolver<'_>, list: &Spanned<Vec<Spanned<f64>>>) -> Option<Vec<f64>> {
    let mut alphas: Vec<f64> = vec![0.0];
    let mut valid = true;
    for alpha in list.get_ref() {
        let value = *alpha.get_ref();
        let problem = if !value.is_finite() {
            Some(format!(
                "α = {value} in [[steering]] is not a finite number"
            ))
        } else if value != 0.0 && alphas.contains(&value) {
            Some(format!("α = {value} is listed twice in [[steering]]"))
        } else {
            None
        };
        match problem {
            Some(message) => {
                r.report(alpha.span(), message, None);
                valid = false;
            }
            None if value != 0.0 => alphas.push(value),
            None => {}
        }
    }
    alphas.sort_by(f64::total_cmp);
    valid.then_some(alphas)
}

/// `continue`: greedy continuation tokens, decoders only.
fn continuation(
    r: &mut Resolver<'_>,
    value: &Option<Spanned<usize>>,
    t: &TableCtx<'_>,
) -> Option<usize> {
    let tokens = r.count(value, 0, 0..=MAX_CONTINUE_TOKENS, "continue", t)?;
    let kind = r.model().map(|(_, facts)| facts.kind);
    match (value, kind) {
        (Some(value), Some(ModelKind::Encoder)) if tokens > 0 => {
            let message = "`continue` in [[steering]] needs a decoder".to_string();
            let help = "greedy continuations exist for language models; remove `continue`";
            r.report(value.span(), message, Some(help.into()));
            None
        }
        _ => Some(tokens),
    }
}
