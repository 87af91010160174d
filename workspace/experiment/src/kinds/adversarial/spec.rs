//! `[[adversarial]]` as written and resolved.

use crate::plan::raw::{RawInputs, RawSource};
use crate::plan::{Parsed, RawTable, Resolver, TableCtx};
use serde::Deserialize;
use toml::Spanned;

/// `[[adversarial]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawAdversarial {
    pub inputs: Option<Spanned<RawInputs>>,
    pub max_edits: Option<Spanned<usize>>,
    pub candidates: Option<Spanned<usize>>,
    pub vocabulary: Option<Spanned<RawInputs>>,
    pub word_classes: Option<Spanned<RawInputs>>,
}

impl RawTable for RawAdversarial {
    const KEYS: &'static [&'static str] = &[
        "inputs",
        "max_edits",
        "candidates",
        "vocabulary",
        "word_classes",
    ];
    const NESTED: &'static [(&'static str, &'static [&'static str])] = &[
        ("inputs", RawSource::KEYS),
        ("vocabulary", RawSource::KEYS),
        ("word_classes", RawSource::KEYS),
    ];
}

/// Default `[[adversarial]] max_edits`.
pub const DEFAULT_MAX_EDITS: usize = 3;
/// Default `[[adversarial]] candidates`.
pub const DEFAULT_CANDIDATES: usize = 20;

/// A resolved `[[adversarial]]`: the smallest edit that flips the classifier's decision on each
/// input.
#[derive(Debug, Clone, PartialEq)]
pub struct AdversarialSpec {
    pub inputs: Vec<String>,
    /// Edits at most, >= 1.
    pub max_edits: usize,
    /// Substitutions (best first-order score first) checked exactly at each step, >= 1; every
    /// deletion is checked besides.
    pub candidates: usize,
    /// The words substitutes are drawn from (each must be one token); every token of the model
    /// that is not special when absent (and no `word_classes`).
    pub vocabulary: Option<Vec<String>>,
    /// Classes of interchangeable words (each one token): a token is only substituted by the
    /// other words of its class, and a token in no class only deleted.
    pub word_classes: Option<Vec<Vec<String>>>,
}

pub(super) fn resolve(
    parsed: &Parsed<RawAdversarial>,
    r: &mut Resolver<'_>,
) -> Option<AdversarialSpec> {
    let (t, raw) = (
        TableCtx::new("[[adversarial]]", parsed),
        parsed.raw.get_ref(),
    );
    let inputs = r.required_inputs(&raw.inputs, &t);
    let max_edits = r.count(&raw.max_edits, DEFAULT_MAX_EDITS, 1..=100, "max_edits", &t);
    let candidates = r.count(
        &raw.candidates,
        DEFAULT_CANDIDATES,
        1..=100_000,
        "candidates",
        &t,
    );
    let vocabulary = match t.optional(&raw.vocabulary, "vocabulary")? {
        Some(value) => Some(r.texts(value, "vocabulary", &t)?),
        None => None,
    };
    let word_classes = match t.optional(&raw.word_classes, "word_classes")? {
        Some(value) => {
            let lines = r.texts(value, "word_classes", &t)?;
            let classes = lines
                .iter()
                .map(|line| line.split_whitespace().map(str::to_owned));
            Some(classes.map(Iterator::collect).collect::<Vec<Vec<String>>>())
        }
        None => None,
    };
    if let (Some(_), Some(classes)) = (&vocabulary, &raw.word_classes) {
        let message = "[[adversarial]] has both `vocabulary` and `word_classes`".to_string();
        let help = "keep one: `vocabulary` lists the substitutes for any token, `word_classes` \
                    the substitutes for the words of each class";
        r.report(classes.span(), message, Some(help.into()));
        return None;
    }
    let unclassified = r
        .model()
        .and_then(|(model, facts)| facts.class_names.is_empty().then(|| model.to_owned()));
    if let Some(model) = unclassified {
        let message = format!(
            "[[adversarial]] flips a classifier's decision, and model `{model}` has no classifier"
        );
        let help = "add a [head] (a classifier trained on [concepts] sets), or use a model \
                    with its own classes";
        r.report(t.span.clone(), message, Some(help.into()));
        return None;
    }
    Some(AdversarialSpec {
        inputs: inputs?,
        max_edits: max_edits?,
        candidates: candidates?,
        vocabulary,
        word_classes,
    })
}
