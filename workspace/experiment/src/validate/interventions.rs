//! Resolving `[[patching]]` and `[[pruning]]`: templated prompts (pairs), the metric and its
//! targets, sites, layers, directions and the ablation.

use super::parse::Parsed;
use super::studies::check_target;
use super::{Resolver, TableCtx};
use crate::schema::{
    DEFAULT_CURVE_STEPS, DEFAULT_MAX_PROMPTS, Direction, MetricKind, PatchSite, PatchingStudy,
    PruningStudy, RawLayers, RawMetric, RawPatching, RawPruning, RawVars, RenderedPrompt,
};
use crate::sources::render_together;
use toml::Spanned;

/// A metric as written, checked for shape: its kind and its target templates.
struct MetricSpec<'a> {
    kind: MetricKind,
    targets: Vec<&'a Spanned<String>>,
}

/// Prompt templates and how to render them.
struct PromptTemplates<'a> {
    /// Prompts (trimmed): `[clean, corrupted]` or `[prompt]`.
    prompts: Vec<&'a Spanned<String>>,
    vars: Option<&'a RawVars>,
    distinct: bool,
    max: usize,
}

impl Resolver<'_> {
    pub(super) fn patching(&mut self, parsed: &Parsed<RawPatching>) -> Option<PatchingStudy> {
        let (t, raw) = (TableCtx::new("[[patching]]", parsed), parsed.raw.get_ref());
        let help = "give the two prompts, e.g. `clean = \"When {{ a }} and {{ b }} went to the \
                    store, {{ b }} gave a drink to\"` with `vars = { a = [...], b = [...] }`";
        let clean = self.required(&raw.clean, "clean", &t, Some(help.into()));
        let corrupted = self.required(&raw.corrupted, "corrupted", &t, Some(help.into()));
        let metric = self.metric_key(&raw.metric, &t);
        let distinct = self.flag(&raw.distinct, true, "distinct", &t);
        let max = self.count(&raw.max_pairs, DEFAULT_MAX_PROMPTS, 1, "max_pairs", &t);
        let sites = match t.optional(&raw.sites, "sites")? {
            Some(list) => self.choice_list(list, "sites", "site", &t),
            None => Some(vec![PatchSite::ResidPre]),
        };
        let directions = match t.optional(&raw.directions, "directions")? {
            Some(list) => self.choice_list(list, "directions", "direction", &t),
            None => Some(vec![Direction::Denoise]),
        };
        let layers = self.layers_or_all(&raw.layers, &t);
        let attribution = self.flag(&raw.attribution, true, "attribution", &t);
        let align_last = match t.optional(&raw.align_last, "align_last")? {
            Some(_) => self
                .count(&raw.align_last, 1, 1, "align_last", &t)
                .map(Some),
            None => Some(None),
        };
        let metric = metric?;
        let templates = PromptTemplates {
            prompts: vec![clean?, corrupted?],
            vars: raw.vars.as_ref(),
            distinct: distinct?,
            max: max?,
        };
        let pairs = self.render_prompts(&templates, &metric, &t)?;
        Some(PatchingStudy {
            pairs,
            metric: metric.kind,
            sites: sites?,
            layers: layers?,
            directions: directions?,
            attribution: attribution?,
            align_last: align_last?,
        })
    }

    pub(super) fn pruning(&mut self, parsed: &Parsed<RawPruning>) -> Option<PruningStudy> {
        let (t, raw) = (TableCtx::new("[[pruning]]", parsed), parsed.raw.get_ref());
        let help = "give a prompt template, e.g. `prompts = \"{{ a }} {{ b }} =\"` with \
                    `vars = { a = [...], b = [...] }`";
        let prompts = self.required(&raw.prompts, "prompts", &t, Some(help.into()));
        let metric = self.metric_key(&raw.metric, &t);
        let distinct = self.flag(&raw.distinct, false, "distinct", &t);
        let max = self.count(&raw.max_prompts, DEFAULT_MAX_PROMPTS, 1, "max_prompts", &t);
        let method = self.choice(&raw.method, "method", &t);
        let layers = self.layers_or_all(&raw.layers, &t);
        let steps = self.count(&raw.curve_steps, DEFAULT_CURVE_STEPS, 1, "curve_steps", &t);
        let rescore = self.flag(&raw.rescore, false, "rescore", &t);
        let metric = metric?;
        let templates = PromptTemplates {
            prompts: vec![prompts?],
            vars: raw.vars.as_ref(),
            distinct: distinct?,
            max: max?,
        };
        let prompts = self.render_prompts(&templates, &metric, &t)?;
        Some(PruningStudy {
            prompts,
            metric: metric.kind,
            method: method?,
            layers: layers?,
            curve_steps: steps?,
            rescore: rescore?,
        })
    }

    /// A boolean key, or `default` when absent.
    fn flag(
        &mut self,
        value: &Option<Spanned<bool>>,
        default: bool,
        key: &str,
        t: &TableCtx<'_>,
    ) -> Option<bool> {
        t.optional(value, key)
            .map(|value| value.map_or(default, |v| *v.get_ref()))
    }

    /// `layers`, or every layer of the model when absent.
    fn layers_or_all(
        &mut self,
        value: &Option<Spanned<RawLayers>>,
        t: &TableCtx<'_>,
    ) -> Option<Vec<usize>> {
        match t.optional(value, "layers")? {
            Some(layers) => self.layers(layers, t.name),
            // Without a known model there is nothing to default to (already reported).
            None => self
                .model
                .as_ref()
                .map(|(_, facts)| (0..facts.n_layers).collect()),
        }
    }

    /// The required `metric`: exactly one of its keys, well formed.
    fn metric_key<'a>(
        &mut self,
        value: &'a Option<Spanned<RawMetric>>,
        t: &TableCtx<'_>,
    ) -> Option<MetricSpec<'a>> {
        let help = "write `{ logit_diff = [\"A\", \"B\"] }`, `{ logprob = \"T\" }`, \
                    `{ class_prob = \"C\" }` or `{ kl = true }`";
        let metric = self.required(value, "metric", t, Some(help.into()))?;
        if t.was_reported("metric") {
            return None;
        }
        let raw = metric.get_ref();
        let given = [
            raw.logit_diff.is_some(),
            raw.logprob.is_some(),
            raw.class_prob.is_some(),
            raw.kl.is_some(),
        ];
        if given.iter().filter(|&&g| g).count() != 1 {
            let message = format!(
                "`metric` in {} must have exactly one of `logit_diff`, `logprob`, `class_prob` \
                 or `kl`",
                t.name
            );
            self.report(metric.span(), message, Some(help.into()));
            return None;
        }
        if let Some(pair) = &raw.logit_diff {
            if pair.get_ref().len() != 2 {
                let message = format!(
                    "`logit_diff` in {} takes two tokens, found {}",
                    t.name,
                    pair.get_ref().len()
                );
                let help = "write `logit_diff = [\"A\", \"B\"]`: logit(A) − logit(B)";
                self.report(pair.span(), message, Some(help.into()));
                return None;
            }
            let targets = pair.get_ref().iter().collect();
            return Some(MetricSpec {
                kind: MetricKind::LogitDiff,
                targets,
            });
        }
        if let Some(token) = &raw.logprob {
            return Some(MetricSpec {
                kind: MetricKind::Logprob,
                targets: vec![token],
            });
        }
        if let Some(class) = &raw.class_prob {
            return Some(MetricSpec {
                kind: MetricKind::ClassProb,
                targets: vec![class],
            });
        }
        match &raw.kl {
            Some(kl) if !*kl.get_ref() => {
                let message = format!("`kl = false` in {} chooses no metric", t.name);
                self.report(kl.span(), message, Some(help.into()));
                None
            }
            _ => Some(MetricSpec {
                kind: MetricKind::Kl,
                targets: Vec::new(),
            }),
        }
    }

    /// Renders the prompts and targets over the variables, keeps at most `max` (evenly spaced
    /// through the combinations) and checks every target against the model.
    fn render_prompts(
        &mut self,
        templates: &PromptTemplates<'_>,
        metric: &MetricSpec<'_>,
        t: &TableCtx<'_>,
    ) -> Option<Vec<RenderedPrompt>> {
        if t.was_reported("vars") {
            return None;
        }
        let all: Vec<(&Spanned<String>, bool)> = (templates.prompts.iter())
            .map(|&p| (p, true))
            .chain(metric.targets.iter().map(|&target| (target, false)))
            .collect();
        let what = t.name.to_string();
        let rows = render_together(
            &all,
            templates.vars,
            templates.distinct,
            &what,
            self.cx.experiment,
        )
        .map_err(|diagnostics| self.diagnostics.extend(diagnostics))
        .ok()?;
        if rows.is_empty() {
            let span = templates.vars.map_or(t.span.clone(), Spanned::span);
            let message = format!(
                "the variables of {} leave no combination in which all values differ",
                t.name
            );
            let help = "give the variables more values, or set `distinct = false`";
            self.report(span, message, Some(help.into()));
            return None;
        }
        let n = templates.prompts.len();
        let picked: Vec<Vec<String>> = if rows.len() > templates.max {
            (0..templates.max)
                .map(|i| rows[i * rows.len() / templates.max].clone())
                .collect()
        } else {
            rows
        };
        self.check_targets(&picked, n, metric)?;
        Some(
            picked
                .into_iter()
                .map(|mut row| {
                    let targets = row.split_off(n);
                    let corrupted = if n == 2 { row.pop() } else { None };
                    RenderedPrompt {
                        clean: row.pop().unwrap_or_default(),
                        corrupted: corrupted.unwrap_or_default(),
                        targets,
                    }
                })
                .collect(),
        )
    }

    /// Checks each rendered target (column `offset + i` is rendered from `metric.targets[i]`)
    /// against the model, reporting the first bad value of each target.
    fn check_targets(
        &mut self,
        rows: &[Vec<String>],
        offset: usize,
        metric: &MetricSpec<'_>,
    ) -> Option<()> {
        let key = match metric.kind {
            MetricKind::ClassProb => "class",
            MetricKind::LogitDiff | MetricKind::Logprob => "token",
            MetricKind::Kl => return Some(()),
        };
        // Without a known model there is nothing to check against (already reported).
        let (model, facts) = self.model.clone()?;
        let mut valid = true;
        for (i, template) in metric.targets.iter().enumerate() {
            let bad = rows
                .iter()
                .find_map(|row| check_target(key, &row[offset + i], &model, &facts).err());
            if let Some((message, help)) = bad {
                self.report(template.span(), message, help);
                valid = false;
            }
        }
        valid.then_some(())
    }
}
