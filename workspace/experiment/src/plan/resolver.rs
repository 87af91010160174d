//! Resolution state and the checks every table's keys share: required keys, closed choices,
//! counts, fractions, flags. Every `None` a check returns comes with a reported diagnostic (or
//! follows one reported earlier), so that a file's problems are all reported together.

use super::choice::Choice;
use super::diagnostics::{Diagnostic, code_list, did_you_mean};
use super::model::ModelFacts;
use super::parse::Parsed;
use super::raw::{RawSource, RawTable};
use super::sources::{LoadedSet, SourceContext, load_set};
use super::{HeadSpec, RandomPool};
use std::collections::BTreeMap;
use std::ops::{Range, RangeInclusive};
use toml::Spanned;

/// A parsed table as the checks see it: its name in messages, its span, and the keys whose
/// problems were already reported (see [`Parsed::reported`]), which must not be reported again.
pub struct TableCtx<'a> {
    /// How messages name the table, e.g. `[[probe]]`.
    pub name: &'a str,
    /// The table's span in the experiment file.
    pub span: Range<usize>,
    reported: &'a [String],
}

impl<'a> TableCtx<'a> {
    /// The context of a parsed table named `name`.
    pub fn new<T>(name: &'a str, parsed: &'a Parsed<T>) -> Self {
        Self {
            name,
            span: parsed.raw.span(),
            reported: &parsed.reported,
        }
    }

    /// The context of an inline table that has had no problems reported yet.
    pub fn inline(name: &'a str, span: Range<usize>) -> Self {
        Self {
            name,
            span,
            reported: &[],
        }
    }

    /// Whether a problem with `key` was already reported.
    pub fn was_reported(&self, key: &str) -> bool {
        self.reported.iter().any(|k| k == key)
    }

    /// `Some(value)`, `Some(None)` when absent (use the default), `None` when already reported.
    pub fn optional<'v, T>(
        &self,
        value: &'v Option<Spanned<T>>,
        key: &str,
    ) -> Option<Option<&'v Spanned<T>>> {
        match value {
            Some(value) => Some(Some(value)),
            None => (!self.was_reported(key)).then_some(None),
        }
    }

    /// Whether a source key's problem was already reported, making the source unusable.
    pub fn source_reported(&self) -> bool {
        RawSource::KEYS.iter().any(|key| self.was_reported(key))
    }
}

/// What resolution knows and has found so far. The file's own tables are resolved first, so the
/// study kinds see the model's facts, the concepts and the random pool.
pub struct Resolver<'a> {
    pub(super) cx: SourceContext<'a>,
    pub(super) diagnostics: Vec<Diagnostic>,
    /// The experiment's model, once known to exist: its label and facts.
    pub(super) model: Option<(String, ModelFacts)>,
    /// The `[concepts]` names as written, whether or not their sets loaded.
    pub(super) defined: Vec<String>,
    /// The concept sets that loaded.
    pub(super) concepts: BTreeMap<String, Vec<String>>,
    /// The `[random]` pool, when valid.
    pub(super) random: Option<RandomPool>,
    /// Whether the file has a `[random]` table, valid or not.
    pub(super) random_declared: bool,
    /// The `[head]`, when valid.
    pub(super) head: Option<HeadSpec>,
    /// Whether the file has a `[head]` table, valid or not.
    pub(super) head_declared: bool,
}

impl<'a> Resolver<'a> {
    pub(super) fn new(cx: SourceContext<'a>, diagnostics: Vec<Diagnostic>) -> Self {
        Resolver {
            cx,
            diagnostics,
            model: None,
            defined: Vec::new(),
            concepts: BTreeMap::new(),
            random: None,
            random_declared: false,
            head: None,
            head_declared: false,
        }
    }

    /// The model's label and facts; `None` when the model is unknown (already reported).
    pub fn model(&self) -> Option<(&str, &ModelFacts)> {
        self.model
            .as_ref()
            .map(|(label, facts)| (label.as_str(), facts))
    }

    /// The `[concepts]` names as written.
    pub fn defined_concepts(&self) -> Vec<&str> {
        self.defined.iter().map(String::as_str).collect()
    }

    /// The concept sets that loaded, by name.
    pub fn concepts(&self) -> &BTreeMap<String, Vec<String>> {
        &self.concepts
    }

    /// The `[random]` pool, when it is valid.
    pub fn random(&self) -> Option<&RandomPool> {
        self.random.as_ref()
    }

    /// Whether the file has a `[random]` table, valid or not.
    pub fn random_declared(&self) -> bool {
        self.random_declared
    }

    /// The `[head]`, when it is valid.
    pub fn head(&self) -> Option<&HeadSpec> {
        self.head.as_ref()
    }

    /// Whether the file has a `[head]` table, valid or not.
    pub fn head_declared(&self) -> bool {
        self.head_declared
    }

    /// Where relative paths start.
    pub fn base_dir(&self) -> &std::path::Path {
        self.cx.base_dir
    }

    /// Reports a problem at `span` of the experiment file.
    pub fn report(&mut self, span: Range<usize>, message: String, help: Option<String>) {
        let diagnostic = self.cx.experiment.diagnostic(span, message);
        self.diagnostics.push(diagnostic.with_optional_help(help));
    }

    /// Records problems found elsewhere (in a referenced file, or rendering a template).
    pub fn extend(&mut self, diagnostics: Vec<Diagnostic>) {
        self.diagnostics.extend(diagnostics);
    }

    /// The experiment file, for spans of rendered templates.
    pub fn source(&self) -> &super::diagnostics::SourceText {
        self.cx.experiment
    }

    /// Loads the example set a table defines, unless a source key's problem was already reported.
    pub fn load_table(&mut self, source: &RawSource, t: &TableCtx<'_>) -> Option<LoadedSet> {
        if t.source_reported() {
            return None;
        }
        self.load(source, t.span.clone(), t.name)
    }

    /// Loads an example set, recording its diagnostics.
    pub fn load(
        &mut self,
        source: &RawSource,
        span: Range<usize>,
        what: &str,
    ) -> Option<LoadedSet> {
        load_set(source, span, what, self.cx)
            .map_err(|diagnostics| self.diagnostics.extend(diagnostics))
            .ok()
    }

    /// A required key's value, reporting it (at the table) when missing.
    pub fn required<'v, T>(
        &mut self,
        value: &'v Option<Spanned<T>>,
        key: &str,
        t: &TableCtx<'_>,
        help: Option<String>,
    ) -> Option<&'v Spanned<T>> {
        if value.is_none() && !t.was_reported(key) {
            let message = format!("missing required key `{key}` in {}", t.name);
            self.report(t.span.clone(), message, help);
        }
        value.as_ref()
    }

    /// One of a closed set of names, or its default when absent.
    pub fn choice<T: Choice>(
        &mut self,
        value: &Option<Spanned<String>>,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<T> {
        let Some(value) = t.optional(value, key)? else {
            return Some(T::DEFAULT);
        };
        let text = value.get_ref();
        if let Some(choice) = T::ALL.iter().copied().find(|c| c.name() == text) {
            return Some(choice);
        }
        let names: Vec<&str> = T::ALL.iter().map(|c| c.name()).collect();
        let expected = format!("expected one of: {}", code_list(&names));
        let help = match did_you_mean(text, names.iter().copied()) {
            Some(close) => format!("did you mean `{close}`? {expected}"),
            None => expected,
        };
        self.report(value.span(), format!("unknown {key} `{text}`"), Some(help));
        None
    }

    /// A non-empty list of distinct names of one closed set under `key` (each an `item`).
    pub fn choice_list<T: Choice>(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        key: &str,
        item: &str,
        t: &TableCtx<'_>,
    ) -> Option<Vec<T>> {
        if list.get_ref().is_empty() {
            let names: Vec<&str> = T::ALL.iter().map(|c| c.name()).collect();
            let message = format!("`{key}` in {} is empty", t.name);
            let help = format!("list one or more of: {}", code_list(&names));
            self.report(list.span(), message, Some(help));
            return None;
        }
        let mut chosen = Vec::new();
        let mut valid = true;
        for entry in list.get_ref() {
            match self.choice::<T>(&Some(entry.clone()), item, t) {
                Some(choice) if chosen.contains(&choice) => {
                    let message =
                        format!("{item} `{}` is listed twice in {}", choice.name(), t.name);
                    self.report(entry.span(), message, Some("list it once".into()));
                    valid = false;
                }
                Some(choice) => chosen.push(choice),
                None => valid = false,
            }
        }
        valid.then_some(chosen)
    }

    /// [`Self::choice_list`] for an optional key: `Some(None)` when absent.
    pub fn optional_choice_list<T: Choice>(
        &mut self,
        value: &Option<Spanned<Vec<Spanned<String>>>>,
        key: &str,
        item: &str,
        t: &TableCtx<'_>,
    ) -> Option<Option<Vec<T>>> {
        let Some(list) = t.optional(value, key)? else {
            return Some(None);
        };
        self.choice_list(list, key, item, t).map(Some)
    }

    /// A count within `bounds` (every count has an upper bound, which `cavern schema`
    /// documents, so that no number in a file sizes an allocation unchecked), or `default`
    /// when absent.
    pub fn count(
        &mut self,
        value: &Option<Spanned<usize>>,
        default: usize,
        bounds: RangeInclusive<usize>,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<usize> {
        let Some(value) = t.optional(value, key)? else {
            return Some(default);
        };
        let number = *value.get_ref();
        let (min, max) = (*bounds.start(), *bounds.end());
        if number < min {
            let message = format!(
                "`{key}` in {} must be at least {min}, found {number}",
                t.name
            );
            self.report(value.span(), message, None);
            return None;
        }
        if number > max {
            let message = format!(
                "`{key}` in {} must be at most {max}, found {number}",
                t.name
            );
            let help = format!(
                "use a number from {min} to {max} (`cavern schema` lists every count's bounds)"
            );
            self.report(value.span(), message, Some(help));
            return None;
        }
        Some(number)
    }

    /// A number strictly between 0 and 1, or `default` when absent.
    pub fn fraction(
        &mut self,
        value: &Option<Spanned<f64>>,
        default: f64,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<f64> {
        let Some(value) = t.optional(value, key)? else {
            return Some(default);
        };
        let number = *value.get_ref();
        if number > 0.0 && number < 1.0 {
            return Some(number);
        }
        let message = format!(
            "`{key}` in {} must be between 0 and 1 (exclusive), found {number}",
            t.name
        );
        self.report(value.span(), message, None);
        None
    }

    /// A boolean key, or `default` when absent.
    pub fn flag(
        &mut self,
        value: &Option<Spanned<bool>>,
        default: bool,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<bool> {
        t.optional(value, key)
            .map(|value| value.map_or(default, |v| *v.get_ref()))
    }

    /// A finite number > 0.
    pub fn positive(&mut self, value: &Spanned<f64>, key: &str, t: &TableCtx<'_>) -> Option<f64> {
        let number = *value.get_ref();
        if number.is_finite() && number > 0.0 {
            return Some(number);
        }
        let message = format!(
            "`{key}` in {} must be a finite number > 0, found {number}",
            t.name
        );
        self.report(value.span(), message, None);
        None
    }

    /// An `l2` penalty (finite, >= 0), or `default` when absent.
    pub fn penalty(
        &mut self,
        value: &Option<Spanned<f64>>,
        default: f64,
        t: &TableCtx<'_>,
    ) -> Option<f64> {
        let Some(value) = t.optional(value, "l2")? else {
            return Some(default);
        };
        let l2 = *value.get_ref();
        if l2.is_finite() && l2 >= 0.0 {
            return Some(l2);
        }
        let message = format!(
            "`l2` in {} must be a finite number >= 0, found {l2}",
            t.name
        );
        self.report(value.span(), message, None);
        None
    }
}
