//! `[[erasure]]`: remove a concept from one layer — LEACE, or directional ablation of its CAV —
//! and report a fresh probe's held-out accuracy on the concept before and after, and how far
//! the model's outputs (and its `[head]`'s accuracy on the labelled sets) moved when the
//! eraser acts at that site on every token.

use super::outputs::{OutputRow, target_index, tracked_label};
use super::steer::logit_rows;
use super::steering_vector::default_cav_options;
use super::{Activations, RandomSets, StudyError, TextSet};
use crate::schema::{ErasureCovariance, ErasureMethod, ErasureStudy, Experiment};
use crate::table::{Table, TableError};
use cavern_intervene::{Intervention, Interventions, Op};
use cavern_model::{LoadedModel, Site};
use cavern_probe::leace::{Covariance, Eraser, erasure_accuracy, fit_leace};
use cavern_probe::mdl::ProbeOptions;
use cavern_probe::{ProbeError, train_cav};
use indicatif::ProgressBar;
use rand::RngExt;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One (study, method) row of the `erasure` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErasureRow {
    pub study: usize,
    pub concept: String,
    pub layer: usize,
    pub site: String,
    /// `leace` or `project_out`.
    pub method: String,
    /// LEACE's covariance estimate (`ledoit_wolf` or `sample`; empty for `project_out`).
    pub covariance: String,
    /// Directions the eraser removes.
    pub rank: usize,
    /// Examples per class (concept, random) the probe and the eraser see.
    pub n_per_class: usize,
    /// A fresh probe's held-out accuracy on concept vs random, before erasure.
    pub probe_before: f64,
    /// The same on the erased activations (eraser fitted on the training split).
    pub probe_after: f64,
    /// What `mean_abs_delta_p` tracks: a target's label, or `predicted`.
    pub target: String,
    pub n_inputs: usize,
    /// Mean |Δ probability| of the tracked output over the inputs, erased at the site.
    pub mean_abs_delta_p: f64,
    /// Mean total-variation distance between the erased and original output distributions.
    pub mean_total_variation: f64,
    /// Fraction of inputs whose prediction is unchanged.
    pub agreement: f64,
    /// The `[head]`'s accuracy on its labelled sets without erasure (NaN without a head).
    pub task_accuracy_before: f64,
    /// The same with the eraser at the site.
    pub task_accuracy_after: f64,
}

/// Runs the `index`-th erasure study.
pub fn run(
    index: usize,
    study: &ErasureStudy,
    experiment: &Experiment,
    random: &RandomSets,
    activations: &mut Activations,
    rng: &mut ChaCha8Rng,
    progress: &ProgressBar,
) -> Result<Vec<ErasureRow>, StudyError> {
    progress.set_message(format!("erasure {} L{}", study.concept, study.layer));
    let site = Site::new(study.site, study.layer);
    let texts = &experiment.concepts[&study.concept];
    let set = TextSet::Concept(study.concept.clone());
    let mut concept = activations.rows(&set, texts, site, study.pooling)?.to_vec();
    let mut pool = activations
        .rows(&TextSet::RandomPool, &random.pool, site, study.pooling)?
        .to_vec();
    // Balanced classes, so that chance is 50%.
    concept.shuffle(rng);
    pool.shuffle(rng);
    let n = concept.len().min(pool.len());
    let rows: Vec<Vec<f32>> = concept[..n].iter().chain(&pool[..n]).cloned().collect();
    let labels: Vec<usize> = (0..2 * n).map(|i| usize::from(i < n)).collect();
    let split = (study.holdout, rng.random());
    let options = ProbeOptions::default();
    let model = activations.model();
    let tracked = study
        .target
        .as_ref()
        .map(|t| target_index(model, t))
        .transpose()?;
    let batch_size = activations.batch_size();
    let inputs = encode(model, &study.inputs)?;
    let original = outputs(model, &inputs, None, batch_size)?;
    let labelled = labelled_sets(experiment);
    let mut task_before = f64::NAN;
    if let Some(sets) = &labelled {
        task_before = task_accuracy(model, sets, None, batch_size)?;
    }
    let covariance = match study.covariance {
        ErasureCovariance::LedoitWolf => Covariance::LedoitWolf,
        ErasureCovariance::Sample => Covariance::Sample,
    };
    let mut out = Vec::new();
    for &method in &study.methods {
        let mut fit = |rows: &[Vec<f32>], labels: &[usize]| -> Result<Eraser, ProbeError> {
            match method {
                ErasureMethod::Leace => fit_leace(rows, labels, 2, covariance),
                ErasureMethod::ProjectOut => {
                    let pick = |class| -> Vec<Vec<f32>> {
                        (rows.iter().zip(labels))
                            .filter(|(_, l)| **l == class)
                            .map(|(r, _)| r.clone())
                            .collect()
                    };
                    let cav = train_cav(&pick(1), &pick(0), &default_cav_options(), rng)?;
                    Eraser::project_out(&cav.direction)
                }
            }
        };
        let accuracy = erasure_accuracy(&rows, &labels, 2, split, &options, &mut fit)?;
        let eraser = fit(&rows, &labels)?;
        let intervention = Intervention::new(
            site,
            Op::Erase {
                mean: eraser.mean.clone(),
                matrix: eraser.matrix.clone(),
            },
        );
        let erased = outputs(model, &inputs, Some(&intervention), batch_size)?;
        let (mut delta, mut tv, mut same) = (0.0, 0.0, 0usize);
        for (before, after) in original.iter().zip(&erased) {
            let t = tracked.unwrap_or_else(|| before.predicted());
            delta += (after.probs[t] - before.probs[t]).abs();
            tv += after.total_variation(before);
            same += usize::from(after.predicted() == before.predicted());
        }
        let count = original.len().max(1) as f64;
        let mut task_after = f64::NAN;
        if let Some(sets) = &labelled {
            task_after = task_accuracy(model, sets, Some(&intervention), batch_size)?;
        }
        out.push(ErasureRow {
            study: index,
            concept: study.concept.clone(),
            layer: study.layer,
            site: study.site.as_str().to_owned(),
            method: method.as_str().to_owned(),
            covariance: match method {
                ErasureMethod::Leace => study.covariance.as_str().to_owned(),
                ErasureMethod::ProjectOut => String::new(),
            },
            rank: eraser.rank,
            n_per_class: n,
            probe_before: accuracy.before,
            probe_after: accuracy.after,
            target: tracked_label(study.target.as_ref()),
            n_inputs: original.len(),
            mean_abs_delta_p: delta / count,
            mean_total_variation: tv / count,
            agreement: same as f64 / count,
            task_accuracy_before: task_before,
            task_accuracy_after: task_after,
        });
        progress.inc(1);
    }
    Ok(out)
}

fn encode(model: &LoadedModel, texts: &[String]) -> Result<Vec<Vec<u32>>, StudyError> {
    let encodings = model.encode_texts(texts).map_err(ProbeError::from)?;
    Ok(encodings.into_iter().map(|e| e.ids).collect())
}

/// Output rows of `inputs`, with `intervention` applied when given.
fn outputs(
    model: &LoadedModel,
    inputs: &[Vec<u32>],
    intervention: Option<&Intervention>,
    batch_size: usize,
) -> Result<Vec<OutputRow>, StudyError> {
    let mut rows = Vec::with_capacity(inputs.len());
    for chunk in inputs.chunks(batch_size.max(1)) {
        let mut hooks = Interventions::new(intervention.into_iter().cloned().collect());
        let logits = model
            .transformer
            .forward(&model.batch(chunk.to_vec()), &mut hooks)
            .logits;
        hooks.check().map_err(ProbeError::from)?;
        rows.extend(logit_rows(logits));
    }
    Ok(rows)
}

/// The `[head]`'s labelled texts, `(class index, text)`, when the experiment has a head.
fn labelled_sets(experiment: &Experiment) -> Option<Vec<(usize, String)>> {
    experiment.head.as_ref().map(|head| {
        (head.classes.iter().enumerate())
            .flat_map(|(c, class)| {
                experiment.concepts[class]
                    .iter()
                    .map(move |t| (c, t.clone()))
            })
            .collect()
    })
}

/// Fraction of the labelled texts predicted as their class.
fn task_accuracy(
    model: &LoadedModel,
    sets: &[(usize, String)],
    intervention: Option<&Intervention>,
    batch_size: usize,
) -> Result<f64, StudyError> {
    let texts: Vec<String> = sets.iter().map(|(_, t)| t.clone()).collect();
    let rows = outputs(model, &encode(model, &texts)?, intervention, batch_size)?;
    let correct = (rows.iter().zip(sets))
        .filter(|(row, (class, _))| row.predicted() == *class)
        .count();
    Ok(correct as f64 / sets.len().max(1) as f64)
}

/// The `erasure` table.
pub fn table(rows: &[ErasureRow]) -> Result<Table, TableError> {
    let text = |f: fn(&ErasureRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&ErasureRow) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let int = |f: fn(&ErasureRow) -> usize| rows.iter().map(|r| f(r) as u64).collect::<Vec<_>>();
    Table::new("erasure")?
        .with_u64("study", int(|r| r.study))?
        .with_str("concept", text(|r| r.concept.clone()))?
        .with_u64("layer", int(|r| r.layer))?
        .with_str("site", text(|r| r.site.clone()))?
        .with_str("method", text(|r| r.method.clone()))?
        .with_str("covariance", text(|r| r.covariance.clone()))?
        .with_u64("rank", int(|r| r.rank))?
        .with_u64("n_per_class", int(|r| r.n_per_class))?
        .with_f64("probe_before", num(|r| r.probe_before))?
        .with_f64("probe_after", num(|r| r.probe_after))?
        .with_str("target", text(|r| r.target.clone()))?
        .with_u64("n_inputs", int(|r| r.n_inputs))?
        .with_f64("mean_abs_delta_p", num(|r| r.mean_abs_delta_p))?
        .with_f64("mean_total_variation", num(|r| r.mean_total_variation))?
        .with_f64("agreement", num(|r| r.agreement))?
        .with_f64("task_accuracy_before", num(|r| r.task_accuracy_before))?
        .with_f64("task_accuracy_after", num(|r| r.task_accuracy_after))
}
