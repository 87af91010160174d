//! Resolving the intervention studies on concept directions: `[[steering]]` (its vector source,
//! layers, site, positions, α sweep and measures), `[[erasure]]` and `[[counterfactual]]`.

use super::parse::Parsed;
use super::{ModelKind, Resolver, TableCtx};
use crate::error::{code_list, suggest};
use crate::schema::{
    Choice, CounterfactualStudy, DEFAULT_ERASURE_HOLDOUT, DEFAULT_TOP_K, ErasureMethod,
    ErasureStudy, RawContrast, RawCounterfactual, RawErasure, RawSource, RawSteering, RawTarget,
    RawTexts, SitePoint, SteeringSource, SteeringStudy, Target,
};
use std::collections::BTreeMap;
use std::ops::Range;
use toml::Spanned;

/// The concepts that loaded, by name.
pub(super) type Concepts = BTreeMap<String, Vec<String>>;

/// Whether the file declares a `[random]` table, valid or not (a CAV or eraser trains against it).
#[derive(Debug, Clone, Copy)]
pub(super) struct RandomDeclared(pub bool);

impl Resolver<'_> {
    pub(super) fn steering(
        &mut self,
        parsed: &Parsed<RawSteering>,
        defined: &[&str],
        concepts: &Concepts,
        random: RandomDeclared,
    ) -> Option<SteeringStudy> {
        let (t, raw) = (TableCtx::new("[[steering]]", parsed), parsed.raw.get_ref());
        let help = "give a file of texts, one per line, or a table with `file`, `examples` or \
                    `template`";
        let inputs = self.required(&raw.inputs, "inputs", &t, Some(help.into()));
        let inputs = inputs.and_then(|inputs| self.inputs(inputs, &t));
        let source = self.steering_source(raw, &t, defined, concepts, random);
        let layers = self.required(&raw.layers, "layers", &t, None);
        let layers = layers.and_then(|layers| self.layers(layers, t.name));
        let site = self.residual_site(&raw.site, &t);
        let positions = self.choice(&raw.positions, "positions", &t);
        let pooling = self.choice(&raw.pooling, "pooling", &t);
        let alphas = self.required(&raw.alphas, "alphas", &t, None);
        let alphas = alphas.and_then(|alphas| self.alphas(alphas));
        let target = self.optional_target(&raw.target, &t);
        let top_k = self.count(&raw.top_k, DEFAULT_TOP_K, 1, "top_k", &t);
        let continue_tokens = self.continuation(&raw.continue_tokens, &t);
        let flip_bound = match (&raw.flip_bound, &alphas) {
            (Some(bound), _) => self.positive(bound, "flip_bound", &t),
            (None, Some(alphas)) => alphas.iter().map(|a| a.abs()).reduce(f64::max),
            (None, None) => None,
        };
        Some(SteeringStudy {
            inputs: inputs?,
            source: source?,
            layers: layers?,
            site: site?,
            positions: positions?,
            pooling: pooling?,
            alphas: alphas?,
            target: target?,
            top_k: top_k?,
            continue_tokens: continue_tokens?,
            flip_bound: flip_bound?,
        })
    }

    pub(super) fn erasure(
        &mut self,
        parsed: &Parsed<RawErasure>,
        defined: &[&str],
        random: RandomDeclared,
    ) -> Option<ErasureStudy> {
        let (t, raw) = (TableCtx::new("[[erasure]]", parsed), parsed.raw.get_ref());
        let concept = self.required(&raw.concept, "concept", &t, None);
        let concept = concept.and_then(|c| self.concept_trained(c, &t, defined, random));
        let site = self.residual_site(&raw.site, &t);
        let layer = self.required(&raw.layer, "layer", &t, None);
        let layer = layer.and_then(|layer| self.layer_index(layer, t.name));
        let site = site.and_then(|site| self.per_layer(site, &raw.site, &t));
        let pooling = self.choice(&raw.pooling, "pooling", &t);
        let methods = self.erasure_methods(&raw.methods, &t);
        let help = "the texts on which the model's output change is measured: a file of texts, \
                    one per line, or a table with `file`, `examples` or `template`";
        let inputs = self.required(&raw.inputs, "inputs", &t, Some(help.into()));
        let inputs = inputs.and_then(|inputs| self.inputs(inputs, &t));
        let target = self.optional_target(&raw.target, &t);
        let holdout = self.fraction(&raw.holdout, DEFAULT_ERASURE_HOLDOUT, "holdout", &t);
        let covariance = self.choice(&raw.covariance, "covariance", &t);
        Some(ErasureStudy {
            concept: concept?,
            layer: layer?,
            site: site?,
            pooling: pooling?,
            methods: methods?,
            inputs: inputs?,
            target: target?,
            holdout: holdout?,
            covariance: covariance?,
        })
    }

    pub(super) fn counterfactual(
        &mut self,
        parsed: &Parsed<RawCounterfactual>,
    ) -> Option<CounterfactualStudy> {
        let (t, raw) = (
            TableCtx::new("[[counterfactual]]", parsed),
            parsed.raw.get_ref(),
        );
        let help = "write a minijinja template with slots, e.g. \
                    `template = \"the {{ noun }} was {{ adj }}\"`";
        let template = self.required(&raw.template, "template", &t, Some(help.into()));
        let vars = self.required(
            &raw.vars,
            "vars",
            &t,
            Some("give each slot its values: `vars = { adj = [\"good\", \"bad\"] }`".into()),
        );
        let target = self.optional_target(&raw.target, &t);
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
        let set = self.load(&source, t.span.clone(), t.name)?;
        if let Some((name, _)) = slots.iter().find(|(_, values)| values.len() < 2) {
            let message = format!("slot `{name}` in [[counterfactual]] has one value");
            let help = "a minimal pair swaps a slot's value for another: give it two or more";
            self.report(vars.span(), message, Some(help.into()));
            return None;
        }
        Some(CounterfactualStudy {
            template: template.get_ref().clone(),
            texts: set.examples,
            slots,
            target: target?,
        })
    }

    /// Exactly one of `concept`, `contrast` or `vector`.
    fn steering_source(
        &mut self,
        raw: &RawSteering,
        t: &TableCtx<'_>,
        defined: &[&str],
        concepts: &Concepts,
        random: RandomDeclared,
    ) -> Option<SteeringSource> {
        if ["concept", "contrast", "vector"]
            .iter()
            .any(|k| t.was_reported(k))
        {
            return None;
        }
        match (&raw.concept, &raw.contrast, &raw.vector) {
            (Some(concept), None, None) => self
                .concept_trained(concept, t, defined, random)
                .map(SteeringSource::Concept),
            (None, Some(contrast), None) => self.contrast(contrast, defined, concepts),
            (None, None, Some(vector)) => self.vector_file(vector),
            _ => {
                let message = "[[steering]] needs exactly one of `concept`, `contrast` or `vector`";
                let help = "`concept = \"NAME\"` steers along a [concepts] set's CAV, `contrast = \
                            { positive = ..., negative = ... }` along a difference of means, \
                            `vector = \"FILE.safetensors\"` along a saved vector";
                self.report(t.span.clone(), message.into(), Some(help.into()));
                None
            }
        }
    }

    /// A `[concepts]` set whose CAV is trained against the random pool.
    fn concept_trained(
        &mut self,
        concept: &Spanned<String>,
        t: &TableCtx<'_>,
        defined: &[&str],
        random: RandomDeclared,
    ) -> Option<String> {
        let name = self.concept_name(concept, defined, t.name)?;
        if !random.0 {
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

    /// A defined concept's name.
    fn concept_name(
        &mut self,
        concept: &Spanned<String>,
        defined: &[&str],
        ctx: &str,
    ) -> Option<String> {
        let name = concept.get_ref();
        if defined.contains(&name.as_str()) {
            return Some(name.clone());
        }
        let help = suggest(name, defined, "defined concepts")
            .unwrap_or_else(|| "no concepts are defined; add a [concepts.NAME] table".into());
        let message = format!("unknown concept `{name}` in {ctx}");
        self.report(concept.span(), message, Some(help));
        None
    }

    fn contrast(
        &mut self,
        contrast: &Spanned<RawContrast>,
        defined: &[&str],
        concepts: &Concepts,
    ) -> Option<SteeringSource> {
        let raw = contrast.get_ref();
        let mut side = |value: &Option<Spanned<RawTexts>>, key: &str| {
            let Some(value) = value else {
                let message = format!("`contrast` in [[steering]] has no `{key}`");
                let help = "write `contrast = { positive = \"CONCEPT\" or [\"text\", ...], \
                            negative = ... }`";
                self.report(contrast.span(), message, Some(help.into()));
                return None;
            };
            match value.get_ref() {
                RawTexts::Concept(name) => {
                    let spanned = Spanned::new(value.span(), name.clone());
                    let name =
                        self.concept_name(&spanned, defined, "`contrast` of [[steering]]")?;
                    // A defined set that did not load has its problem reported already.
                    let texts = concepts.get(&name)?.clone();
                    Some((name, texts))
                }
                RawTexts::Inline(texts) if texts.is_empty() => {
                    let message = format!("`{key}` in `contrast` of [[steering]] is empty");
                    let help = "list at least one text, or name a [concepts] set";
                    self.report(value.span(), message, Some(help.into()));
                    None
                }
                RawTexts::Inline(texts) => Some((
                    "inline".to_owned(),
                    texts.iter().map(|t| t.get_ref().clone()).collect(),
                )),
            }
        };
        let positive = side(&raw.positive, "positive");
        let negative = side(&raw.negative, "negative");
        let ((pos_name, positive), (neg_name, negative)) = (positive?, negative?);
        Some(SteeringSource::Contrast {
            label: format!("contrast:{pos_name}-{neg_name}"),
            positive,
            negative,
        })
    }

    /// `vector`: a safetensors file that exists (its width is checked when the model runs).
    fn vector_file(&mut self, vector: &Spanned<String>) -> Option<SteeringSource> {
        let path = self.cx.base_dir.join(vector.get_ref());
        if path.is_file() {
            return Some(SteeringSource::File(path));
        }
        let message = format!("vector file `{}` does not exist", path.display());
        let help = "give a safetensors file, relative to the experiment file, e.g. a run's \
                    `cavs/CONCEPT.L2.resid_post.safetensors`";
        self.report(vector.span(), message, Some(help.into()));
        None
    }

    /// `site`: a `[batch, pos, d_model]` site, `resid_post` when absent.
    fn residual_site(
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

    /// A site inside a block (erasure at `embed` or `ln_final` has no layer to name).
    fn per_layer(
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

    /// `alphas`: finite, distinct; returned ascending with 0 (the unsteered baseline) added.
    fn alphas(&mut self, list: &Spanned<Vec<Spanned<f64>>>) -> Option<Vec<f64>> {
        let mut alphas: Vec<f64> = vec![0.0];
        let mut valid = true;
        for alpha in list.get_ref() {
            let value = *alpha.get_ref();
            let problem = if !value.is_finite() {
                Some(format!(
                    "α = {value} in [[steering]] is not a finite number"
                ))
            } else if value != 0.0 && alphas.contains(&value) {
                Some(format!("α = {value} is listed twice in [[steering]]"))
            } else {
                None
            };
            match problem {
                Some(message) => {
                    self.report(alpha.span(), message, None);
                    valid = false;
                }
                None if value != 0.0 => alphas.push(value),
                None => {}
            }
        }
        alphas.sort_by(f64::total_cmp);
        valid.then_some(alphas)
    }

    /// An optional `target` (`Some(None)` when absent).
    fn optional_target(
        &mut self,
        value: &Option<Spanned<RawTarget>>,
        t: &TableCtx<'_>,
    ) -> Option<Option<Target>> {
        match t.optional(value, "target")? {
            None => Some(None),
            Some(target) => self.target_key(target, "target", t).map(Some),
        }
    }

    /// `continue`: greedy continuation tokens, decoders only.
    fn continuation(&mut self, value: &Option<Spanned<usize>>, t: &TableCtx<'_>) -> Option<usize> {
        let tokens = self.count(value, 0, 0, "continue", t)?;
        let kind = self.model.as_ref().map(|(_, facts)| facts.kind);
        match (value, kind) {
            (Some(value), Some(ModelKind::Encoder)) if tokens > 0 => {
                let message = "`continue` in [[steering]] needs a decoder".to_string();
                let help = "greedy continuations exist for language models; remove `continue`";
                self.report(value.span(), message, Some(help.into()));
                None
            }
            _ => Some(tokens),
        }
    }

    /// A finite number > 0.
    fn positive(&mut self, value: &Spanned<f64>, key: &str, t: &TableCtx<'_>) -> Option<f64> {
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

    /// `methods` of `[[erasure]]`: distinct methods; both when absent.
    fn erasure_methods(
        &mut self,
        value: &Option<Spanned<Vec<Spanned<String>>>>,
        t: &TableCtx<'_>,
    ) -> Option<Vec<ErasureMethod>> {
        let Some(list) = t.optional(value, "methods")? else {
            return Some(ErasureMethod::ALL.to_vec());
        };
        let span: Range<usize> = list.span();
        if list.get_ref().is_empty() {
            let names: Vec<&str> = ErasureMethod::ALL.iter().map(|m| m.name()).collect();
            let message = "`methods` in [[erasure]] is empty".to_string();
            self.report(
                span,
                message,
                Some(format!("list one or more of: {}", code_list(&names))),
            );
            return None;
        }
        let mut methods = Vec::new();
        for item in list.get_ref() {
            let method: ErasureMethod = self.choice(&Some(item.clone()), "method", t)?;
            if methods.contains(&method) {
                let message = format!(
                    "method `{}` is listed twice in [[erasure]]",
                    method.as_str()
                );
                self.report(item.span(), message, None);
                return None;
            }
            methods.push(method);
        }
        Some(methods)
    }
}
