//! The experiment's model (a name or a local folder/file) and the classifier head it may get.

use super::parse::Slot;
use super::{ModelKind, ModelLookup, ModelProblem, Resolver, TableCtx};
use crate::error::{code_list, suggest};
use crate::schema::{DEFAULT_MAX_ITERATIONS, Family, HeadSpec, ModelRef, RawHead, RawModel};
use std::collections::BTreeMap;
use toml::Spanned;

/// L2 penalty of a `[head]` unless told otherwise: linfa's `½·l2·‖W‖²` on the summed loss over
/// standardised features.
pub const DEFAULT_HEAD_L2: f64 = 1.0;

/// Fraction of each class a `[head]` holds out unless told otherwise.
pub const DEFAULT_HEAD_HOLDOUT: f64 = 0.2;

impl Resolver<'_> {
    /// Resolves `model` and looks up its facts (reported when unknown or unusable).
    pub(super) fn model(
        &mut self,
        raw: &Spanned<RawModel>,
        models: ModelLookup<'_>,
        known_models: &[&str],
    ) -> Option<ModelRef> {
        let reference = match raw.get_ref() {
            RawModel::Name(name) => ModelRef::Named(name.clone()),
            RawModel::Local(local) => {
                let t = TableCtx {
                    name: "`model` of [experiment]",
                    span: raw.span(),
                    reported: &[],
                };
                let help = "write `model = { path = \"folder\" }` (a Hugging Face folder) or \
                            `{ path = \"model.gguf\" }`; `family = \"...\"` is optional";
                let path = self.required(&local.path, "path", &t, Some(help.into()));
                let family = match &local.family {
                    Some(_) => Some(self.choice::<Family>(&local.family, "family", &t)?),
                    None => None,
                };
                ModelRef::Local {
                    family,
                    path: self.cx.base_dir.join(path?.get_ref()),
                }
            }
        };
        match models(&reference) {
            Ok(facts) => {
                self.model = Some((reference.label(), facts));
                Some(reference)
            }
            Err(ModelProblem::Unknown) => {
                let name = reference.label();
                let help = suggest(&name, known_models, "known models")
                    .or_else(|| {
                        (!known_models.is_empty())
                            .then(|| format!("known models: {}", code_list(known_models)))
                    })
                    .unwrap_or_else(|| "no models are available".into());
                self.report(raw.span(), format!("unknown model `{name}`"), Some(help));
                None
            }
            Err(ModelProblem::Unavailable(message)) => {
                self.report(raw.span(), message, None);
                None
            }
        }
    }

    /// Resolves `[head]`; its classes become the model's class names for `class` targets.
    pub(super) fn head(
        &mut self,
        slot: &Slot<RawHead>,
        concepts: &BTreeMap<String, Vec<String>>,
    ) -> Option<HeadSpec> {
        let Slot::Present(parsed) = slot else {
            return None;
        };
        let (t, raw) = (TableCtx::new("[head]", parsed), parsed.raw.get_ref());
        if let Some((model, facts)) = &self.model
            && facts.kind == ModelKind::Decoder
        {
            let message = format!("[head] needs an encoder, but model `{model}` is a decoder");
            let help = "a decoder's next-token logits are its output: target them with \
                        `target = { token = \"...\" }` and remove [head]";
            self.report(parsed.raw.span(), message, Some(help.into()));
            return None;
        }
        let help = "list two or more [concepts] sets, one per class: \
                    `classes = [\"negative\", \"positive\"]`";
        let classes = self.required(&raw.classes, "classes", &t, Some(help.into()));
        let classes = classes.and_then(|list| self.head_classes(list, concepts));
        let l2 = self.penalty(&raw.l2, DEFAULT_HEAD_L2, &t);
        let max_iterations = self.count(
            &raw.max_iterations,
            DEFAULT_MAX_ITERATIONS,
            1,
            "max_iterations",
            &t,
        );
        let holdout = self.fraction(&raw.holdout, DEFAULT_HEAD_HOLDOUT, "holdout", &t);
        let head = HeadSpec {
            classes: classes?,
            l2: l2?,
            max_iterations: max_iterations?,
            holdout: holdout?,
        };
        if let Some((_, facts)) = &mut self.model {
            facts.class_names = head.classes.clone();
        }
        Some(head)
    }

    fn head_classes(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        concepts: &BTreeMap<String, Vec<String>>,
    ) -> Option<Vec<String>> {
        let defined: Vec<&str> = concepts.keys().map(String::as_str).collect();
        let names = self.concept_refs(list, &defined, "[head]")?;
        if names.len() < 2 {
            let message = "`classes` in [head] needs at least two classes".to_string();
            let help = "add a [concepts.NAME] set for each other class and list it";
            self.report(list.span(), message, Some(help.into()));
            return None;
        }
        Some(names)
    }
}
