//! Keys that name texts: a study's `inputs` (a file, or an inline source table) and references
//! to `[concepts]` sets.

use super::diagnostics::suggest;
use super::raw::{RawInputs, RawSource};
use super::resolver::{Resolver, TableCtx};
use toml::Spanned;

/// The help for a missing or unusable `inputs`.
const INPUTS_HELP: &str =
    "give a file of texts, one per line, or a table with `file`, `examples` or `template`";

impl Resolver<'_> {
    /// The texts of `inputs`: a file path, or a table with `file`, `examples` or `template`.
    pub fn inputs(&mut self, inputs: &Spanned<RawInputs>, t: &TableCtx<'_>) -> Option<Vec<String>> {
        self.texts(inputs, "inputs", t)
    }

    /// The texts of a key written like `inputs` (a file path, or a table with `file`, `examples`
    /// or `template`).
    pub fn texts(
        &mut self,
        value: &Spanned<RawInputs>,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<Vec<String>> {
        if t.was_reported(key) {
            return None;
        }
        let source = match value.get_ref() {
            RawInputs::Source(source) => source.clone(),
            RawInputs::File(path) => RawSource {
                file: Some(Spanned::new(value.span(), path.clone())),
                examples: None,
                template: None,
                vars: None,
            },
        };
        let set = self.load(&source, value.span(), &format!("`{key}` of {}", t.name))?;
        Some(set.examples)
    }

    /// The required `inputs` of a table.
    pub fn required_inputs(
        &mut self,
        inputs: &Option<Spanned<RawInputs>>,
        t: &TableCtx<'_>,
    ) -> Option<Vec<String>> {
        let inputs = self.required(inputs, "inputs", t, Some(INPUTS_HELP.into()));
        inputs.and_then(|inputs| self.inputs(inputs, t))
    }

    /// A non-empty list of distinct `[concepts]` names.
    pub fn concept_refs(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        ctx: &str,
    ) -> Option<Vec<String>> {
        let defined: Vec<String> = self.defined.clone();
        self.concept_refs_among(list, ctx, &defined)
    }

    /// A non-empty list of distinct names out of `candidates`.
    pub(super) fn concept_refs_among(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        ctx: &str,
        candidates: &[String],
    ) -> Option<Vec<String>> {
        if list.get_ref().is_empty() {
            let help = "list at least one concept defined in [concepts]";
            let message = format!("`concepts` in {ctx} is empty");
            self.report(list.span(), message, Some(help.into()));
            return None;
        }
        let mut names: Vec<String> = Vec::new();
        let mut valid = true;
        for item in list.get_ref() {
            match self.concept_name_among(item, ctx, candidates) {
                Some(name) if names.contains(&name) => {
                    let message = format!("concept `{name}` is listed twice in {ctx}");
                    self.report(item.span(), message, None);
                    valid = false;
                }
                Some(name) => names.push(name),
                None => valid = false,
            }
        }
        valid.then_some(names)
    }

    /// A defined concept's name.
    pub fn concept_name(&mut self, concept: &Spanned<String>, ctx: &str) -> Option<String> {
        let defined: Vec<String> = self.defined.clone();
        self.concept_name_among(concept, ctx, &defined)
    }

    /// A name out of `candidates` (concept names).
    fn concept_name_among(
        &mut self,
        concept: &Spanned<String>,
        ctx: &str,
        candidates: &[String],
    ) -> Option<String> {
        let name = concept.get_ref();
        if candidates.contains(name) {
            return Some(name.clone());
        }
        let candidates: Vec<&str> = candidates.iter().map(String::as_str).collect();
        let help = suggest(name, &candidates, "defined concepts")
            .unwrap_or_else(|| "no concepts are defined; add a [concepts.NAME] table".into());
        let message = format!("unknown concept `{name}` in {ctx}");
        self.report(concept.span(), message, Some(help));
        None
    }

    /// A `[concepts]` set whose CAV is trained against the random pool, which the file must
    /// then have.
    pub fn concept_trained(
        &mut self,
        concept: &Spanned<String>,
        t: &TableCtx<'_>,
    ) -> Option<String> {
        let name = self.concept_name(concept, t.name)?;
        if !self.random_declared() {
            let message = format!(
                "`concept` in {} trains a CAV against the [random] pool, but the file has none",
                t.name
            );
            let help = "add a [random] table: a pool of counterexamples (`file`, `examples` or \
                        `template`)";
            self.report(concept.span(), message, Some(help.into()));
            return None;
        }
        Some(name)
    }
}
