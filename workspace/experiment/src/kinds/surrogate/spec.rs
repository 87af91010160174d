//! `[[surrogate]]` as written and resolved.

use crate::plan::raw::{RawInputs, RawSource};
use crate::plan::{ModelKind, Parsed, RawTable, Resolver, TableCtx};
use cavern_probe::student::{WordSet, words};
use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;
use toml::Spanned;

/// `[[surrogate]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, expecting = "a table")]
pub struct RawSurrogate {
    pub inputs: Option<Spanned<RawInputs>>,
    pub words: Option<Spanned<BTreeMap<String, Spanned<RawWords>>>>,
    pub max_depth: Option<Spanned<usize>>,
    pub holdout: Option<Spanned<f64>>,
}

impl RawTable for RawSurrogate {
    const KEYS: &'static [&'static str] = &["inputs", "words", "max_depth", "holdout"];
    const NESTED: &'static [(&'static str, &'static [&'static str])] =
        &[("inputs", RawSource::KEYS)];
}

/// One word set as written: a file of words (one per line) or an inline list.
#[derive(Debug, Clone)]
pub enum RawWords {
    File(String),
    List(Vec<Spanned<String>>),
}

impl<'de> Deserialize<'de> for RawWords {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WordsVisitor;
        impl<'de> Visitor<'de> for WordsVisitor {
            type Value = RawWords;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of words or the path of a file of words, one per line")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawWords, E> {
                Ok(RawWords::File(v.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawWords, A::Error> {
                let mut words = Vec::new();
                while let Some(word) = seq.next_element()? {
                    words.push(word);
                }
                Ok(RawWords::List(words))
            }
        }
        deserializer.deserialize_any(WordsVisitor)
    }
}

/// Default `[[surrogate]] max_depth`.
pub const DEFAULT_MAX_DEPTH: usize = 3;
/// Default `[[surrogate]] holdout`.
pub const DEFAULT_SURROGATE_HOLDOUT: f64 = 0.25;
/// Fewest `[[surrogate]]` inputs.
pub const MIN_SURROGATE_INPUTS: usize = 4;

/// A resolved `[[surrogate]]`: a decision tree over word-set features trained to mimic the
/// model's predicted class on an input set.
#[derive(Debug, Clone, PartialEq)]
pub struct SurrogateSpec {
    pub inputs: Vec<String>,
    /// The features, in name order.
    pub words: Vec<WordSet>,
    /// Splits on a path from the root to a leaf, >= 1.
    pub max_depth: usize,
    /// Fraction of the inputs held out to measure fidelity.
    pub holdout: f64,
}

const WORDS_HELP: &str = "name sets of words, each a list or a file of words (one per line): \
                          `words = { negation = [\"not\", \"never\"], colour = \"colours.txt\" }`";

pub(super) fn resolve(
    parsed: &Parsed<RawSurrogate>,
    r: &mut Resolver<'_>,
) -> Option<SurrogateSpec> {
    let (t, raw) = (TableCtx::new("[[surrogate]]", parsed), parsed.raw.get_ref());
    let classifier = match r.model() {
        Some((_, facts)) if facts.kind == ModelKind::Encoder && !facts.class_names.is_empty() => {
            Some(())
        }
        Some((model, _)) => {
            let message = format!(
                "[[surrogate]] mimics a classifier's predicted class, and model `{model}` has none"
            );
            let help = "use an encoder with a classifier, or add a [head] whose `classes` name \
                        [concepts] sets of labelled examples";
            r.report(t.span.clone(), message, Some(help.into()));
            None
        }
        None => None,
    };
    let inputs = r.required_inputs(&raw.inputs, &t);
    let inputs = inputs.and_then(|inputs| {
        if inputs.len() >= MIN_SURROGATE_INPUTS {
            return Some(inputs);
        }
        let span = raw.inputs.as_ref().map_or(t.span.clone(), Spanned::span);
        let message = format!(
            "`inputs` of [[surrogate]] has {} texts; a student needs at least \
             {MIN_SURROGATE_INPUTS} (some to train on, some held out)",
            inputs.len()
        );
        let help = "a template with `vars` makes many inputs from a few words";
        r.report(span, message, Some(help.into()));
        None
    });
    let words = r.required(&raw.words, "words", &t, Some(WORDS_HELP.into()));
    let words = words.and_then(|sets| word_sets(sets, r));
    let max_depth = r.count(&raw.max_depth, DEFAULT_MAX_DEPTH, 1..=32, "max_depth", &t);
    let holdout = r.fraction(&raw.holdout, DEFAULT_SURROGATE_HOLDOUT, "holdout", &t);
    classifier?;
    Some(SurrogateSpec {
        inputs: inputs?,
        words: words?,
        max_depth: max_depth?,
        holdout: holdout?,
    })
}

/// The word sets of `words`, each non-empty and made of words.
fn word_sets(
    sets: &Spanned<BTreeMap<String, Spanned<RawWords>>>,
    r: &mut Resolver<'_>,
) -> Option<Vec<WordSet>> {
    if sets.get_ref().is_empty() {
        let message = "`words` of [[surrogate]] names no word set".to_string();
        r.report(sets.span(), message, Some(WORDS_HELP.into()));
        return None;
    }
    let mut out = Some(Vec::new());
    for (name, value) in sets.get_ref() {
        let what = format!("`words.{name}` of [[surrogate]]");
        let source = match value.get_ref() {
            RawWords::File(path) => RawSource {
                file: Some(Spanned::new(value.span(), path.clone())),
                examples: None,
                template: None,
                vars: None,
            },
            RawWords::List(list) => RawSource {
                file: None,
                examples: Some(Spanned::new(value.span(), list.clone())),
                template: None,
                vars: None,
            },
        };
        let loaded = r.load(&source, value.span(), &what);
        let set = loaded.and_then(|loaded| {
            if let Some(bad) = loaded.examples.iter().find(|w| words(w).is_empty()) {
                let message = format!("{what} has {bad:?}, which has no letters or digits");
                let help = "list words (or phrases) to look for in the inputs";
                r.report(value.span(), message, Some(help.into()));
                return None;
            }
            Some(WordSet {
                name: name.clone(),
                words: loaded.examples,
            })
        });
        match (set, out.as_mut()) {
            (Some(set), Some(out)) => out.push(set),
            _ => out = None,
        }
    }
    out
}
