//! The experiment's model as validation sees it (its facts: layers, kind, classes, vocabulary),
//! resolving `model`, and the checks of keys that name its layers and sites.

use super::choice::Choice;
use super::diagnostics::{code_list, suggest};
use super::raw::{RawLayers, RawModel};
use super::resolver::{Resolver, TableCtx};
use cavern_model::{Family, ModelKind, ModelRef, SitePoint};
use std::collections::HashSet;
use toml::Spanned;

/// What validation needs to know about a model (filled in by the runner from the model crate).
#[derive(Debug, Clone)]
pub struct ModelFacts {
    /// Number of transformer blocks; valid layer indices are `0..n_layers`.
    pub n_layers: usize,
    /// Width of the residual stream (`d_model`), for estimates of the memory activations take.
    pub width: usize,
    /// Encoder or decoder.
    pub kind: ModelKind,
    /// Classifier class names (encoders); empty when there is no classifier.
    pub class_names: Vec<String>,
    /// Known tokens; `None` accepts any token.
    pub vocabulary: Option<HashSet<String>>,
}

/// Why a model's facts are not available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelProblem {
    /// No model has this name.
    Unknown,
    /// The model exists but cannot be used as named; the message says how to fix it (e.g.
    /// the command that fetches it).
    Unavailable(String),
}

/// Describes a model, or says why it cannot.
pub type ModelLookup<'a> = &'a dyn Fn(&ModelRef) -> Result<ModelFacts, ModelProblem>;

impl Resolver<'_> {
    /// Resolves `model` and looks up its facts (reported when unknown or unusable).
    pub(super) fn resolve_model(
        &mut self,
        raw: &Spanned<RawModel>,
        models: ModelLookup<'_>,
        known_models: &[&str],
    ) -> Option<ModelRef> {
        let reference = match raw.get_ref() {
            RawModel::Name(name) => ModelRef::Named(name.clone()),
            RawModel::Local(local) => {
                let t = TableCtx::inline("`model` of [experiment]", raw.span());
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

    /// `layers`: distinct indices of the model's blocks, or `"all"`.
    pub fn layers(&mut self, layers: &Spanned<RawLayers>, ctx: &str) -> Option<Vec<usize>> {
        // Without a known model there is nothing to check against (already reported).
        let n_layers = self.model()?.1.n_layers;
        let list = match layers.get_ref() {
            RawLayers::All => return Some((0..n_layers).collect()),
            RawLayers::List(list) => list,
        };
        if list.is_empty() {
            let help = "list layer indices such as [0, 1], or write \"all\"";
            let message = format!("`layers` in {ctx} is empty");
            self.report(layers.span(), message, Some(help.into()));
            return None;
        }
        let mut resolved = Vec::new();
        let mut valid = true;
        for layer in list {
            match self.layer_index(layer, ctx) {
                Some(i) if resolved.contains(&i) => {
                    let message = format!("layer {i} is listed twice in {ctx}");
                    self.report(layer.span(), message, None);
                    valid = false;
                }
                Some(i) => resolved.push(i),
                None => valid = false,
            }
        }
        valid.then_some(resolved)
    }

    /// `layers`, or every layer of the model when absent.
    pub fn layers_or_all(
        &mut self,
        value: &Option<Spanned<RawLayers>>,
        t: &TableCtx<'_>,
    ) -> Option<Vec<usize>> {
        match t.optional(value, "layers")? {
            Some(layers) => self.layers(layers, t.name),
            // Without a known model there is nothing to default to (already reported).
            None => self.model().map(|(_, facts)| (0..facts.n_layers).collect()),
        }
    }

    /// One layer index, reported when the model has no such layer.
    pub fn layer_index(&mut self, layer: &Spanned<i64>, ctx: &str) -> Option<usize> {
        // Without a known model there is nothing to check against (already reported).
        let (model, facts) = self.model()?;
        let (model, n_layers) = (model.to_owned(), facts.n_layers);
        let index = *layer.get_ref();
        let found = usize::try_from(index).ok().filter(|i| *i < n_layers);
        if found.is_none() {
            let help = match n_layers {
                0 => format!("model `{model}` has no layers"),
                n => format!(
                    "model `{model}` has {n} layers: valid indices are 0 to {}",
                    n - 1
                ),
            };
            let message = format!("layer {index} is out of range in {ctx}");
            self.report(layer.span(), message, Some(help));
        }
        found
    }

    /// `layer`: in range for a per-layer site, and absent for `embed`/`ln_final`. `Some(None)`
    /// for a site without layers. When absent for a per-layer site it is the model's last layer
    /// if `last_by_default`, and an error otherwise.
    pub fn site_layer(
        &mut self,
        site: SitePoint,
        layer: &Option<Spanned<i64>>,
        site_value: &Option<Spanned<String>>,
        last_by_default: bool,
        t: &TableCtx<'_>,
    ) -> Option<Option<usize>> {
        if t.was_reported("layer") {
            return None;
        }
        let Some(layer) = layer else {
            if !site.is_per_layer() {
                return Some(None);
            }
            if last_by_default {
                // Without a known model there is no last layer (already reported).
                let n_layers = self.model()?.1.n_layers;
                if n_layers == 0 {
                    let message = format!("the model has no layers for {}", t.name);
                    let help = "use `site = \"embed\"`";
                    self.report(t.span.clone(), message, Some(help.into()));
                    return None;
                }
                return Some(Some(n_layers - 1));
            }
            let span = site_value.as_ref().map_or(t.span.clone(), Spanned::span);
            let message = format!("site `{}` in {} needs a `layer`", site.as_str(), t.name);
            let help = "add `layer = N` (a block index from 0), or use `site = \"embed\"`";
            self.report(span, message, Some(help.into()));
            return None;
        };
        if !site.is_per_layer() {
            let message = format!(
                "`layer` does not apply to site `{}` in {}",
                site.as_str(),
                t.name
            );
            let help = "`embed` and `ln_final` have no layer; remove `layer`";
            self.report(layer.span(), message, Some(help.into()));
            return None;
        }
        self.layer_index(layer, t.name).map(Some)
    }

    /// `site`: a `[batch, pos, d_model]` site, `resid_post` when absent.
    pub fn residual_site(
        &mut self,
        value: &Option<Spanned<String>>,
        t: &TableCtx<'_>,
    ) -> Option<SitePoint> {
        let site: SitePoint = self.choice(value, "site", t)?;
        if site.is_residual_width() {
            return Some(site);
        }
        let names: Vec<&str> = SitePoint::ALL
            .iter()
            .filter(|p| p.is_residual_width())
            .map(|p| p.name())
            .collect();
        let span = value.as_ref().map_or(t.span.clone(), Spanned::span);
        let message = format!(
            "site `{}` in {} is not as wide as the residual stream",
            site.as_str(),
            t.name
        );
        self.report(
            span,
            message,
            Some(format!("use one of {}", code_list(&names))),
        );
        None
    }

    /// A site inside a block (one at `embed` or `ln_final` has no layer to name).
    pub fn per_layer(
        &mut self,
        site: SitePoint,
        value: &Option<Spanned<String>>,
        t: &TableCtx<'_>,
    ) -> Option<SitePoint> {
        if site.is_per_layer() {
            return Some(site);
        }
        let span = value.as_ref().map_or(t.span.clone(), Spanned::span);
        let message = format!("site `{}` in {} has no layer", site.as_str(), t.name);
        let help = "use a per-layer site such as `resid_post`, `resid_pre` or `resid_mid`";
        self.report(span, message, Some(help.into()));
        None
    }
}
