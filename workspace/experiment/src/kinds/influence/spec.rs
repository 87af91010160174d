//! `[[influence]]` as written and resolved.

use crate::plan::raw::{RawInputs, RawSource};
use crate::plan::{Parsed, RawTable, Resolver, TableCtx};
use serde::Deserialize;
use toml::Spanned;

/// `[[influence]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawInfluence {
    pub inputs: Option<Spanned<RawInputs>>,
    pub top: Option<Spanned<usize>>,
    pub retrain: Option<Spanned<bool>>,
}

impl RawTable for RawInfluence {
    const KEYS: &'static [&'static str] = &["inputs", "top", "retrain"];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("inputs", RawSource::KEYS)];
}

/// Default `[[influence]] top`.
pub const DEFAULT_INFLUENCE_TOP: usize = 10;

/// A resolved `[[influence]]`: the training examples of the `[head]` that most help and most
/// harm each input's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct InfluenceSpec {
    pub inputs: Vec<String>,
    /// Helpful and harmful examples listed per input (each), >= 1.
    pub top: usize,
    /// Also refit the head without each training example and report the actual change.
    pub retrain: bool,
    /// The `[head]`'s L2 penalty (the objective influence is computed for).
    pub l2: f64,
}

pub(super) fn resolve(
    parsed: &Parsed<RawInfluence>,
    r: &mut Resolver<'_>,
) -> Option<InfluenceSpec> {
    let (t, raw) = (TableCtx::new("[[influence]]", parsed), parsed.raw.get_ref());
    let inputs = r.required_inputs(&raw.inputs, &t);
    let top = r.count(&raw.top, DEFAULT_INFLUENCE_TOP, 1..=1000, "top", &t);
    let retrain = r.flag(&raw.retrain, false, "retrain", &t);
    let l2 = match r.head() {
        Some(head) if head.l2 > 0.0 => Some(head.l2),
        Some(_) => {
            let message = "[[influence]] needs a [head] with `l2` above 0".to_string();
            let help = "influence functions invert the Hessian of the head's objective, which \
                        is singular without an L2 penalty; give [head] `l2 = 1.0` (the default)";
            r.report(t.span.clone(), message, Some(help.into()));
            None
        }
        // An invalid [head] was reported where it is.
        None if r.head_declared() => None,
        None => {
            let message = "[[influence]] needs a [head]: it explains the classifier the \
                           experiment trains"
                .to_string();
            let help = "add a [head] whose `classes` name [concepts] sets of labelled examples \
                        (its training examples are the ones influence ranks)";
            r.report(t.span.clone(), message, Some(help.into()));
            None
        }
    };
    Some(InfluenceSpec {
        inputs: inputs?,
        top: top?,
        retrain: retrain?,
        l2: l2?,
    })
}
