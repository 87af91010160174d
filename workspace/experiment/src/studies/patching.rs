//! `[[patching]]`: activation patching over prompt pairs at every (site, layer, position or
//! head), exact and by attribution patching (see [`cavern_intervene::patching`]).

use super::StudyError;
use crate::schema::{Direction, MetricKind, PatchSite, PatchingStudy, RenderedPrompt};
use crate::table::{Table, TableError};
use cavern_intervene::patching::{self, PatchKind, PatchPlan, PatchValue, PromptPairs};
use cavern_intervene::{InterventionError, Metric};
use cavern_model::{LoadedModel, SitePoint};
use indicatif::ProgressBar;
use serde::Serialize;

/// Most tokens (rows × padded length) one patched forward pass runs.
const MAX_BATCH_TOKENS: usize = 2048;

/// One (study, direction, site, layer, position/head) row of the `patching` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchingRow {
    /// Index of the `[[patching]]` study in the file, from 0.
    pub study: usize,
    /// `denoise` or `noise`.
    pub direction: String,
    /// `resid_pre`, `attn_out`, `mlp_out`, `head` or `head_position`.
    pub site: String,
    pub layer: usize,
    /// Token position (absent for `head`); with `align_last = N`, the position among each
    /// prompt's last N tokens.
    pub position: Option<usize>,
    /// The first pair's clean token at `position` (empty for `head`).
    pub token: String,
    /// Head (absent for position sites).
    pub head: Option<usize>,
    /// Mean over pairs of (m(patched) − m(corrupted)) / (m(clean) − m(corrupted)).
    pub recovered: f64,
    /// Standard deviation of that fraction over pairs.
    pub recovered_std: f64,
    /// The same fraction from attribution patching's estimate, when computed.
    pub attribution: Option<f64>,
    /// Pairs averaged (those whose clean and corrupted metric differ).
    pub pairs: usize,
}

/// One (study, direction, site) row of `patching_summary`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchingSummary {
    pub study: usize,
    pub direction: String,
    pub site: String,
    /// Pearson correlation of `recovered` and `attribution` over the site's rows.
    pub correlation: Option<f64>,
    /// Patched forward passes' rows actually run (the others reproduce the base run exactly).
    pub variants_run: usize,
    /// Every (pair, layer, position/head) patch.
    pub variants: usize,
}

/// One (study, pair) row of `patching_pairs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchingPair {
    pub study: usize,
    pub pair: usize,
    pub clean: String,
    pub corrupted: String,
    /// The metric's targets, `|`-separated.
    pub targets: String,
    pub metric: String,
    pub metric_clean: f64,
    pub metric_corrupted: f64,
}

/// Everything the patching studies of a run produce.
#[derive(Debug, Clone, Default)]
pub struct PatchingOutput {
    pub rows: Vec<PatchingRow>,
    pub summary: Vec<PatchingSummary>,
    pub pairs: Vec<PatchingPair>,
}

impl PatchingOutput {
    /// Appends another study's output.
    pub fn extend(&mut self, other: PatchingOutput) {
        self.rows.extend(other.rows);
        self.summary.extend(other.summary);
        self.pairs.extend(other.pairs);
    }
}

/// The engine's kind for a file's site.
fn kind(site: PatchSite) -> PatchKind {
    match site {
        PatchSite::ResidPre => PatchKind::Position(SitePoint::ResidPre),
        PatchSite::AttnOut => PatchKind::Position(SitePoint::AttnOut),
        PatchSite::MlpOut => PatchKind::Position(SitePoint::MlpOut),
        PatchSite::Head => PatchKind::Head,
        PatchSite::HeadPosition => PatchKind::HeadPosition,
    }
}

/// Token ids of a list of prompts.
type Ids = Vec<Vec<u32>>;

/// Token ids of each clean prompt and of its corrupted twin, checked to have equal lengths (or
/// at least `align_last` tokens each), and the first clean prompt's tokens at the positions the
/// tables report (the `token` column).
fn encode_pairs(
    model: &LoadedModel,
    prompts: &[RenderedPrompt],
    align_last: Option<usize>,
) -> Result<(Ids, Ids, Vec<String>), StudyError> {
    let clean: Vec<String> = prompts.iter().map(|p| p.clean.clone()).collect();
    let corrupted: Vec<String> = prompts.iter().map(|p| p.corrupted.clone()).collect();
    let clean = model.encode_texts(&clean).map_err(StudyError::Model)?;
    let corrupted = model.encode_texts(&corrupted).map_err(StudyError::Model)?;
    for (i, (c, x)) in clean.iter().zip(&corrupted).enumerate() {
        let (c_len, x_len) = (c.ids.len(), x.ids.len());
        let problem = match align_last {
            None if c_len != x_len => Some(
                "patching needs prompts of equal length (choose variable values that are one \
                 token each, or set `align_last = N` to patch only the last N tokens, matched \
                 from the end)"
                    .to_string(),
            ),
            Some(n) if c_len.min(x_len) < n => Some(format!(
                "`align_last = {n}` needs at least {n} tokens in each prompt"
            )),
            _ => None,
        };
        if let Some(problem) = problem {
            return Err(StudyError::Patching(format!(
                "pair {i} tokenizes to {c_len} clean and {x_len} corrupted tokens: {:?} / {:?}; \
                 {problem}",
                prompts[i].clean, prompts[i].corrupted
            )));
        }
    }
    let tokens = clean
        .first()
        .map(|e| e.tokens[patching::window(e.tokens.len(), align_last)].to_vec())
        .unwrap_or_default();
    let ids = |e: Vec<cavern_model::tokenizer::Encoding>| e.into_iter().map(|e| e.ids).collect();
    Ok((ids(clean), ids(corrupted), tokens))
}

/// The engine's metric for `kind` with each prompt's targets; KL is to `reference` logits.
pub(crate) fn metric(
    model: &LoadedModel,
    kind: MetricKind,
    prompts: &[RenderedPrompt],
    reference: impl FnOnce() -> burn::tensor::Tensor<2>,
) -> Result<Metric, StudyError> {
    let token = |text: &str| {
        model.tokenizer().single_token(text).ok_or_else(|| {
            StudyError::Patching(format!(
                "metric target {text:?} is not a single token of model `{}`",
                model.name()
            ))
        })
    };
    let class = |name: &str| {
        (model.class_names().iter().position(|c| c == name))
            .map(|i| i as u32)
            .ok_or_else(|| StudyError::UnknownTarget(name.to_string()))
    };
    let targets = |i: usize| prompts.iter().map(move |p| p.targets[i].as_str());
    Ok(match kind {
        MetricKind::LogitDiff => Metric::LogitDiff(
            targets(0)
                .zip(targets(1))
                .map(|(a, b)| Ok((token(a)?, token(b)?)))
                .collect::<Result<_, StudyError>>()?,
        ),
        MetricKind::Logprob => Metric::Logprob(targets(0).map(token).collect::<Result<_, _>>()?),
        MetricKind::ClassProb => Metric::Prob(targets(0).map(class).collect::<Result<_, _>>()?),
        MetricKind::Kl => Metric::kl_to(reference()),
    })
}

/// Runs study `index`.
pub fn run(
    index: usize,
    study: &PatchingStudy,
    model: &LoadedModel,
    progress: &ProgressBar,
) -> Result<PatchingOutput, StudyError> {
    let (clean, corrupted, tokens) = encode_pairs(model, &study.pairs, study.align_last)?;
    let pad_id = model.config().pad_id;
    let metric = metric(model, study.metric, &study.pairs, || {
        let batch = model.batch(clean.clone());
        model
            .transformer
            .forward(&batch, &mut cavern_model::NoHooks)
            .logits
    })?;
    let mut out = PatchingOutput::default();
    for &direction in &study.directions {
        let (base, source) = match direction {
            Direction::Denoise => (corrupted.clone(), clean.clone()),
            Direction::Noise => (clean.clone(), corrupted.clone()),
        };
        let base_lengths: Vec<usize> = base.iter().map(Vec::len).collect();
        let pairs = PromptPairs {
            base,
            source,
            pad_id,
            align_last: study.align_last,
        };
        let in_window = |mut values: Vec<PatchValue>| {
            for v in &mut values {
                let start =
                    patching::window(base_lengths[v.variant.prompt], study.align_last).start;
                v.variant.position = v.variant.position.map(|p| p - start);
            }
            values
        };
        for &site in &study.sites {
            let plan = PatchPlan {
                kinds: vec![kind(site)],
                layers: study.layers.clone(),
                skip_unchanged: true,
                max_batch_tokens: MAX_BATCH_TOKENS,
            };
            let mut sweep = patching::sweep(&model.transformer, &pairs, &metric, &plan)
                .map_err(intervention)?;
            sweep.exact = in_window(sweep.exact);
            let (m_clean, m_corrupted) = match direction {
                Direction::Denoise => (&sweep.source_metric, &sweep.base_metric),
                Direction::Noise => (&sweep.base_metric, &sweep.source_metric),
            };
            let estimates = study
                .attribution
                .then(|| patching::attribution(&model.transformer, &pairs, &metric, &plan))
                .transpose()
                .map_err(intervention)?
                .map(in_window);
            let fraction = Fraction {
                clean: m_clean,
                corrupted: m_corrupted,
            };
            let rows = rows(
                index,
                direction,
                site,
                &sweep.exact,
                estimates.as_deref(),
                &fraction,
                &tokens,
            );
            let correlation = estimates.as_ref().and_then(|_| {
                let pairs: Vec<(f64, f64)> = rows
                    .iter()
                    .filter_map(|r| Some((r.recovered, r.attribution?)))
                    .collect();
                pearson(&pairs)
            });
            out.summary.push(PatchingSummary {
                study: index,
                direction: direction.as_str().to_string(),
                site: site.as_str().to_string(),
                correlation,
                variants_run: sweep.variants_run,
                variants: sweep.exact.len(),
            });
            out.rows.extend(rows);
            if out.pairs.is_empty() {
                out.pairs = pair_rows(index, study, m_clean, m_corrupted);
            }
            progress.inc(1);
        }
    }
    Ok(out)
}

fn intervention(err: InterventionError) -> StudyError {
    StudyError::Patching(err.to_string())
}

/// Each pair's clean and corrupted metric, for the recovered fraction.
struct Fraction<'a> {
    clean: &'a [f64],
    corrupted: &'a [f64],
}

impl Fraction<'_> {
    /// (m − m(corrupted)) / (m(clean) − m(corrupted)) for pair `i`; `None` when the pair's
    /// clean and corrupted metric are equal.
    fn of(&self, i: usize, m: f64) -> Option<f64> {
        let span = self.clean[i] - self.corrupted[i];
        (span.abs() > 1e-9).then(|| (m - self.corrupted[i]) / span)
    }
}

/// Averages patched values over pairs, one row per (layer, position/head).
fn rows(
    study: usize,
    direction: Direction,
    site: PatchSite,
    exact: &[PatchValue],
    estimates: Option<&[PatchValue]>,
    fraction: &Fraction<'_>,
    tokens: &[String],
) -> Vec<PatchingRow> {
    let key = |v: &PatchValue| (v.layer, v.variant.position, v.variant.head);
    let mut keys: Vec<_> = exact.iter().map(key).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .map(|(layer, position, head)| {
            let of = |values: &[PatchValue]| -> Vec<f64> {
                values
                    .iter()
                    .filter(|v| key(v) == (layer, position, head))
                    .filter_map(|v| fraction.of(v.variant.prompt, v.metric))
                    .collect()
            };
            let recovered = of(exact);
            let (mean, std) = mean_std(&recovered);
            PatchingRow {
                study,
                direction: direction.as_str().to_string(),
                site: site.as_str().to_string(),
                layer,
                position,
                token: position
                    .and_then(|p| tokens.get(p).cloned())
                    .unwrap_or_default(),
                head,
                recovered: mean,
                recovered_std: std,
                attribution: estimates.map(|e| mean_std(&of(e)).0),
                pairs: recovered.len(),
            }
        })
        .collect()
}

fn pair_rows(
    study: usize,
    spec: &PatchingStudy,
    clean: &[f64],
    corrupted: &[f64],
) -> Vec<PatchingPair> {
    spec.pairs
        .iter()
        .enumerate()
        .map(|(i, p)| PatchingPair {
            study,
            pair: i,
            clean: p.clean.clone(),
            corrupted: p.corrupted.clone(),
            targets: p.targets.join("|"),
            metric: spec.metric.as_str().to_string(),
            metric_clean: clean[i],
            metric_corrupted: corrupted[i],
        })
        .collect()
}

/// Mean and sample standard deviation (NaN for no values; 0 spread for one).
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    if values.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Pearson correlation of finite pairs; `None` with fewer than 3 or no spread.
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let pairs: Vec<_> = pairs
        .iter()
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .collect();
    if pairs.len() < 3 {
        return None;
    }
    let n = pairs.len() as f64;
    let mx = pairs.iter().map(|p| p.0).sum::<f64>() / n;
    let my = pairs.iter().map(|p| p.1).sum::<f64>() / n;
    let cov: f64 = pairs.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    let vx: f64 = pairs.iter().map(|p| (p.0 - mx).powi(2)).sum();
    let vy: f64 = pairs.iter().map(|p| (p.1 - my).powi(2)).sum();
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

/// The `patching` table.
pub fn table(rows: &[PatchingRow]) -> Result<Table, TableError> {
    let int = |f: fn(&PatchingRow) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    let text = |f: fn(&PatchingRow) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    let opt = |f: fn(&PatchingRow) -> Option<usize>| {
        rows.iter().map(|r| f(r).map(|v| v as u64)).collect()
    };
    Table::new("patching")?
        .with_u64("study", int(|r| r.study))?
        .with_str("direction", text(|r| &r.direction))?
        .with_str("site", text(|r| &r.site))?
        .with_u64("layer", int(|r| r.layer))?
        .with_opt_u64("position", opt(|r| r.position))?
        .with_str("token", text(|r| &r.token))?
        .with_opt_u64("head", opt(|r| r.head))?
        .with_f64("recovered", rows.iter().map(|r| r.recovered).collect())?
        .with_f64(
            "recovered_std",
            rows.iter().map(|r| r.recovered_std).collect(),
        )?
        .with_opt_f64("attribution", rows.iter().map(|r| r.attribution).collect())?
        .with_u64("pairs", int(|r| r.pairs))
}

/// The `patching_summary` table.
pub fn summary_table(rows: &[PatchingSummary]) -> Result<Table, TableError> {
    let int = |f: fn(&PatchingSummary) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    Table::new("patching_summary")?
        .with_u64("study", int(|r| r.study))?
        .with_str(
            "direction",
            rows.iter().map(|r| r.direction.clone()).collect(),
        )?
        .with_str("site", rows.iter().map(|r| r.site.clone()).collect())?
        .with_opt_f64("correlation", rows.iter().map(|r| r.correlation).collect())?
        .with_u64("variants_run", int(|r| r.variants_run))?
        .with_u64("variants", int(|r| r.variants))
}

/// The `patching_pairs` table.
pub fn pairs_table(rows: &[PatchingPair]) -> Result<Table, TableError> {
    let text = |f: fn(&PatchingPair) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    Table::new("patching_pairs")?
        .with_u64("study", rows.iter().map(|r| r.study as u64).collect())?
        .with_u64("pair", rows.iter().map(|r| r.pair as u64).collect())?
        .with_str("clean", text(|r| &r.clean))?
        .with_str("corrupted", text(|r| &r.corrupted))?
        .with_str("targets", text(|r| &r.targets))?
        .with_str("metric", text(|r| &r.metric))?
        .with_f64(
            "metric_clean",
            rows.iter().map(|r| r.metric_clean).collect(),
        )?
        .with_f64(
            "metric_corrupted",
            rows.iter().map(|r| r.metric_corrupted).collect(),
        )
}
