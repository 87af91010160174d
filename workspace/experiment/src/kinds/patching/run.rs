//! Running a `[[patching]]`: every (site, layer, position or head) patched alone from one run
//! into the other for each direction, exactly and by attribution patching (see
//! [`cavern_intervene::patching`]), the recovered fraction averaged over the pairs.

use super::spec::{Direction, PatchSite, PatchingSpec};
use super::tables::{PatchingOutput, PatchingPair, PatchingRow, PatchingSummary};
use crate::engine::forward::logits_in_one_pass;
use crate::engine::metric::metric;
use crate::engine::{StudyContext, StudyError};
use crate::plan::RenderedPrompt;
use cavern_intervene::patching::{self, PatchKind, PatchPlan, PatchValue, PromptPairs};
use cavern_model::{LoadedModel, SitePoint};

/// Most tokens (rows × padded length) one patched forward pass runs.
const MAX_BATCH_TOKENS: usize = 2048;

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
            return Err(StudyError::Intervention(format!(
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

/// Runs a patching study.
pub(super) fn run(
    study: &PatchingSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<PatchingOutput, StudyError> {
    let (index, model) = (cx.index, cx.model);
    let (clean, corrupted, tokens) = encode_pairs(model, &study.pairs, study.align_last)?;
    let pad_id = model.config().pad_id;
    let metric = metric(model, study.metric, &study.pairs, || {
        logits_in_one_pass(model, &clean)
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
            let mut sweep = patching::sweep(&model.transformer, &pairs, &metric, &plan)?;
            sweep.exact = in_window(sweep.exact);
            let (m_clean, m_corrupted) = match direction {
                Direction::Denoise => (&sweep.source_metric, &sweep.base_metric),
                Direction::Noise => (&sweep.base_metric, &sweep.source_metric),
            };
            let estimates = study
                .attribution
                .then(|| patching::attribution(&model.transformer, &pairs, &metric, &plan))
                .transpose()?
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
                cavern_stats::pearson(&pairs)
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
            cx.progress.inc(1);
        }
    }
    Ok(out)
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
            let (mean, std) = pair_mean_std(&recovered);
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
                attribution: estimates.map(|e| pair_mean_std(&of(e)).0),
                pairs: recovered.len(),
            }
        })
        .collect()
}

fn pair_rows(
    study: usize,
    spec: &PatchingSpec,
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

/// Mean and sample standard deviation over pairs (NaN for no pairs; 0 spread for one).
fn pair_mean_std(values: &[f64]) -> (f64, f64) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recovered_fraction_runs_from_corrupted_to_clean() {
        let fraction = Fraction {
            clean: &[2.0, 1.0],
            corrupted: &[-2.0, 1.0],
        };
        assert_eq!(fraction.of(0, 2.0), Some(1.0));
        assert_eq!(fraction.of(0, -2.0), Some(0.0));
        assert_eq!(fraction.of(0, 0.0), Some(0.5));
        assert_eq!(
            fraction.of(1, 5.0),
            None,
            "equal clean and corrupted metric"
        );
    }

    #[test]
    fn spreads_over_pairs() {
        assert!(pair_mean_std(&[]).0.is_nan());
        assert_eq!(pair_mean_std(&[0.5]), (0.5, 0.0));
        let (mean, std) = pair_mean_std(&[1.0, 3.0]);
        assert_eq!(mean, 2.0);
        assert!((std - 2f64.sqrt()).abs() < 1e-12);
    }
}
