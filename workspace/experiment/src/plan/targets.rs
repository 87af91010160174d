//! What a study reads from the model's output: a class logit of an encoder's classifier or a
//! decoder's next-token logit (`{ class = "..." }` / `{ token = "..." }`), checked against the
//! model's facts.

use super::diagnostics::{did_you_mean, suggest};
use super::model::ModelFacts;
use super::raw::RawTarget;
use super::resolver::{Resolver, TableCtx};
use cavern_model::ModelKind;
use toml::Spanned;

/// A logit a study reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A class logit of an encoder's classifier.
    Class(String),
    /// A decoder's next-token logit.
    Token(String),
}

impl Target {
    /// The name of the target in tables: `class:positive` or `token:Paris`.
    pub fn label(&self) -> String {
        match self {
            Target::Class(c) => format!("class:{c}"),
            Target::Token(t) => format!("token:{t}"),
        }
    }
}

impl Resolver<'_> {
    /// A `class`/`token` target under `key` (`target`, or `contrast` in [[attribution]]).
    pub fn target_key(
        &mut self,
        target: &Spanned<RawTarget>,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<Target> {
        if t.was_reported(key) {
            return None;
        }
        let raw = target.get_ref();
        let (key, value) = match (&raw.class, &raw.token) {
            (Some(class), None) => ("class", class),
            (None, Some(token)) => ("token", token),
            _ => {
                let message = format!(
                    "`{key}` in {} must have exactly one of `class` or `token`",
                    t.name
                );
                let help = "write `{ class = \"...\" }` for an encoder's classifier, or \
                            `{ token = \"...\" }` for a decoder's next-token logit";
                self.report(target.span(), message, Some(help.into()));
                return None;
            }
        };
        // Without a known model there is nothing to check against (already reported).
        let (model, facts) = self.model()?;
        match check_target(key, value.get_ref(), model, facts) {
            Ok(target) => Some(target),
            Err((message, help)) => {
                self.report(value.span(), message, help);
                None
            }
        }
    }

    /// An optional `target` (`Some(None)` when absent).
    pub fn optional_target(
        &mut self,
        value: &Option<Spanned<RawTarget>>,
        t: &TableCtx<'_>,
    ) -> Option<Option<Target>> {
        match t.optional(value, "target")? {
            None => Some(None),
            Some(target) => self.target_key(target, "target", t).map(Some),
        }
    }
}

/// Checks a `class`/`token` target against the model; errors are (message, help).
pub fn check_target(
    key: &str,
    value: &str,
    model: &str,
    facts: &ModelFacts,
) -> Result<Target, (String, Option<String>)> {
    match (key, facts.kind) {
        ("class", ModelKind::Decoder) => Err((
            format!(
                "model `{model}` is a decoder; `class` targets need an encoder with a classifier"
            ),
            Some("use `token = \"...\"` to target a next-token logit".into()),
        )),
        ("class", ModelKind::Encoder) => {
            if facts.class_names.iter().any(|c| c == value) {
                return Ok(Target::Class(value.to_owned()));
            }
            let classes: Vec<&str> = facts.class_names.iter().map(String::as_str).collect();
            let help = suggest(value, &classes, "classes").unwrap_or_else(|| {
                format!(
                    "model `{model}` has no classifier; add a [head] whose `classes` name \
                         [concepts] sets of labelled examples, and the experiment trains one"
                )
            });
            Err((
                format!("unknown class `{value}` for model `{model}`"),
                Some(help),
            ))
        }
        (_, ModelKind::Encoder) => Err((
            format!("model `{model}` is an encoder; `token` targets need a decoder"),
            Some("use `class = \"...\"` to target a classifier logit".into()),
        )),
        (_, ModelKind::Decoder) => match &facts.vocabulary {
            Some(vocabulary) if !vocabulary.contains(value) => {
                let close = did_you_mean(value, vocabulary.iter().map(String::as_str));
                let help = close.map(|close| format!("did you mean {close:?}?"));
                let message =
                    format!("token {value:?} is not in the vocabulary of model `{model}`");
                Err((message, help))
            }
            _ => Ok(Target::Token(value.to_owned())),
        },
    }
}
