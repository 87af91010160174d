//! Running a `[[counterfactual]]`: minimal pairs from a template's slots. Every combination of the slot
//! values is a base text; each edit swaps one slot's value for another, and the prediction
//! change per edit is reported, and averaged per (slot, from, to) swap.

use super::spec::CounterfactualSpec;
use super::tables::{CounterfactualOutput, CounterfactualRow, CounterfactualSwap};
use crate::engine::forward::{encode, output_rows};
use crate::engine::outputs::{index_label, target_index, tracked_label};
use crate::engine::{StudyContext, StudyError};
use std::collections::BTreeMap;

/// Runs a counterfactual study: every rendered text once through the model, then every
/// one-slot edit of every text.
pub(super) fn run(
    study: &CounterfactualSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<CounterfactualOutput, StudyError> {
    let (index, model) = (cx.index, cx.model);
    cx.progress
        .set_message(format!("counterfactual study {index}"));
    let target = study
        .target
        .as_ref()
        .map(|t| target_index(model, t))
        .transpose()?;
    let outputs = output_rows(model, &encode(model, &study.texts)?, cx.batch_size(), &[])?;
    // The texts enumerate the slots' values as a mixed-radix number, the last slot fastest.
    let sizes: Vec<usize> = study.slots.iter().map(|(_, values)| values.len()).collect();
    let strides = strides(&sizes);
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
    cx.progress.inc(1);
    Ok(out)
}

/// How far apart in the texts two values of each slot are: the texts enumerate the slots'
/// values as a mixed-radix number with `sizes` digits, the last slot fastest.
fn strides(sizes: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; sizes.len()];
    for s in (0..sizes.len().saturating_sub(1)).rev() {
        strides[s] = strides[s + 1] * sizes[s + 1];
    }
    strides
}

#[cfg(test)]
mod tests {
    use super::strides;

    #[test]
    fn the_last_slot_varies_fastest() {
        assert_eq!(strides(&[2, 3, 2]), [6, 2, 1]);
        assert_eq!(strides(&[4]), [1]);
        assert!(strides(&[]).is_empty());
    }
}
