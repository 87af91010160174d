//! Resolving `[[probe]]` and `[[tcav]]` studies against the concepts, the random pool and the
//! model's facts.

use super::parse::Parsed;
use super::{ModelFacts, ModelKind, Resolver, TableCtx};
use crate::error::{did_you_mean, suggest};
use crate::schema::{
    CavOptions, DEFAULT_ALPHA, DEFAULT_HOLDOUT, DEFAULT_L2, DEFAULT_MAX_ITERATIONS, MIN_FOLDS,
    Pooling, ProbeStudy, RandomPool, RawInputs, RawLayers, RawProbe, RawSource, RawStudy,
    RawTarget, RawTcav, SitePoint, Target, TcavStudy, Validation,
};
use toml::Spanned;

/// The resolved keys `[[probe]]` and `[[tcav]]` share.
struct Shared {
    concepts: Vec<String>,
    layers: Vec<usize>,
    site: SitePoint,
    pooling: Pooling,
    cav: CavOptions,
}

impl Resolver<'_> {
    pub(super) fn probe(
        &mut self,
        parsed: &Parsed<RawProbe>,
        defined: &[&str],
    ) -> Option<ProbeStudy> {
        let (t, raw) = (TableCtx::new("[[probe]]", parsed), parsed.raw.get_ref());
        let shared = self.shared(raw.study(), &t, defined)?;
        let flag = |value: &Option<Spanned<bool>>| value.as_ref().is_some_and(|v| *v.get_ref());
        if let Some(relative) = raw.relative.as_ref().filter(|_| shared.concepts.len() < 2)
            && *relative.get_ref()
        {
            let message = "`relative` in [[probe]] needs at least two concepts".to_string();
            let help = "relative CAVs separate each listed concept from each other one";
            self.report(relative.span(), message, Some(help.into()));
            return None;
        }
        let sites = match &raw.sites {
            None => vec![shared.site],
            Some(list) => self.site_list(list, raw.site.is_some(), &t)?,
        };
        Some(ProbeStudy {
            concepts: shared.concepts,
            layers: shared.layers,
            sites,
            pooling: shared.pooling,
            cav: shared.cav,
            relative: flag(&raw.relative),
            decompose: flag(&raw.decompose),
        })
    }

    pub(super) fn tcav(
        &mut self,
        parsed: &Parsed<RawTcav>,
        defined: &[&str],
        random: Option<&RandomPool>,
    ) -> Option<TcavStudy> {
        let (t, raw) = (TableCtx::new("[[tcav]]", parsed), parsed.raw.get_ref());
        let shared = self.shared(raw.study(), &t, defined);
        let target = self.required(&raw.target, "target", &t, None);
        let target = target.and_then(|target| self.target(target, &t));
        let inputs = self.required(&raw.inputs, "inputs", &t, None);
        let inputs = inputs.and_then(|inputs| self.inputs(inputs, &t));
        let random_runs = self.random_runs(&raw.random_runs, random, &t);
        let alpha = self.fraction(&raw.alpha, DEFAULT_ALPHA, "alpha", &t);
        let correction = self.choice(&raw.correction, "correction", &t);
        let shared = shared?;
        Some(TcavStudy {
            target: target?,
            inputs: inputs?,
            concepts: shared.concepts,
            layers: shared.layers,
            site: shared.site,
            pooling: shared.pooling,
            cav: shared.cav,
            random_runs: random_runs?,
            alpha: alpha?,
            correction: correction?,
        })
    }

    /// `sites` of a `[[probe]]`: one or more distinct sites, and no `site` beside it.
    fn site_list(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        with_site: bool,
        t: &TableCtx<'_>,
    ) -> Option<Vec<SitePoint>> {
        if with_site {
            let message = "[[probe]] has both `site` and `sites`".to_string();
            let help = "keep one: `site = \"...\"` for one site, `sites = [...]` for several";
            self.report(list.span(), message, Some(help.into()));
            return None;
        }
        self.choice_list(list, "sites", "site", t)
    }

    fn shared(&mut self, raw: RawStudy<'_>, t: &TableCtx<'_>, defined: &[&str]) -> Option<Shared> {
        let concepts = self.required(raw.concepts, "concepts", t, None);
        let concepts = concepts.and_then(|list| self.concept_refs(list, defined, t.name));
        let layers = self.required(raw.layers, "layers", t, None);
        let layers = layers.and_then(|layers| self.layers(layers, t.name));
        let site = self.choice(raw.site, "site", t);
        let pooling = self.choice(raw.pooling, "pooling", t);
        let method = self.choice(raw.method, "method", t);
        let l2 = self.penalty(raw.l2, DEFAULT_L2, t);
        let iterations = raw.max_iterations;
        let max_iterations = self.count(iterations, DEFAULT_MAX_ITERATIONS, 1, "max_iterations", t);
        let validation = self.validation(raw, t);
        Some(Shared {
            concepts: concepts?,
            layers: layers?,
            site: site?,
            pooling: pooling?,
            cav: CavOptions {
                method: method?,
                l2: l2?,
                max_iterations: max_iterations? as u64,
                validation: validation?,
            },
        })
    }

    /// `holdout = f` or `folds = k` (not both); a 0.3 holdout when neither is given.
    fn validation(&mut self, raw: RawStudy<'_>, t: &TableCtx<'_>) -> Option<Validation> {
        if let (Some(_), Some(folds)) = (raw.holdout, raw.folds) {
            let message = format!("{} sets both `holdout` and `folds`", t.name);
            self.report(
                folds.span(),
                message,
                Some("keep one: a held-out fraction, or k-fold cross-validation".into()),
            );
            return None;
        }
        if raw.folds.is_some() {
            let folds = self.count(raw.folds, MIN_FOLDS, MIN_FOLDS, "folds", t)?;
            return Some(Validation::Folds(folds));
        }
        self.fraction(raw.holdout, DEFAULT_HOLDOUT, "holdout", t)
            .map(Validation::Holdout)
    }

    pub(super) fn concept_refs(
        &mut self,
        list: &Spanned<Vec<Spanned<String>>>,
        defined: &[&str],
        ctx: &str,
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
            let name = item.get_ref();
            if !defined.contains(&name.as_str()) {
                let help = suggest(name, defined, "defined concepts").unwrap_or_else(|| {
                    "no concepts are defined; add a [concepts.NAME] table".into()
                });
                self.report(
                    item.span(),
                    format!("unknown concept `{name}` in {ctx}"),
                    Some(help),
                );
                valid = false;
            } else if names.contains(name) {
                let message = format!("concept `{name}` is listed twice in {ctx}");
                self.report(item.span(), message, None);
                valid = false;
            } else {
                names.push(name.clone());
            }
        }
        valid.then_some(names)
    }

    pub(super) fn layers(&mut self, layers: &Spanned<RawLayers>, ctx: &str) -> Option<Vec<usize>> {
        // Without a known model there is nothing to check against (already reported).
        let n_layers = self.model.as_ref().map(|(_, f)| f.n_layers)?;
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

    /// One layer index, reported when the model has no such layer.
    pub(super) fn layer_index(&mut self, layer: &Spanned<i64>, ctx: &str) -> Option<usize> {
        // Without a known model there is nothing to check against (already reported).
        let (model, n_layers) = self.model.as_ref().map(|(m, f)| (m.clone(), f.n_layers))?;
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

    /// An `l2` penalty (finite, >= 0), or `default` when absent.
    pub(super) fn penalty(
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

    fn target(&mut self, target: &Spanned<RawTarget>, t: &TableCtx<'_>) -> Option<Target> {
        self.target_key(target, "target", t)
    }

    /// A `class`/`token` target under `key` (`target`, or `contrast` in [[attribution]]).
    pub(super) fn target_key(
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
        let (model, facts) = self.model.as_ref()?;
        match check_target(key, value.get_ref(), model, facts) {
            Ok(target) => Some(target),
            Err((message, help)) => {
                self.report(value.span(), message, help);
                None
            }
        }
    }

    pub(super) fn inputs(
        &mut self,
        inputs: &Spanned<RawInputs>,
        t: &TableCtx<'_>,
    ) -> Option<Vec<String>> {
        if t.was_reported("inputs") {
            return None;
        }
        let source = match inputs.get_ref() {
            RawInputs::Source(source) => source.clone(),
            RawInputs::File(path) => RawSource {
                file: Some(Spanned::new(inputs.span(), path.clone())),
                examples: None,
                template: None,
                vars: None,
            },
        };
        let set = self.load(&source, inputs.span(), &format!("`inputs` of {}", t.name))?;
        Some(set.examples)
    }

    fn random_runs(
        &mut self,
        value: &Option<Spanned<usize>>,
        random: Option<&RandomPool>,
        t: &TableCtx<'_>,
    ) -> Option<usize> {
        let runs = self.count(value, 0, 2, "random_runs", t);
        // Without a valid pool the default is unknown (the pool's problem is already reported).
        let sets = random?.sets;
        let runs = runs?;
        match value {
            None => Some(sets),
            Some(value) if runs > sets => {
                let message = format!("`random_runs` = {runs} exceeds `sets` = {sets} in [random]");
                let help = "raise `sets` in [random] or lower `random_runs`";
                self.report(value.span(), message, Some(help.into()));
                None
            }
            Some(_) => Some(runs),
        }
    }
}

/// Checks a `class`/`token` target against the model; errors are (message, help).
pub(super) fn check_target(
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
