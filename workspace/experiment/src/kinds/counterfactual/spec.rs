//! `[[counterfactual]]` as written and resolved.

use crate::plan::raw::{RawSource, RawTarget, RawVars};
use crate::plan::{Parsed, RawTable, Resolver, TableCtx, Target};
use serde::Deserialize;
use toml::Spanned;

/// `[[counterfactual]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawCounterfactual {
    pub template: Option<Spanned<String>>,
    pub vars: Option<RawVars>,
    pub target: Option<Spanned<RawTarget>>,
}

impl RawTable for RawCounterfactual {
    const KEYS: &'static [&'static str] = &["template", "vars", "target"];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("target", RawTarget::KEYS)];
}

/// A resolved `[[counterfactual]]`: minimal pairs from a template's slots.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterfactualSpec {
    pub template: String,
    /// Every combination of the slots' values rendered, the last slot varying fastest.
    pub texts: Vec<String>,
    /// Slot name to its values, in the order given (slots sorted by name).
    pub slots: Vec<(String, Vec<String>)>,
    /// The target whose probability is tracked; the unedited prediction when absent.
    pub target: Option<Target>,
}

pub(super) fn resolve(
    parsed: &Parsed<RawCounterfactual>,
    r: &mut Resolver<'_>,
) -> Option<CounterfactualSpec> {
    let (t, raw) = (
        TableCtx::new("[[counterfactual]]", parsed),
        parsed.raw.get_ref(),
    );
    let help = "write a minijinja template with slots, e.g. \
                `template = \"the {{ noun }} was {{ adj }}\"`";
    let template = r.required(&raw.template, "template", &t, Some(help.into()));
    let vars = r.required(
        &raw.vars,
        "vars",
        &t,
        Some("give each slot its values: `vars = { adj = [\"good\", \"bad\"] }`".into()),
    );
    let target = r.optional_target(&raw.target, &t);
    let (template, vars) = (template?, vars?);
    let slots: Vec<(String, Vec<String>)> = vars
        .get_ref()
        .iter()
        .map(|(name, value)| {
            let values = value.get_ref().as_array().into_iter().flatten();
            let values = values.filter_map(|v| v.as_str().map(str::to_owned));
            (name.clone(), values.collect())
        })
        .collect();
    let source = RawSource {
        file: None,
        examples: None,
        template: Some(template.clone()),
        vars: Some(vars.clone()),
    };
    let set = r.load(&source, t.span.clone(), t.name)?;
    if let Some((name, _)) = slots.iter().find(|(_, values)| values.len() < 2) {
        let message = format!("slot `{name}` in [[counterfactual]] has one value");
        let help = "a minimal pair swaps a slot's value for another: give it two or more";
        r.report(vars.span(), message, Some(help.into()));
        return None;
    }
    Some(CounterfactualSpec {
        template: template.get_ref().clone(),
        texts: set.examples,
        slots,
        target: target?,
    })
}
