//! `[[probe]]`: CAV accuracy for concepts × layers, against every random set, with the
//! random-vs-random accuracy as the chance baseline.

use super::{Activations, RandomSets, StudyError, TextSet, mean_std};
use crate::schema::{Experiment, ProbeStudy};
use crate::table::{Table, TableError};
use cavern_model::Site;
use cavern_probe::train_cav;
use indicatif::ProgressBar;
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
    /// Mean held-out accuracy of random-vs-random CAVs (chance baseline).
    pub random_accuracy_mean: f64,
    /// Random sets used.
    pub random_sets: usize,
    /// Training examples per class.
    pub n_train: usize,
    /// Held-out examples per class.
    pub n_test: usize,
}

/// Runs one probe study.
pub fn run(
    study: &ProbeStudy,
    experiment: &Experiment,
    random: &RandomSets,
    activations: &mut Activations,
    rng: &mut ChaCha8Rng,
    progress: &ProgressBar,
) -> Result<Vec<ProbeResult>, StudyError> {
    let options = study.cav;
    let pool = study.pooling;
    let n_sets = random.sets.len();
    let mut out = Vec::new();
    for &layer in &study.layers {
        let site = Site::new(study.site, layer);
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
            for r in 0..n_sets {
                let cav = train_cav(&rows, &random.rows(&pool_rows, r), &options, rng)?;
                accuracies.push(cav.accuracy);
                sizes = (cav.n_train, cav.n_test);
            }
            let (accuracy_mean, accuracy_std) = mean_std(&accuracies);
            out.push(ProbeResult {
                concept: concept.clone(),
                layer,
                site: site.point.as_str().to_string(),
                pooling: pool.as_str().to_string(),
                accuracy_mean,
                accuracy_std,
                random_accuracy_mean: mean_std(&baseline).0,
                random_sets: n_sets,
                n_train: sizes.0,
                n_test: sizes.1,
            });
            progress.inc(1);
        }
    }
    Ok(out)
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
        .with_f64("random_accuracy_mean", num(&|r| r.random_accuracy_mean))?
        .with_u64("random_sets", int(&|r| r.random_sets))?
        .with_u64("n_train", int(&|r| r.n_train))?
        .with_u64("n_test", int(&|r| r.n_test))
}
