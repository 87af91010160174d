//! Running a `[[tcav]]`: per layer, the gradients of the target at the inputs, random-vs-random
//! CAVs for the baseline, then each concept against every random set; a two-sided Welch t-test
//! per cell and a correction over the study's cells.

use super::cav_file::CavFile;
use super::spec::TcavSpec;
use super::tables::{TcavOutput, TcavRow, TcavRunRow};
use crate::engine::activations::TextSet;
use crate::engine::outputs::target_index;
use crate::engine::{StudyContext, StudyError, mean_std};
use crate::study::Study;
use cavern_model::Site;
use cavern_probe::cav::mean_projection;
use cavern_probe::tcav::{directional_derivatives, summed_gradients, tcav_score};
use cavern_probe::train_cav;
use cavern_stats::{BootstrapMethod, bootstrap_ci, welch_t_test};
use rand::RngExt;

/// Name used for random-vs-random rows.
pub const RANDOM: &str = "random";

/// Runs a TCAV study (its index names its inputs in the activation cache).
pub(super) fn run(
    study: &TcavSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<TcavOutput, StudyError> {
    let (experiment, random, model) = (cx.experiment, cx.random, cx.model);
    let inputs = TextSet::Inputs {
        kind: super::Tcav::NAME,
        study: cx.index,
    };
    let target_index = target_index(model, &study.target)?;
    let target = study.target.label();
    let options = study.cav;
    let pool = study.pooling;
    let runs = study.random_runs;
    let mut out = TcavOutput::default();
    for &layer in &study.layers {
        let site = Site::new(study.site, layer);
        let site_name = site.point.as_str().to_string();
        let gradients =
            summed_gradients(model, &study.inputs, site, target_index, cx.batch_size())?;
        let input_rows = (cx.activations)
            .rows(&inputs, &study.inputs, site, pool)?
            .to_vec();
        let pool_rows = (cx.activations)
            .rows(&TextSet::RandomPool, &random.pool, site, pool)?
            .to_vec();
        let record = |concept: &str, run: usize, score: f64, accuracy: f64| TcavRunRow {
            concept: concept.to_string(),
            target: target.clone(),
            layer,
            site: site_name.clone(),
            run,
            tcav_score: score,
            cav_accuracy: accuracy,
        };
        let (mut random_scores, mut random_accuracies) = (Vec::new(), Vec::new());
        for r in 0..runs {
            let a = random.rows(&pool_rows, r);
            let b = random.rows(&pool_rows, (r + 1) % runs);
            let cav = train_cav(&a, &b, &options, cx.rng)?;
            let score = tcav_score(&directional_derivatives(&gradients, &cav.direction));
            out.runs.push(record(RANDOM, r, score, cav.accuracy));
            random_scores.push(score);
            random_accuracies.push(cav.accuracy);
        }
        for concept in &study.concepts {
            cx.progress.set_message(format!("tcav {concept} L{layer}"));
            let texts = &experiment.concepts[concept];
            let rows = (cx.activations)
                .rows(&TextSet::Concept(concept.clone()), texts, site, pool)?
                .to_vec();
            let mut file = CavFile {
                concept: concept.clone(),
                layer,
                site: site_name.clone(),
                directions: Vec::new(),
                accuracies: Vec::new(),
            };
            let (mut scores, mut caps) = (Vec::new(), Vec::new());
            for r in 0..runs {
                let cav = train_cav(&rows, &random.rows(&pool_rows, r), &options, cx.rng)?;
                let score = tcav_score(&directional_derivatives(&gradients, &cav.direction));
                out.runs.push(record(concept, r, score, cav.accuracy));
                scores.push(score);
                caps.push(mean_projection(&input_rows, &cav.direction));
                file.accuracies.push(cav.accuracy as f32);
                file.directions.push(cav.direction);
            }
            let test =
                welch_t_test(&scores, &random_scores).map_err(|source| StudyError::Stats {
                    context: format!("TCAV t-test for {concept} at layer {layer}"),
                    source,
                })?;
            let accuracies: Vec<f64> = file.accuracies.iter().map(|&a| a as f64).collect();
            let tcav_ci = bootstrap_ci(
                &scores,
                cavern_stats::mean,
                BootstrapMethod::Percentile,
                0.95,
                BOOTSTRAP_RESAMPLES,
                cx.rng.random(),
            )
            .map(|b| (b.interval.low, b.interval.high))
            .map_err(|source| StudyError::Stats {
                context: format!("TCAV interval for {concept} at layer {layer}"),
                source,
            })?;
            let ((tcav_mean, tcav_std), (random_mean, random_std)) =
                (mean_std(&scores), mean_std(&random_scores));
            out.rows.push(TcavRow {
                concept: concept.clone(),
                target: target.clone(),
                layer,
                site: site_name.clone(),
                tcav_mean,
                tcav_std,
                tcav_ci_low: tcav_ci.0,
                tcav_ci_high: tcav_ci.1,
                random_mean,
                random_std,
                t_statistic: test.statistic,
                df: test.df,
                p_value: test.p_value,
                p_adjusted: test.p_value,
                significant: false,
                cav_accuracy: mean_std(&accuracies).0,
                random_accuracy: mean_std(&random_accuracies).0,
                cap_mean: mean_std(&caps).0,
                runs,
                correction: study.correction.as_str().to_string(),
                alpha: study.alpha,
                warning: String::new(),
            });
            out.cavs.push(file);
            cx.progress.inc(1);
        }
    }
    correct(&mut out.rows, study);
    Ok(out)
}

/// Bootstrap resamples of the TCAV interval.
const BOOTSTRAP_RESAMPLES: usize = 1000;

/// A CAV whose mean held-out accuracy is below this, or within [`CHANCE_MARGIN`] of the
/// random-vs-random CAVs', is near chance.
const CHANCE_ACCURACY: f64 = 0.6;
/// See [`CHANCE_ACCURACY`].
const CHANCE_MARGIN: f64 = 0.1;
/// Random runs Kim et al. (2018) recommend at least.
const RECOMMENDED_RUNS: usize = 10;

/// Adjusts the study's p-values over all its (concept, layer) cells, marks significance and
/// writes each row's warnings.
fn correct(rows: &mut [TcavRow], study: &TcavSpec) {
    let p: Vec<f64> = rows.iter().map(|r| r.p_value).collect();
    let cells = rows.len();
    for (row, adjusted) in rows.iter_mut().zip(study.correction.adjust(&p)) {
        row.p_adjusted = adjusted;
        row.significant = adjusted < study.alpha;
        row.warning = warnings(row, cells).join("; ");
    }
}

/// What makes a row untrustworthy.
fn warnings(row: &TcavRow, cells: usize) -> Vec<String> {
    let mut out = Vec::new();
    if row.cav_accuracy < CHANCE_ACCURACY || row.cav_accuracy < row.random_accuracy + CHANCE_MARGIN
    {
        out.push(format!(
            "CAV accuracy {:.2} is near chance (random-vs-random {:.2}): the concept is not \
             linearly separable here and its TCAV score means nothing",
            row.cav_accuracy, row.random_accuracy
        ));
    }
    // The smallest two-sided p-value any rank test of n against n scores can give is
    // 2 / C(2n, n); the strictest corrected threshold is alpha / cells.
    let threshold = row.alpha / cells as f64;
    if smallest_rank_p(row.runs) > threshold {
        out.push(format!(
            "{} random runs cannot reach the corrected level {threshold:.2e} (alpha / {cells} \
             cells) with any two-sample rank test; use more random runs",
            row.runs
        ));
    } else if row.runs < RECOMMENDED_RUNS {
        out.push(format!(
            "only {} random runs (at least {RECOMMENDED_RUNS} recommended)",
            row.runs
        ));
    }
    out
}

/// `2 / C(2n, n)`: the smallest two-sided p-value of an exact rank test of `n` against `n`.
fn smallest_rank_p(n: usize) -> f64 {
    // C(2n, n) = prod_{i=1..n} (n + i) / i, in logs to stay finite.
    let log_binomial: f64 = (1..=n).map(|i| ((n + i) as f64 / i as f64).ln()).sum();
    (2.0f64.ln() - log_binomial).exp().min(1.0)
}

#[cfg(test)]
mod tests {
    use super::smallest_rank_p;

    #[test]
    fn smallest_rank_p_is_two_over_the_central_binomial() {
        assert_eq!(smallest_rank_p(1), 1.0);
        assert!((smallest_rank_p(3) - 2.0 / 20.0).abs() < 1e-12);
        assert!((smallest_rank_p(10) - 2.0 / 184_756.0).abs() < 1e-15);
    }
}
