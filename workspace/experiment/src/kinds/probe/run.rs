//! Running a `[[probe]]`: per (site, layer), random-vs-random CAVs for the chance baseline, then
//! each concept against every random set, with its measures; then relative CAVs and the
//! decomposition on request.

use super::spec::ProbeSpec;
use super::tables::{DecompositionRow, ProbeOutput, ProbeRow, RelativeRow};
use crate::engine::activations::TextSet;
use crate::engine::random::RandomSets;
use crate::engine::{StudyContext, StudyError, mean_std};
use cavern_model::Site;
use cavern_probe::decompose::decompose;
use cavern_probe::mdl::ProbeOptions;
use cavern_probe::measures::{MeasureOptions, Measures, measure};
use cavern_probe::train_cav;
use cavern_stats::{BootstrapMethod, bootstrap_ci};
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

/// Examples listed per decomposed direction.
const DECOMPOSITION_TOP: usize = 10;

/// Runs one probe study.
pub(super) fn run(
    study: &ProbeSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<ProbeOutput, StudyError> {
    let (experiment, random) = (cx.experiment, cx.random);
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
        let pool_rows = cx
            .activations
            .rows(&TextSet::RandomPool, &random.pool, site, pool)?
            .to_vec();
        let mut baseline = Vec::with_capacity(n_sets);
        for r in 0..n_sets {
            let a = random.rows(&pool_rows, r);
            let b = random.rows(&pool_rows, (r + 1) % n_sets);
            baseline.push(train_cav(&a, &b, &options, cx.rng)?.accuracy);
        }
        for concept in &study.concepts {
            cx.progress.set_message(format!("probe {concept} L{layer}"));
            let texts = &experiment.concepts[concept];
            let rows = (cx.activations)
                .rows(&TextSet::Concept(concept.clone()), texts, site, pool)?
                .to_vec();
            let mut accuracies = Vec::with_capacity(n_sets);
            let mut sizes = (0, 0);
            let mut direction = vec![0.0f32; rows.first().map_or(0, Vec::len)];
            for r in 0..n_sets {
                let cav = train_cav(&rows, &random.rows(&pool_rows, r), &options, cx.rng)?;
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
                cx.rng.random(),
            )
            .map(|b| (b.interval.low, b.interval.high))
            .map_err(|source| StudyError::Stats {
                context: format!("accuracy interval of {concept} at layer {layer}"),
                source,
            })?;
            let measures = concept_measures(texts, &rows, random, &pool_rows, cx.rng)?;
            out.rows.push(ProbeRow {
                concept: concept.clone(),
                layer,
                site: site.point.as_str().to_string(),
                pooling: pool.as_str().to_string(),
                accuracy_mean,
                accuracy_std,
                accuracy_ci_low: accuracy_ci.0,
                accuracy_ci_high: accuracy_ci.1,
                random_accuracy_mean: mean_std(&baseline).0,
                control_accuracy: measures.control_accuracy,
                selectivity: measures.selectivity,
                mi_bits: measures.mi_bits,
                mi_ci_low: measures.mi_low_bits,
                mi_ci_high: measures.mi_high_bits,
                mdl_compression: measures.mdl_compression,
                control_mdl_compression: measures.control_mdl_compression,
                random_sets: n_sets,
                n_train: sizes.0,
                n_test: sizes.1,
            });
            cx.progress.inc(1);
        }
        if study.relative {
            out.relative.extend(relative_rows(study, site, cx)?);
        }
    }
    Ok(out)
}

/// Each listed concept against each other one at `site`.
fn relative_rows(
    study: &ProbeSpec,
    site: Site,
    cx: &mut StudyContext<'_, '_>,
) -> Result<Vec<RelativeRow>, StudyError> {
    let layer = site.layer.unwrap_or(0);
    let mut rows = Vec::with_capacity(study.concepts.len());
    for concept in &study.concepts {
        let texts = &cx.experiment.concepts[concept];
        let set = TextSet::Concept(concept.clone());
        rows.push(
            cx.activations
                .rows(&set, texts, site, study.pooling)?
                .to_vec(),
        );
    }
    let mut out = Vec::new();
    for (a, concept) in study.concepts.iter().enumerate() {
        for (b, other) in study.concepts.iter().enumerate().filter(|(b, _)| *b != a) {
            let cav = train_cav(&rows[a], &rows[b], &study.cav, cx.rng)?;
            out.push(RelativeRow {
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

#[cfg(test)]
mod tests {
    use super::*;
    use cavern_model::SitePoint;

    #[test]
    fn a_direction_along_one_example_decomposes_into_that_example() {
        let rows = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, 1.0],
        ];
        // The pool's mean is 0, so the examples are their own centred activations.
        let pool = vec![vec![1.0, 2.0, 0.0], vec![-1.0, -2.0, 0.0]];
        let texts: Vec<String> = ["x", "y", "z"].map(String::from).to_vec();
        let site = Site::new(SitePoint::ResidPost, 1);
        let found = decomposition_rows("c", 1, &site, &texts, &rows, &[0.0, 2.0, 0.0], &pool);
        assert_eq!(found.len(), 1, "{found:?}");
        let top = &found[0];
        assert_eq!((top.rank, top.example, top.text.as_str()), (1, 1, "y"));
        assert!((top.weight - 1.0).abs() < 1e-6 && (top.share - 1.0).abs() < 1e-12);
        assert!(top.residual < 1e-6, "{top:?}");
    }
}
