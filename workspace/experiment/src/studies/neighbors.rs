//! `[[neighbors]]`: example-based explanations in activation space. For each input, the `k`
//! reference examples whose pooled activation at the study's site is most similar (cosine, see
//! [`cavern_probe::examples::nearest`]); and MMD-critic prototypes and criticisms of the
//! reference set (see [`cavern_probe::examples::mmd_critic`]), with the median-distance RBF
//! bandwidth and the paper's log-determinant diversity term. The reference set is the study's
//! `[concepts]` sets, each example labelled by its set's name; when the model has classes every
//! input and example also gets the model's predicted class.

use super::{Activations, StudyError, TextSet};
use crate::schema::{NeighborsStudy, WitnessChoice};
use crate::table::{Table, TableError};
use burn::tensor::Tensor;
use cavern_model::{LoadedModel, NoHooks, Site};
use cavern_probe::ProbeError;
use cavern_probe::examples::{
    Bandwidth, MmdCriticOptions, Regularizer, WitnessSign, mmd_critic, nearest,
};
use indicatif::ProgressBar;
use serde::Serialize;
use std::collections::BTreeMap;

/// One (study, input, rank) row of the `neighbors` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Neighbor {
    /// Index of the `[[neighbors]]` study in the file, from 0.
    pub study: usize,
    /// Index of the input in the study's inputs, from 0.
    pub input: usize,
    /// The input text.
    pub text: String,
    /// The model's class for the input (empty when the model has no classes).
    pub prediction: String,
    /// 1 for the most similar example.
    pub rank: usize,
    /// The reference example.
    pub example: String,
    /// Its label: the `[concepts]` set it comes from.
    pub label: String,
    /// Cosine similarity of the two pooled activations.
    pub cosine: f64,
    /// The model's class for the example (empty when the model has no classes).
    pub example_prediction: String,
}

/// One (study, kind, rank) row of the `prototypes` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prototype {
    pub study: usize,
    /// `prototype` or `criticism`.
    pub kind: String,
    /// Order of selection, from 1.
    pub rank: usize,
    pub example: String,
    pub label: String,
    /// The MMD witness at the example for all the study's prototypes: positive where the
    /// prototypes under-represent the reference set, negative where they over-represent it.
    pub witness: f64,
    /// The model's class for the example (empty when the model has no classes).
    pub prediction: String,
}

/// The rows of every neighbors study.
#[derive(Debug, Clone, Default)]
pub struct NeighborsOutput {
    /// `neighbors` rows.
    pub neighbors: Vec<Neighbor>,
    /// `prototypes` rows.
    pub prototypes: Vec<Prototype>,
}

impl NeighborsOutput {
    /// Appends another study's rows.
    pub fn extend(&mut self, other: NeighborsOutput) {
        self.neighbors.extend(other.neighbors);
        self.prototypes.extend(other.prototypes);
    }
}

/// Runs the `index`-th neighbors study; activations come from (and stay in) the run's cache.
pub fn run(
    index: usize,
    study: &NeighborsStudy,
    experiment_concepts: &BTreeMap<String, Vec<String>>,
    activations: &mut Activations,
    progress: &ProgressBar,
) -> Result<NeighborsOutput, StudyError> {
    progress.set_message(format!("neighbors study {index}"));
    let model = activations.model();
    let batch_size = activations.batch_size();
    let site = match study.layer {
        Some(layer) => Site::new(study.site, layer),
        None => Site::global(study.site),
    };
    let mut examples: Vec<(String, String)> = Vec::new();
    let mut reference: Vec<Vec<f32>> = Vec::new();
    for name in &study.concepts {
        let texts = experiment_concepts.get(name).cloned().unwrap_or_default();
        let set = TextSet::Concept(name.clone());
        reference.extend_from_slice(activations.rows(&set, &texts, site, study.pooling)?);
        examples.extend(texts.into_iter().map(|t| (t, name.clone())));
    }
    let inputs = activations
        .rows(
            &TextSet::NeighborsInputs(index),
            &study.inputs,
            site,
            study.pooling,
        )?
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
    progress.inc(1);
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
    let mut out = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch_size.max(1)) {
        let batch = model.encode(chunk).map_err(ProbeError::from)?;
        let logits: Tensor<2> = model.transformer.forward(&batch, &mut NoHooks).logits;
        let [_, width] = logits.dims();
        let values = logits
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        for row in values.chunks_exact(width.max(1)) {
            let best = (0..row.len()).max_by(|&a, &b| row[a].total_cmp(&row[b]).then(b.cmp(&a)));
            out.push(
                best.and_then(|i| classes.get(i))
                    .cloned()
                    .unwrap_or_default(),
            );
        }
    }
    Ok(out)
}

/// The `neighbors` table.
pub fn neighbors_table(rows: &[Neighbor]) -> Result<Table, TableError> {
    let int = |f: fn(&Neighbor) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    let text = |f: fn(&Neighbor) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    Table::new("neighbors")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("input", int(|r| r.input))?
        .with_str("text", text(|r| &r.text))?
        .with_str("prediction", text(|r| &r.prediction))?
        .with_u64("rank", int(|r| r.rank))?
        .with_str("example", text(|r| &r.example))?
        .with_str("label", text(|r| &r.label))?
        .with_f64("cosine", rows.iter().map(|r| r.cosine).collect())?
        .with_str("example_prediction", text(|r| &r.example_prediction))
}

/// The `prototypes` table.
pub fn prototypes_table(rows: &[Prototype]) -> Result<Table, TableError> {
    let int = |f: fn(&Prototype) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    let text = |f: fn(&Prototype) -> &String| rows.iter().map(|r| f(r).clone()).collect();
    Table::new("prototypes")?
        .with_u64("study", int(|r| r.study))?
        .with_str("kind", text(|r| &r.kind))?
        .with_u64("rank", int(|r| r.rank))?
        .with_str("example", text(|r| &r.example))?
        .with_str("label", text(|r| &r.label))?
        .with_f64("witness", rows.iter().map(|r| r.witness).collect())?
        .with_str("prediction", text(|r| &r.prediction))
}
