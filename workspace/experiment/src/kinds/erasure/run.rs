//! Running an `[[erasure]]`: remove a concept from one layer — LEACE, or directional ablation of its CAV —
//! and report a fresh probe's held-out accuracy on the concept before and after, and how far
//! the model's outputs (and its `[head]`'s accuracy on the labelled sets) moved when the
//! eraser acts at that site on every token.

use super::spec::{ErasureCovariance, ErasureMethod, ErasureSpec};
use super::tables::ErasureRow;
use crate::engine::activations::TextSet;
use crate::engine::forward::{encode, output_rows};
use crate::engine::outputs::{target_index, tracked_label};
use crate::engine::{StudyContext, StudyError};
use crate::plan::{Experiment, default_cav_options};
use cavern_intervene::{Intervention, Op};
use cavern_model::{LoadedModel, Site};
use cavern_probe::leace::{Covariance, Eraser, erasure_accuracy, fit_leace};
use cavern_probe::mdl::ProbeOptions;
use cavern_probe::{ProbeError, train_cav};
use rand::RngExt;
use rand::seq::SliceRandom;

/// Runs an erasure study.
pub(super) fn run(
    study: &ErasureSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<Vec<ErasureRow>, StudyError> {
    let (index, model, experiment, random) = (cx.index, cx.model, cx.experiment, cx.random);
    cx.progress
        .set_message(format!("erasure {} L{}", study.concept, study.layer));
    let site = Site::new(study.site, study.layer);
    let texts = &experiment.concepts[&study.concept];
    let set = TextSet::Concept(study.concept.clone());
    let mut concept = cx
        .activations
        .rows(&set, texts, site, study.pooling)?
        .to_vec();
    let mut pool = (cx.activations)
        .rows(&TextSet::RandomPool, &random.pool, site, study.pooling)?
        .to_vec();
    let rng = &mut *cx.rng;
    // Balanced classes, so that chance is 50%.
    concept.shuffle(rng);
    pool.shuffle(rng);
    let n = concept.len().min(pool.len());
    let rows: Vec<Vec<f32>> = concept[..n].iter().chain(&pool[..n]).cloned().collect();
    let labels: Vec<usize> = (0..2 * n).map(|i| usize::from(i < n)).collect();
    let split = (study.holdout, rng.random());
    let options = ProbeOptions::default();
    let tracked = study
        .target
        .as_ref()
        .map(|t| target_index(model, t))
        .transpose()?;
    let batch_size = experiment.batch_size;
    let inputs = encode(model, &study.inputs)?;
    let original = output_rows(model, &inputs, batch_size, &[])?;
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
        let erased = output_rows(
            model,
            &inputs,
            batch_size,
            std::slice::from_ref(&intervention),
        )?;
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
        cx.progress.inc(1);
    }
    Ok(out)
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
    let interventions: Vec<Intervention> = intervention.into_iter().cloned().collect();
    let rows = output_rows(model, &encode(model, &texts)?, batch_size, &interventions)?;
    let correct = (rows.iter().zip(sets))
        .filter(|(row, (class, _))| row.predicted() == *class)
        .count();
    Ok(correct as f64 / sets.len().max(1) as f64)
}
