//! Running a `[[neighbors]]`: example-based explanations in activation space. For each input, the `k`
//! reference examples whose pooled activation at the study's site is most similar (cosine, see
//! [`cavern_probe::examples::nearest`]); and MMD-critic prototypes and criticisms of the
//! reference set (see [`cavern_probe::examples::mmd_critic`]), with the median-distance RBF
//! bandwidth and the paper's log-determinant diversity term. The reference set is the study's
//! `[concepts]` sets, each example labelled by its set's name; when the model has classes every
//! input and example also gets the model's predicted class.

use super::spec::{NeighborsSpec, WitnessChoice};
use super::tables::{Neighbor, NeighborsOutput, Prototype};
use crate::engine::activations::TextSet;
use crate::engine::forward::{encode, output_rows};
use crate::engine::{StudyContext, StudyError};
use crate::study::Study;
use cavern_model::{LoadedModel, Site};
use cavern_probe::examples::{
    Bandwidth, MmdCriticOptions, Regularizer, WitnessSign, mmd_critic, nearest,
};

/// Runs a neighbors study; activations come from (and stay in) the run's cache.
pub(super) fn run(
    study: &NeighborsSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<NeighborsOutput, StudyError> {
    let (index, model, batch_size) = (cx.index, cx.model, cx.batch_size());
    cx.progress.set_message(format!("neighbors study {index}"));
    let site = match study.layer {
        Some(layer) => Site::new(study.site, layer),
        None => Site::global(study.site),
    };
    let mut examples: Vec<(String, String)> = Vec::new();
    let mut reference: Vec<Vec<f32>> = Vec::new();
    for name in &study.concepts {
        let texts = cx
            .experiment
            .concepts
            .get(name)
            .cloned()
            .unwrap_or_default();
        let set = TextSet::Concept(name.clone());
        reference.extend_from_slice(cx.activations.rows(&set, &texts, site, study.pooling)?);
        examples.extend(texts.into_iter().map(|t| (t, name.clone())));
    }
    let inputs = TextSet::Inputs {
        kind: super::Neighbors::NAME,
        study: index,
    };
    let inputs = (cx.activations)
        .rows(&inputs, &study.inputs, site, study.pooling)?
        .to_vec();
    let texts: Vec<String> = examples.iter().map(|(t, _)| t.clone()).collect();
    let example_classes = predicted_classes(model, &texts, batch_size)?;
    let input_classes = predicted_classes(model, &study.inputs, batch_size)?;
    let mut out = NeighborsOutput::default();
    for (input, ranked) in nearest(&inputs, &reference, study.k)
        .into_iter()
        .enumerate()
    {
        for (rank, n) in ranked.into_iter().enumerate() {
            out.neighbors.push(Neighbor {
                study: index,
                input,
                text: study.inputs[input].clone(),
                prediction: input_classes[input].clone(),
                rank: rank + 1,
                example: examples[n.index].0.clone(),
                label: examples[n.index].1.clone(),
                cosine: n.similarity,
                example_prediction: example_classes[n.index].clone(),
            });
        }
    }
    if study.prototypes > 0 {
        let options = MmdCriticOptions {
            prototypes: study.prototypes,
            criticisms: study.criticisms,
            bandwidth: Bandwidth::Median,
            regularizer: Regularizer::LogDet,
            sign: match study.witness {
                WitnessChoice::Positive => WitnessSign::Positive,
                WitnessChoice::Absolute => WitnessSign::Absolute,
            },
        };
        let critic = mmd_critic(&reference, &options);
        let kinds = [
            ("prototype", &critic.prototypes),
            ("criticism", &critic.criticisms),
        ];
        for (kind, chosen) in kinds {
            for (rank, &i) in chosen.iter().enumerate() {
                out.prototypes.push(Prototype {
                    study: index,
                    kind: kind.to_string(),
                    rank: rank + 1,
                    example: examples[i].0.clone(),
                    label: examples[i].1.clone(),
                    witness: critic.witness[i],
                    prediction: example_classes[i].clone(),
                });
            }
        }
    }
    cx.progress.inc(1);
    Ok(out)
}

/// The model's most likely class per text, `batch_size` texts per pass; empty strings when the
/// model has no classes.
fn predicted_classes(
    model: &LoadedModel,
    texts: &[String],
    batch_size: usize,
) -> Result<Vec<String>, StudyError> {
    let classes = model.class_names();
    if classes.is_empty() {
        return Ok(vec![String::new(); texts.len()]);
    }
    let rows = output_rows(model, &encode(model, texts)?, batch_size, &[])?;
    Ok(rows
        .iter()
        .map(|row| classes.get(row.predicted()).cloned().unwrap_or_default())
        .collect())
}
