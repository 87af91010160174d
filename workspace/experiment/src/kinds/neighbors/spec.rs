//! `[[neighbors]]` as written and resolved.

use crate::choice_enum;
use crate::plan::raw::{RawInputs, RawSource};
use crate::plan::{Parsed, RawTable, Resolver, TableCtx};
use cavern_model::SitePoint;
use cavern_probe::Pooling;
use serde::Deserialize;
use toml::Spanned;

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

choice_enum! {
    /// Which witness values `[[neighbors]]` ranks criticisms by.
    WitnessChoice {
        /// The signed witness: examples the prototypes under-represent.
        Positive = "positive",
        /// |witness| (MMD-critic's choice): under- or over-represented examples.
        Absolute = "absolute",
    }
}

/// Default `[[neighbors]] k`.
pub const DEFAULT_NEIGHBORS: usize = 5;
/// Default `[[neighbors]] prototypes` and `criticisms`.
pub const DEFAULT_PROTOTYPES: usize = 4;
/// Most neighbours, prototypes or criticisms a `[[neighbors]]` study lists.
pub const MAX_NEIGHBORS: usize = 1_000;

/// A resolved `[[neighbors]]`: each input's nearest reference examples at one site, and
/// MMD-critic prototypes and criticisms of the reference set.
#[derive(Debug, Clone, PartialEq)]
pub struct NeighborsSpec {
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

pub(super) fn resolve(
    parsed: &Parsed<RawNeighbors>,
    r: &mut Resolver<'_>,
) -> Option<NeighborsSpec> {
    let (t, raw) = (TableCtx::new("[[neighbors]]", parsed), parsed.raw.get_ref());
    let inputs = r.required_inputs(&raw.inputs, &t);
    let concepts = match t.optional(&raw.concepts, "concepts") {
        Some(Some(list)) => r.concept_refs(list, t.name),
        Some(None) if r.defined_concepts().is_empty() => {
            let message = "[[neighbors]] needs a reference set, and the file defines no \
                           [concepts]"
                .to_string();
            let help = "add [concepts.NAME] tables: their examples, labelled by NAME, are \
                        the reference set";
            r.report(t.span.clone(), message, Some(help.into()));
            None
        }
        Some(None) => Some(r.defined_concepts().iter().map(|c| c.to_string()).collect()),
        None => None,
    };
    let site = r.choice::<SitePoint>(&raw.site, "site", &t);
    let layer = site.and_then(|site| r.site_layer(site, &raw.layer, &raw.site, true, &t));
    let pooling = r.choice::<Pooling>(&raw.pooling, "pooling", &t);
    let k = r.count(&raw.k, DEFAULT_NEIGHBORS, 1..=MAX_NEIGHBORS, "k", &t);
    let prototypes = r.count(
        &raw.prototypes,
        DEFAULT_PROTOTYPES,
        0..=MAX_NEIGHBORS,
        "prototypes",
        &t,
    );
    let criticisms = r.count(
        &raw.criticisms,
        DEFAULT_PROTOTYPES,
        0..=MAX_NEIGHBORS,
        "criticisms",
        &t,
    );
    let witness = r.choice::<WitnessChoice>(&raw.witness, "witness", &t);
    // Criticisms are judged against prototypes: none without them.
    let criticisms = match (prototypes, criticisms, &raw.criticisms) {
        (Some(0), Some(c), Some(given)) if c > 0 => {
            let message =
                "`criticisms` in [[neighbors]] needs prototypes, and `prototypes` is 0".into();
            let help = "criticisms are the examples the prototypes represent worst; set \
                        `prototypes` to 1 or more, or remove `criticisms`";
            r.report(given.span(), message, Some(help.into()));
            None
        }
        (Some(0), Some(_), None) => Some(0),
        (_, criticisms, _) => criticisms,
    };
    Some(NeighborsSpec {
        inputs: inputs?,
        concepts: concepts?,
        site: site?,
        layer: layer?,
        pooling: pooling?,
        k: k?,
        prototypes: prototypes?,
        criticisms: criticisms?,
        witness: witness?,
    })
}
