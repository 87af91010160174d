//! The texts a run used: every concept set, the random pool and each study's inputs, kept in the run folder as the `examples` table so the run stays readable after the
//! files move.

use crate::schema::Experiment;
use crate::table::{Table, TableError};
use serde::Serialize;

/// One named set of texts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExampleSet {
    /// `concept`, `random` (the pool), `tcav_inputs`, `attention_inputs`, `attribution_inputs`,
    /// `neighbors_inputs`, `pruning_prompts`, `steering_inputs`, `erasure_inputs` or
    /// `counterfactual_texts` (patching's prompt pairs are in `patching_pairs`).
    pub kind: String,
    /// Concept name, `pool`, or the study's index in the file among its kind (from 0).
    pub name: String,
    /// The texts, in file order.
    pub texts: Vec<String>,
}

/// Every set an experiment names, in file order: concepts, the pool, TCAV inputs, attention
/// inputs, attribution inputs, neighbors inputs, pruning prompts, steering and erasure inputs,
/// counterfactual texts.
pub fn example_sets(experiment: &Experiment) -> Vec<ExampleSet> {
    let set = |kind: &str, name: String, texts: &[String]| ExampleSet {
        kind: kind.to_string(),
        name,
        texts: texts.to_vec(),
    };
    let mut sets: Vec<ExampleSet> = experiment
        .concepts
        .iter()
        .map(|(name, texts)| set("concept", name.clone(), texts))
        .collect();
    if let Some(pool) = &experiment.random {
        sets.push(set("random", "pool".into(), &pool.examples));
    }
    for (i, study) in experiment.tcavs.iter().enumerate() {
        sets.push(set("tcav_inputs", i.to_string(), &study.inputs));
    }
    for (i, study) in experiment.attentions.iter().enumerate() {
        sets.push(set("attention_inputs", i.to_string(), &study.inputs));
    }
    for (i, study) in experiment.attributions.iter().enumerate() {
        sets.push(set("attribution_inputs", i.to_string(), &study.inputs));
    }
    for (i, study) in experiment.neighbors.iter().enumerate() {
        sets.push(set("neighbors_inputs", i.to_string(), &study.inputs));
    }
    for (i, study) in experiment.prunings.iter().enumerate() {
        let prompts: Vec<String> = study.prompts.iter().map(|p| p.clean.clone()).collect();
        sets.push(set("pruning_prompts", i.to_string(), &prompts));
    }
    for (i, study) in experiment.steerings.iter().enumerate() {
        sets.push(set("steering_inputs", i.to_string(), &study.inputs));
    }
    for (i, study) in experiment.erasures.iter().enumerate() {
        sets.push(set("erasure_inputs", i.to_string(), &study.inputs));
    }
    for (i, study) in experiment.counterfactuals.iter().enumerate() {
        sets.push(set("counterfactual_texts", i.to_string(), &study.texts));
    }
    sets
}

/// The `examples` table: one row per text.
pub fn table(sets: &[ExampleSet]) -> Result<Table, TableError> {
    let rows = || {
        sets.iter()
            .flat_map(|s| s.texts.iter().enumerate().map(move |(i, t)| (s, i, t)))
    };
    Table::new("examples")?
        .with_str("kind", rows().map(|(s, _, _)| s.kind.clone()).collect())?
        .with_str("set", rows().map(|(s, _, _)| s.name.clone()).collect())?
        .with_u64("index", rows().map(|(_, i, _)| i as u64).collect())?
        .with_str("text", rows().map(|(_, _, t)| t.clone()).collect())
}
