//! `[[probe]]` as written and resolved.

use crate::plan::raw::RawLayers;
use crate::plan::{CavKeys, Parsed, RawCavKeys, RawTable, Resolver, TableCtx};
use cavern_model::SitePoint;
use cavern_probe::{CavOptions, Pooling};
use serde::Deserialize;
use toml::Spanned;

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

/// A resolved `[[probe]]`: CAV accuracy for concepts x layers x sites.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
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

pub(super) fn resolve(parsed: &Parsed<RawProbe>, r: &mut Resolver<'_>) -> Option<ProbeSpec> {
    let (t, raw) = (TableCtx::new("[[probe]]", parsed), parsed.raw.get_ref());
    let keys = RawCavKeys {
        concepts: &raw.concepts,
        layers: &raw.layers,
        site: &raw.site,
        pooling: &raw.pooling,
        method: &raw.method,
        l2: &raw.l2,
        max_iterations: &raw.max_iterations,
        holdout: &raw.holdout,
        folds: &raw.folds,
    };
    let CavKeys {
        concepts,
        layers,
        site,
        pooling,
        cav,
    } = r.cav_keys(keys, &t)?;
    let flag = |value: &Option<Spanned<bool>>| value.as_ref().is_some_and(|v| *v.get_ref());
    if let Some(relative) = raw.relative.as_ref().filter(|_| concepts.len() < 2)
        && *relative.get_ref()
    {
        let message = "`relative` in [[probe]] needs at least two concepts".to_string();
        let help = "relative CAVs separate each listed concept from each other one";
        r.report(relative.span(), message, Some(help.into()));
        return None;
    }
    let sites = match &raw.sites {
        None => vec![site],
        Some(list) => site_list(r, list, raw.site.is_some(), &t)?,
    };
    Some(ProbeSpec {
        concepts,
        layers,
        sites,
        pooling,
        cav,
        relative: flag(&raw.relative),
        decompose: flag(&raw.decompose),
    })
}

/// `sites`: one or more distinct sites, and no `site` beside it.
fn site_list(
    r: &mut Resolver<'_>,
    list: &Spanned<Vec<Spanned<String>>>,
    with_site: bool,
    t: &TableCtx<'_>,
) -> Option<Vec<SitePoint>> {
    if with_site {
        let message = "[[probe]] has both `site` and `sites`".to_string();
        let help = "keep one: `site = \"...\"` for one site, `sites = [...]` for several";
        r.report(list.span(), message, Some(help.into()));
        return None;
    }
    r.choice_list(list, "sites", "site", t)
}
