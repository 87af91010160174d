//! `[[probe]]`: CAV accuracy for concepts × layers, against every random set, with the
//! random-vs-random accuracy as the chance baseline.

use super::{Activations, RandomSets, StudyError, TextSet, mean_std};
use crate::schema::{Experiment, ProbeStudy};
use crate::table::{Table, TableError};
use cavern_model::Site;
use cavern_probe::decompose::decompose;
use cavern_probe::mdl::ProbeOptions;
use cavern_probe::measures::{MeasureOptions, Measures, measure};
use cavern_probe::train_cav;
use cavern_stats::{BootstrapMethod, bootstrap_ci};
use indicatif::ProgressBar;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One (concept, layer) cell of a probe study.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeResult {
    /// Concept name.
    pub concept: String,
    /// Block index.
    pub layer: usize,
    /// Site name.
    pub site: String,
    /// Pooling name.
    pub pooling: String,
    /// Mean held-out accuracy of the concept-vs-random CAVs.
    pub accuracy_mean: f64,
    /// Their standard deviation over random sets.
    pub accuracy_std: f64,
    /// 95% percentile-bootstrap interval of `accuracy_mean` over the random sets.
    pub accuracy_ci: (f64, f64),
    /// Mean held-out accuracy of random-vs-random CAVs (chance baseline).
    pub random_accuracy_mean: f64,
    /// Selectivity, MI and MDL on the concept against the first random set.
    pub measures: Measures,
    /// Random sets used.
    pub random_sets: usize,
    /// Training examples per class.
    pub n_train: usize,
    /// Held-out examples per class.
    pub n_test: usize,
}

/// A relative CAV: one concept against another (Kim et al. 2018).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelativeResult {
    /// The concept the direction points towards.
    pub concept: String,
    /// The concept it points away from.
    pub other: String,
    /// Block index.
    pub layer: usize,
    /// Site name.
    pub site: String,
    /// Held-out accuracy of the concept-vs-concept CAV.
    pub accuracy: f64,
    /// Training examples per class.
    pub n_train: usize,
    /// Held-out examples per class.
    pub n_test: usize,
}

/// One example carrying a concept's direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecompositionRow {
    /// Concept name.
    pub concept: String,
    /// Block index.
    pub layer: usize,
    /// Site name.
    pub site: String,
    /// 1 for the largest weight.
    pub rank: usize,
    /// Index of the example in the concept's set.
    pub example: usize,
    /// Its text.
    pub text: String,
    /// Its non-negative weight.
    pub weight: f64,
    /// Its share of the summed weights.
    pub share: f64,
    /// Fraction of the direction (L2) the examples leave unexplained.
    pub residual: f64,
}

/// Everything probe studies produce.
#[derive(Debug, Default)]
pub struct ProbeOutput {
    /// One row per (concept, layer).
    pub rows: Vec<ProbeResult>,
    /// Relative CAVs, with `relative = true`.
    pub relative: Vec<RelativeResult>,
    /// The examples that carry each direction, with `decompose = true`.
    pub decomposition: Vec<DecompositionRow>,
}

/// Examples listed per decomposed direction.
const DECOMPOSITION_TOP: usize = 10;

/// Runs one probe study.
pub fn run(
    study: &ProbeStudy,
    experiment: &Experiment,
    random: &RandomSets,
    activations: &mut Activations,
    rng: &mut ChaCha8Rng,
    progress: &ProgressBar,
) -> Result<ProbeOutput, StudyError> {
    let options = study.cav;
    let pool = study.pooling;
    let n_sets = random.sets.len();
    let mut out = ProbeOutput::default();
    let cells = study
        .sites
        .iter()
        .flat_map(|&p| study.layers.iter().map(move |&l| (p, l)));
    for (point, layer) in cells {
        let site = Site::new(point, layer);
        let pool_rows = activations
            .rows(&TextSet::RandomPool, &random.pool, site, pool)?
            .to_vec();
        let mut baseline = Vec::with_capacity(n_sets);
        for r in 0..n_sets {
            let a = random.rows(&pool_rows, r);
            let b = random.rows(&pool_rows, (r + 1) % n_sets);
            baseline.push(train_cav(&a, &b, &options, rng)?.accuracy);
        }
        for concept in &study.concepts {
            progress.set_message(format!("probe {concept} L{layer}"));
            let texts = &experiment.concepts[concept];
            let rows = activations
                .rows(&TextSet::Concept(concept.clone()), texts, site, pool)?
                .to_vec();
            let mut accuracies = Vec::with_capacity(n_sets);
            let mut sizes = (0, 0);
            let mut direction = vec![0.0f32; rows.first().map_or(0, Vec::len)];
            for r in 0..n_sets {
                let cav = train_cav(&rows, &random.rows(&pool_rows, r), &options, rng)?;
                accuracies.push(cav.accuracy);
                sizes = (cav.n_train, cav.n_test);
                direction
                    .iter_mut()
                    .zip(&cav.direction)
                    .for_each(|(d, c)| *d += c);
            }
            if study.decompose {
                out.decomposition.extend(decomposition_rows(
                    concept, layer, &site, texts, &rows, &direction, &pool_rows,
                ));
            }
            let (accuracy_mean, accuracy_std) = mean_std(&accuracies);
            let accuracy_ci = bootstrap_ci(
                &accuracies,
                cavern_stats::mean,
                BootstrapMethod::Percentile,
                0.95,
                BOOTSTRAP_RESAMPLES,
                rng.random(),
            )
            .map(|b| (b.interval.low, b.interval.high))
            .map_err(|source| StudyError::Stats {
                context: format!("accuracy interval of {concept} at layer {layer}"),
                source,
            })?;
            let measures = concept_measures(texts, &rows, random, &pool_rows, rng)?;
            out.rows.push(ProbeResult {
                concept: concept.clone(),
                layer,
                site: site.point.as_str().to_string(),
                pooling: pool.as_str().to_string(),
                accuracy_mean,
                accuracy_std,
                accuracy_ci,
                random_accuracy_mean: mean_std(&baseline).0,
                measures,
                random_sets: n_sets,
                n_train: sizes.0,
                n_test: sizes.1,
            });
            progress.inc(1);
        }
        if study.relative {
            out.relative
                .extend(relative_rows(study, experiment, site, activations, rng)?);
        }
    }
    Ok(out)
}

/// Each listed concept against each other one at `site`.
fn relative_rows(
    study: &ProbeStudy,
    experiment: &Experiment,
    site: Site,
    activations: &mut Activations,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<RelativeResult>, StudyError> {
    let layer = site.layer.unwrap_or(0);
    let mut rows = Vec::with_capacity(study.concepts.len());
    for concept in &study.concepts {
        let texts = &experiment.concepts[concept];
        let set = TextSet::Concept(concept.clone());
        rows.push(activations.rows(&set, texts, site, study.pooling)?.to_vec());
    }
    let mut out = Vec::new();
    for (a, concept) in study.concepts.iter().enumerate() {
        for (b, other) in study.concepts.iter().enumerate().filter(|(b, _)| *b != a) {
            let cav = train_cav(&rows[a], &rows[b], &study.cav, rng)?;
            out.push(RelativeResult {
                concept: concept.clone(),
                other: other.clone(),
                layer,
                site: site.point.as_str().to_string(),
                accuracy: cav.accuracy,
                n_train: cav.n_train,
                n_test: cav.n_test,
            });
        }
    }
    Ok(out)
}

/// The examples with the largest weights in the decomposition of a concept's summed
/// direction, centred by the random pool's mean activation.
fn decomposition_rows(
    concept: &str,
    layer: usize,
    site: &Site,
    texts: &[String],
    rows: &[Vec<f32>],
    direction: &[f32],
    pool_rows: &[Vec<f32>],
) -> Vec<DecompositionRow> {
    let mut centre = vec![0.0f32; direction.len()];
    for row in pool_rows {
        centre
            .iter_mut()
            .zip(row)
            .for_each(|(c, x)| *c += x / pool_rows.len() as f32);
    }
    let norm = direction
        .iter()
        .map(|x| x * x)
        .sum::<f32>()
        .sqrt()
        .max(f32::MIN_POSITIVE);
    let unit: Vec<f32> = direction.iter().map(|x| x / norm).collect();
    let found = decompose(&unit, rows, &centre);
    let total: f64 = found.weights.iter().sum();
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&i| found.weights[i] > 0.0)
        .collect();
    order.sort_by(|&a, &b| {
        found.weights[b]
            .total_cmp(&found.weights[a])
            .then(a.cmp(&b))
    });
    order
        .into_iter()
        .take(DECOMPOSITION_TOP)
        .enumerate()
        .map(|(rank, i)| DecompositionRow {
            concept: concept.to_string(),
            layer,
            site: site.point.as_str().to_string(),
            rank: rank + 1,
            example: i,
            text: texts[i].clone(),
            weight: found.weights[i],
            share: found.weights[i] / total,
            residual: found.residual,
        })
        .collect()
}

/// The `probe_relative` table.
pub fn relative_table(rows: &[RelativeResult]) -> Result<Table, TableError> {
    Table::new("probe_relative")?
        .with_str("concept", rows.iter().map(|r| r.concept.clone()).collect())?
        .with_str("other", rows.iter().map(|r| r.other.clone()).collect())?
        .with_u64("layer", rows.iter().map(|r| r.layer as u64).collect())?
        .with_str("site", rows.iter().map(|r| r.site.clone()).collect())?
        .with_f64("accuracy", rows.iter().map(|r| r.accuracy).collect())?
        .with_u64("n_train", rows.iter().map(|r| r.n_train as u64).collect())?
        .with_u64("n_test", rows.iter().map(|r| r.n_test as u64).collect())
}

/// The `decomposition` table.
pub fn decomposition_table(rows: &[DecompositionRow]) -> Result<Table, TableError> {
    Table::new("decomposition")?
        .with_str("concept", rows.iter().map(|r| r.concept.clone()).collect())?
        .with_u64("layer", rows.iter().map(|r| r.layer as u64).collect())?
        .with_str("site", rows.iter().map(|r| r.site.clone()).collect())?
        .with_u64("rank", rows.iter().map(|r| r.rank as u64).collect())?
        .with_u64("example", rows.iter().map(|r| r.example as u64).collect())?
        .with_str("text", rows.iter().map(|r| r.text.clone()).collect())?
        .with_f64("weight", rows.iter().map(|r| r.weight).collect())?
        .with_f64("share", rows.iter().map(|r| r.share).collect())?
        .with_f64("residual", rows.iter().map(|r| r.residual).collect())
}

/// Cross-validation folds of the selectivity and MI probes.
const MEASURE_FOLDS: usize = 5;

/// Bootstrap resamples of the accuracy and MI intervals.
const BOOTSTRAP_RESAMPLES: usize = 1000;

/// Selectivity, MI and MDL of the concept's examples (label 1) against random set 0's
/// (label 0), balanced; each text is its own type for the control task.
fn concept_measures(
    texts: &[String],
    rows: &[Vec<f32>],
    random: &RandomSets,
    pool_rows: &[Vec<f32>],
    rng: &mut ChaCha8Rng,
) -> Result<Measures, StudyError> {
    let counter = &random.sets[0];
    let n = rows.len().min(counter.len());
    let mut data: Vec<Vec<f32>> = rows[..n].to_vec();
    data.extend(counter[..n].iter().map(|&i| pool_rows[i].clone()));
    let mut types: Vec<String> = texts[..n].to_vec();
    types.extend(counter[..n].iter().map(|&i| random.pool[i].clone()));
    let labels: Vec<usize> = (0..2 * n).map(|i| usize::from(i < n)).collect();
    let options = MeasureOptions {
        probe: ProbeOptions::default(),
        folds: MEASURE_FOLDS,
        seed: rng.random(),
        resamples: BOOTSTRAP_RESAMPLES,
    };
    Ok(measure(&data, &labels, &types, 2, &options)?)
}

/// The `probe` table.
pub fn table(rows: &[ProbeResult]) -> Result<Table, TableError> {
    let col = |f: &dyn Fn(&ProbeResult) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: &dyn Fn(&ProbeResult) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let int =
        |f: &dyn Fn(&ProbeResult) -> usize| rows.iter().map(|r| f(r) as u64).collect::<Vec<_>>();
    Table::new("probe")?
        .with_str("concept", col(&|r| r.concept.clone()))?
        .with_u64("layer", int(&|r| r.layer))?
        .with_str("site", col(&|r| r.site.clone()))?
        .with_str("pooling", col(&|r| r.pooling.clone()))?
        .with_f64("accuracy_mean", num(&|r| r.accuracy_mean))?
        .with_f64("accuracy_std", num(&|r| r.accuracy_std))?
        .with_f64("accuracy_ci_low", num(&|r| r.accuracy_ci.0))?
        .with_f64("accuracy_ci_high", num(&|r| r.accuracy_ci.1))?
        .with_f64("random_accuracy_mean", num(&|r| r.random_accuracy_mean))?
        .with_f64("control_accuracy", num(&|r| r.measures.control_accuracy))?
        .with_f64("selectivity", num(&|r| r.measures.selectivity))?
        .with_f64("mi_bits", num(&|r| r.measures.mi_bits))?
        .with_f64("mi_ci_low", num(&|r| r.measures.mi_low_bits))?
        .with_f64("mi_ci_high", num(&|r| r.measures.mi_high_bits))?
        .with_f64("mdl_compression", num(&|r| r.measures.mdl_compression))?
        .with_f64(
            "control_mdl_compression",
            num(&|r| r.measures.control_mdl_compression),
        )?
        .with_u64("random_sets", int(&|r| r.random_sets))?
        .with_u64("n_train", int(&|r| r.n_train))?
        .with_u64("n_test", int(&|r| r.n_test))
}
