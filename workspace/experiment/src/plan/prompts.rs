//! Templated prompts and the metric read at their last token, which `[[patching]]` (prompt
//! pairs) and `[[pruning]]` (prompts) share: rendering over the variables, picking at most a
//! number of them, and checking each rendered target against the model.

use super::raw::RawVars;
use super::resolver::{Resolver, TableCtx};
use super::sources::render_together;
use super::targets::check_target;
use serde::Deserialize;
use toml::Spanned;

/// A patching or pruning `metric` as written: exactly one key.
#[derive(Debug, Clone, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a table like `{ logit_diff = [\"A\", \"B\"] }`, `{ logprob = \"T\" }`, \
                 `{ class_prob = \"C\" }` or `{ kl = true }`"
)]
pub struct RawMetric {
    pub logit_diff: Option<Spanned<Vec<Spanned<String>>>>,
    pub logprob: Option<Spanned<String>>,
    pub class_prob: Option<Spanned<String>>,
    pub kl: Option<Spanned<bool>>,
}

impl RawMetric {
    /// Every key a metric table accepts.
    pub const KEYS: &'static [&'static str] = &["logit_diff", "logprob", "class_prob", "kl"];
}

/// What a patching or pruning study measures, at each prompt's last token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// `logit(A) − logit(B)`.
    LogitDiff,
    /// `log p(T)`.
    Logprob,
    /// `p(C)` of a classifier's class.
    ClassProb,
    /// `KL(reference ‖ run)`: to the clean run (patching) or the unablated run (pruning).
    Kl,
}

impl MetricKind {
    /// The spelling used in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            MetricKind::LogitDiff => "logit_diff",
            MetricKind::Logprob => "logprob",
            MetricKind::ClassProb => "class_prob",
            MetricKind::Kl => "kl",
        }
    }
}

/// A prompt (pair) with its rendered metric targets: tokens (`logit_diff`: two, `logprob`:
/// one), a class name (`class_prob`), none (`kl`).
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedPrompt {
    /// The clean prompt (pruning: the prompt).
    pub clean: String,
    /// The corrupted prompt (empty for pruning).
    pub corrupted: String,
    /// Metric targets.
    pub targets: Vec<String>,
}

/// Default `[[patching]] max_pairs` and `[[pruning]] max_prompts`.
pub const DEFAULT_MAX_PROMPTS: usize = 64;
/// Most prompts (or pairs) a study may keep (`max_prompts`, `max_pairs`).
pub const MAX_PROMPTS: usize = 10_000;
/// Most tokens a study may list per prompt (`top_k`).
pub const MAX_TOP_K: usize = 1_000;

/// A metric as written, checked for shape: its kind and its target templates.
pub struct MetricSpec<'a> {
    pub kind: MetricKind,
    pub targets: Vec<&'a Spanned<String>>,
}

/// Prompt templates and how to render them.
pub struct PromptTemplates<'a> {
    /// Prompts (trimmed): `[clean, corrupted]` or `[prompt]`.
    pub prompts: Vec<&'a Spanned<String>>,
    pub vars: Option<&'a RawVars>,
    pub distinct: bool,
    pub max: usize,
}

impl Resolver<'_> {
    /// The required `metric`: exactly one of its keys, well formed.
    pub fn metric_key<'a>(
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
    pub fn render_prompts(
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
            self.source(),
        )
        .map_err(|diagnostics| self.extend(diagnostics))
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
