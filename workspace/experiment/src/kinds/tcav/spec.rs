//! `[[tcav]]` as written and resolved.

use crate::plan::raw::{RawInputs, RawLayers, RawSource, RawTarget};
use crate::plan::{
    CavKeys, MAX_RANDOM_SETS, MIN_RANDOM_SETS, Parsed, RandomPool, RawCavKeys, RawTable, Resolver,
    TableCtx, Target,
};
use cavern_model::SitePoint;
use cavern_probe::{CavOptions, Pooling};
use cavern_stats::Correction;
use serde::Deserialize;
use toml::Spanned;

/// Default TCAV significance level.
pub const DEFAULT_ALPHA: f64 = 0.05;

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

/// A resolved `[[tcav]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TcavSpec {
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
    pub correction: Correction,
}

pub(super) fn resolve(parsed: &Parsed<RawTcav>, r: &mut Resolver<'_>) -> Option<TcavSpec> {
    let (t, raw) = (TableCtx::new("[[tcav]]", parsed), parsed.raw.get_ref());
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
    let keys = r.cav_keys(keys, &t);
    let target = r.required(&raw.target, "target", &t, None);
    let target = target.and_then(|target| r.target_key(target, "target", &t));
    let inputs = r.required(&raw.inputs, "inputs", &t, None);
    let inputs = inputs.and_then(|inputs| r.inputs(inputs, &t));
    let random = r.random().cloned();
    let random_runs = random_runs(r, &raw.random_runs, random.as_ref(), &t);
    let alpha = r.fraction(&raw.alpha, DEFAULT_ALPHA, "alpha", &t);
    let correction = r.choice::<Correction>(&raw.correction, "correction", &t);
    let CavKeys {
        concepts,
        layers,
        site,
        pooling,
        cav,
    } = keys?;
    Some(TcavSpec {
        target: target?,
        inputs: inputs?,
        concepts,
        layers,
        site,
        pooling,
        cav,
        random_runs: random_runs?,
        alpha: alpha?,
        correction: correction?,
    })
}

/// `random_runs`: 2 or more, at most the pool's `sets` (all of them when absent).
fn random_runs(
    r: &mut Resolver<'_>,
    value: &Option<Spanned<usize>>,
    random: Option<&RandomPool>,
    t: &TableCtx<'_>,
) -> Option<usize> {
    let runs = r.count(
        value,
        0,
        MIN_RANDOM_SETS..=MAX_RANDOM_SETS,
        "random_runs",
        t,
    );
    // Without a valid pool the default is unknown (the pool's problem is already reported).
    let sets = random?.sets;
    let runs = runs?;
    match value {
        None => Some(sets),
        Some(value) if runs > sets => {
            let message = format!("`random_runs` = {runs} exceeds `sets` = {sets} in [random]");
            let help = "raise `sets` in [random] or lower `random_runs`";
            r.report(value.span(), message, Some(help.into()));
            None
        }
        Some(_) => Some(runs),
    }
}
