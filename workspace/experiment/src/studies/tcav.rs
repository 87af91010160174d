//! `[[tcav]]`: TCAV scores of concepts × layers against random-vs-random baselines, with a
//! two-sided Welch t-test per cell and a correction over the study's cells.

use super::cav_file::CavFile;
use super::{Activations, RandomSets, StudyError, TextSet, mean_std};
use crate::runner::target_label;
use crate::schema::{Experiment, Target, TcavStudy};
use crate::table::{Table, TableError};
use cavern_model::Site;
use cavern_probe::cav::mean_projection;
use cavern_probe::tcav::{directional_derivatives, summed_gradients, tcav_score};
use cavern_probe::train_cav;
use cavern_stats::{BootstrapMethod, bootstrap_ci, welch_t_test};
use indicatif::ProgressBar;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One (concept, layer) cell of a TCAV study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TcavResult {
    /// Concept name.
    pub concept: String,
    /// Target label (`class:positive`, `token:Paris`).
    pub target: String,
    /// Block index.
    pub layer: usize,
    /// Site name.
    pub site: String,
    /// Mean TCAV score over concept-vs-random CAVs.
    pub tcav_mean: f64,
    /// Its standard deviation over random runs.
    pub tcav_std: f64,
    /// 95% percentile-bootstrap interval of `tcav_mean` over the random runs.
    pub tcav_ci: (f64, f64),
    /// Mean TCAV score over random-vs-random CAVs.
    pub random_mean: f64,
    /// Its standard deviation.
    pub random_std: f64,
    /// Welch t statistic (concept scores vs random scores).
    pub t_statistic: f64,
    /// Welch degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// p-value corrected over the study's concepts × layers.
    pub p_adjusted: f64,
    /// `p_adjusted < alpha`.
    pub significant: bool,
    /// Mean held-out accuracy of the concept-vs-random CAVs.
    pub cav_accuracy: f64,
    /// Mean held-out accuracy of the random-vs-random CAVs.
    pub random_accuracy: f64,
    /// Mean projection of the inputs on the concept direction (CAP), averaged over runs.
    pub cap_mean: f64,
    /// Random runs.
    pub runs: usize,
    /// Correction name.
    pub correction: String,
    /// Significance level.
    pub alpha: f64,
    /// Why the row should not be trusted (empty when there is nothing to say): a CAV near
    /// chance, or too few random runs for the correction.
    pub warning: String,
}

/// One CAV of a TCAV study: a concept (or random set) against one random set.
#[derive(Debug, Clone, PartialEq)]
pub struct TcavRun {
    /// Concept name, or `random` for the baseline.
    pub concept: String,
    /// Target label.
    pub target: String,
    /// Block index.
    pub layer: usize,
    /// Site name.
    pub site: String,
    /// Random-set index.
    pub run: usize,
    /// TCAV score of this CAV.
    pub tcav_score: f64,
    /// Held-out accuracy of this CAV.
    pub cav_accuracy: f64,
}

/// Everything TCAV studies produce.
#[derive(Debug, Default)]
pub struct TcavOutput {
    /// Summary rows.
    pub rows: Vec<TcavResult>,
    /// Per-CAV rows.
    pub runs: Vec<TcavRun>,
    /// The concept CAVs.
    pub cavs: Vec<CavFile>,
}

impl TcavOutput {
    /// Appends another study's output.
    pub fn extend(&mut self, other: TcavOutput) {
        self.rows.extend(other.rows);
        self.runs.extend(other.runs);
        self.cavs.extend(other.cavs);
    }
}

/// Name used for random-vs-random rows.
pub const RANDOM: &str = "random";

/// Runs the `index`-th TCAV study of the file (the index names its inputs in the activation cache).
pub fn run(
    index: usize,
    study: &TcavStudy,
    experiment: &Experiment,
    random: &RandomSets,
    activations: &mut Activations,
    rng: &mut ChaCha8Rng,
    progress: &ProgressBar,
) -> Result<TcavOutput, StudyError> {
    let inputs = TextSet::TcavInputs(index);
    let target_index = target_index(&study.target, activations)?;
    let target = target_label(&study.target);
    let options = study.cav;
    let pool = study.pooling;
    let runs = study.random_runs;
    let mut out = TcavOutput::default();
    for &layer in &study.layers {
        let site = Site::new(study.site, layer);
        let site_name = site.point.as_str().to_string();
        let model = activations.model();
        let gradients = summed_gradients(
            model,
            &study.inputs,
            site,
            target_index,
            activations.batch_size(),
        )?;
        let input_rows = activations
            .rows(&inputs, &study.inputs, site, pool)?
            .to_vec();
        let pool_rows = activations
            .rows(&TextSet::RandomPool, &random.pool, site, pool)?
            .to_vec();
        let record = |concept: &str, run: usize, score: f64, accuracy: f64| TcavRun {
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
            let cav = train_cav(&a, &b, &options, rng)?;
            let score = tcav_score(&directional_derivatives(&gradients, &cav.direction));
            out.runs.push(record(RANDOM, r, score, cav.accuracy));
            random_scores.push(score);
            random_accuracies.push(cav.accuracy);
        }
        for concept in &study.concepts {
            progress.set_message(format!("tcav {concept} L{layer}"));
            let texts = &experiment.concepts[concept];
            let rows = activations
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
                let cav = train_cav(&rows, &random.rows(&pool_rows, r), &options, rng)?;
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
                rng.random(),
            )
            .map(|b| (b.interval.low, b.interval.high))
            .map_err(|source| StudyError::Stats {
                context: format!("TCAV interval for {concept} at layer {layer}"),
                source,
            })?;
            let ((tcav_mean, tcav_std), (random_mean, random_std)) =
                (mean_std(&scores), mean_std(&random_scores));
            out.rows.push(TcavResult {
                concept: concept.clone(),
                target: target.clone(),
                layer,
                site: site_name.clone(),
                tcav_mean,
                tcav_std,
                tcav_ci,
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
            progress.inc(1);
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
fn correct(rows: &mut [TcavResult], study: &TcavStudy) {
    let p: Vec<f64> = rows.iter().map(|r| r.p_value).collect();
    let cells = rows.len();
    for (row, adjusted) in rows.iter_mut().zip(study.correction.adjust(&p)) {
        row.p_adjusted = adjusted;
        row.significant = adjusted < study.alpha;
        row.warning = warnings(row, cells).join("; ");
    }
}

/// What makes a row untrustworthy.
fn warnings(row: &TcavResult, cells: usize) -> Vec<String> {
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

/// Index of the target in the model's output logits.
fn target_index(target: &Target, activations: &Activations) -> Result<usize, StudyError> {
    let model = activations.model();
    let found = match target {
        Target::Class(class) => model.class_names().iter().position(|c| c == class),
        Target::Token(token) => model.tokenizer().single_token(token).map(|id| id as usize),
    };
    found.ok_or_else(|| StudyError::UnknownTarget(target_label(target)))
}

/// The `tcav` table.
pub fn summary_table(rows: &[TcavResult]) -> Result<Table, TableError> {
    let text = |f: &dyn Fn(&TcavResult) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: &dyn Fn(&TcavResult) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let int =
        |f: &dyn Fn(&TcavResult) -> usize| rows.iter().map(|r| f(r) as u64).collect::<Vec<_>>();
    Table::new("tcav")?
        .with_str("concept", text(&|r| r.concept.clone()))?
        .with_str("target", text(&|r| r.target.clone()))?
        .with_u64("layer", int(&|r| r.layer))?
        .with_str("site", text(&|r| r.site.clone()))?
        .with_f64("tcav_mean", num(&|r| r.tcav_mean))?
        .with_f64("tcav_std", num(&|r| r.tcav_std))?
        .with_f64("tcav_ci_low", num(&|r| r.tcav_ci.0))?
        .with_f64("tcav_ci_high", num(&|r| r.tcav_ci.1))?
        .with_f64("random_mean", num(&|r| r.random_mean))?
        .with_f64("random_std", num(&|r| r.random_std))?
        .with_f64("t_statistic", num(&|r| r.t_statistic))?
        .with_f64("df", num(&|r| r.df))?
        .with_f64("p_value", num(&|r| r.p_value))?
        .with_f64("p_adjusted", num(&|r| r.p_adjusted))?
        .with_bool("significant", rows.iter().map(|r| r.significant).collect())?
        .with_f64("cav_accuracy", num(&|r| r.cav_accuracy))?
        .with_f64("random_accuracy", num(&|r| r.random_accuracy))?
        .with_f64("cap_mean", num(&|r| r.cap_mean))?
        .with_u64("runs", int(&|r| r.runs))?
        .with_str("correction", text(&|r| r.correction.clone()))?
        .with_f64("alpha", num(&|r| r.alpha))?
        .with_str("warning", text(&|r| r.warning.clone()))
}

/// The `tcav_runs` table: one row per CAV, for the score distributions.
pub fn runs_table(runs: &[TcavRun]) -> Result<Table, TableError> {
    Table::new("tcav_runs")?
        .with_str("concept", runs.iter().map(|r| r.concept.clone()).collect())?
        .with_str("target", runs.iter().map(|r| r.target.clone()).collect())?
        .with_u64("layer", runs.iter().map(|r| r.layer as u64).collect())?
        .with_str("site", runs.iter().map(|r| r.site.clone()).collect())?
        .with_u64("run", runs.iter().map(|r| r.run as u64).collect())?
        .with_f64("tcav_score", runs.iter().map(|r| r.tcav_score).collect())?
        .with_f64(
            "cav_accuracy",
            runs.iter().map(|r| r.cav_accuracy).collect(),
        )
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
