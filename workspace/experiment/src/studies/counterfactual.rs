//! `[[counterfactual]]`: minimal pairs from a template's slots. Every combination of the slot
//! values is a base text; each edit swaps one slot's value for another, and the prediction
//! change per edit is reported, and averaged per (slot, from, to) swap.

use super::StudyError;
use super::outputs::{OutputRow, index_label, target_index, tracked_label};
use super::steer::logit_rows;
use crate::schema::CounterfactualStudy;
use crate::table::{Table, TableError};
use cavern_intervene::Interventions;
use cavern_model::LoadedModel;
use cavern_probe::ProbeError;
use indicatif::ProgressBar;
use serde::Serialize;
use std::collections::BTreeMap;

/// One (study, base text, edit) row of the `counterfactuals` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterfactualRow {
    pub study: usize,
    pub base: String,
    pub edited: String,
    /// The slot swapped.
    pub slot: String,
    /// Its value in the base text.
    pub from: String,
    /// Its value in the edited text.
    pub to: String,
    /// What `p_before`/`p_after` track: a target's label, or `predicted` (the base prediction).
    pub target: String,
    pub predicted_before: String,
    pub predicted_after: String,
    pub p_before: f64,
    pub p_after: f64,
    /// `p_after − p_before`.
    pub delta_p: f64,
    /// Whether the prediction changed.
    pub flipped: bool,
}

/// One (study, slot, from, to) row of the `counterfactual_summary` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CounterfactualSwap {
    pub study: usize,
    pub slot: String,
    pub from: String,
    pub to: String,
    pub target: String,
    /// Base texts the swap was applied to.
    pub n_pairs: usize,
    pub mean_delta_p: f64,
    pub flip_rate: f64,
}

/// Everything counterfactual studies produce.
#[derive(Debug, Clone, Default)]
pub struct CounterfactualOutput {
    pub rows: Vec<CounterfactualRow>,
    pub swaps: Vec<CounterfactualSwap>,
}

impl CounterfactualOutput {
    /// Appends another study's rows.
    pub fn extend(&mut self, other: CounterfactualOutput) {
        self.rows.extend(other.rows);
        self.swaps.extend(other.swaps);
    }
}

/// Runs the `index`-th counterfactual study: every rendered text once through the model, then
/// every one-slot edit of every text.
pub fn run(
    index: usize,
    study: &CounterfactualStudy,
    model: &LoadedModel,
    batch_size: usize,
    progress: &ProgressBar,
) -> Result<CounterfactualOutput, StudyError> {
    progress.set_message(format!("counterfactual study {index}"));
    let target = study
        .target
        .as_ref()
        .map(|t| target_index(model, t))
        .transpose()?;
    let outputs = outputs(model, &study.texts, batch_size)?;
    // The texts enumerate the slots' values as a mixed-radix number, the last slot fastest.
    let mut strides = vec![1usize; study.slots.len()];
    for s in (0..study.slots.len().saturating_sub(1)).rev() {
        strides[s] = strides[s + 1] * study.slots[s + 1].1.len();
    }
    let target_name = tracked_label(study.target.as_ref());
    let mut out = CounterfactualOutput::default();
    let mut swaps: BTreeMap<(usize, usize, usize), Vec<(f64, bool)>> = BTreeMap::new();
    for (base, before) in outputs.iter().enumerate() {
        let tracked = target.unwrap_or_else(|| before.predicted());
        for (s, (slot, values)) in study.slots.iter().enumerate() {
            let current = (base / strides[s]) % values.len();
            for to in (0..values.len()).filter(|&v| v != current) {
                let edited = base + to * strides[s] - current * strides[s];
                let after = &outputs[edited];
                let row = CounterfactualRow {
                    study: index,
                    base: study.texts[base].clone(),
                    edited: study.texts[edited].clone(),
                    slot: slot.clone(),
                    from: values[current].clone(),
                    to: values[to].clone(),
                    target: target_name.clone(),
                    predicted_before: index_label(model, before.predicted()),
                    predicted_after: index_label(model, after.predicted()),
                    p_before: before.probs[tracked],
                    p_after: after.probs[tracked],
                    delta_p: after.probs[tracked] - before.probs[tracked],
                    flipped: after.predicted() != before.predicted(),
                };
                let entry = swaps.entry((s, current, to)).or_default();
                entry.push((row.delta_p, row.flipped));
                out.rows.push(row);
            }
        }
    }
    for ((s, from, to), edits) in swaps {
        let (slot, values) = &study.slots[s];
        let n = edits.len() as f64;
        out.swaps.push(CounterfactualSwap {
            study: index,
            slot: slot.clone(),
            from: values[from].clone(),
            to: values[to].clone(),
            target: target_name.clone(),
            n_pairs: edits.len(),
            mean_delta_p: edits.iter().map(|e| e.0).sum::<f64>() / n,
            flip_rate: edits.iter().filter(|e| e.1).count() as f64 / n,
        });
    }
    progress.inc(1);
    Ok(out)
}

fn outputs(
    model: &LoadedModel,
    texts: &[String],
    batch_size: usize,
) -> Result<Vec<OutputRow>, StudyError> {
    let mut rows = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch_size.max(1)) {
        let batch = model.encode(chunk).map_err(ProbeError::from)?;
        let logits = model
            .transformer
            .forward(&batch, &mut Interventions::default())
            .logits;
        rows.extend(logit_rows(logits));
    }
    Ok(rows)
}

/// The `counterfactuals` table.
pub fn rows_table(rows: &[CounterfactualRow]) -> Result<Table, TableError> {
    let text = |f: fn(&CounterfactualRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&CounterfactualRow) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    Table::new("counterfactuals")?
        .with_u64("study", rows.iter().map(|r| r.study as u64).collect())?
        .with_str("base", text(|r| r.base.clone()))?
        .with_str("edited", text(|r| r.edited.clone()))?
        .with_str("slot", text(|r| r.slot.clone()))?
        .with_str("from", text(|r| r.from.clone()))?
        .with_str("to", text(|r| r.to.clone()))?
        .with_str("target", text(|r| r.target.clone()))?
        .with_str("predicted_before", text(|r| r.predicted_before.clone()))?
        .with_str("predicted_after", text(|r| r.predicted_after.clone()))?
        .with_f64("p_before", num(|r| r.p_before))?
        .with_f64("p_after", num(|r| r.p_after))?
        .with_f64("delta_p", num(|r| r.delta_p))?
        .with_bool("flipped", rows.iter().map(|r| r.flipped).collect())
}

/// The `counterfactual_summary` table.
pub fn summary_table(rows: &[CounterfactualSwap]) -> Result<Table, TableError> {
    let text = |f: fn(&CounterfactualSwap) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&CounterfactualSwap) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    Table::new("counterfactual_summary")?
        .with_u64("study", rows.iter().map(|r| r.study as u64).collect())?
        .with_str("slot", text(|r| r.slot.clone()))?
        .with_str("from", text(|r| r.from.clone()))?
        .with_str("to", text(|r| r.to.clone()))?
        .with_str("target", text(|r| r.target.clone()))?
        .with_u64("n_pairs", rows.iter().map(|r| r.n_pairs as u64).collect())?
        .with_f64("mean_delta_p", num(|r| r.mean_delta_p))?
        .with_f64("flip_rate", num(|r| r.flip_rate))
}
