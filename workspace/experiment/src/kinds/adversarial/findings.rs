//! What `[[adversarial]]` found: per study, how many inputs flipped and with how many edits.

use super::{Adversarial, AdversarialOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};

/// One line per study: the inputs flipped within the budget, their mean number of edits and the
/// first flip, or that none flipped.
pub fn findings(output: &AdversarialOutput) -> Vec<Finding> {
    group_by(&output.rows, |r| r.study)
        .into_iter()
        .map(|(study, rows)| {
            let flipped: Vec<_> = rows.iter().filter(|r| r.flipped).collect();
            let mean_edits = flipped.iter().map(|r| r.edits as f64).sum::<f64>()
                / flipped.len().max(1) as f64;
            let example = flipped.first().map_or_else(String::new, |r| {
                format!(
                    "; e.g. {:?} → {:?} ({} → {}, p {:.3})",
                    r.text, r.edited, r.predicted, r.predicted_after, r.p_after
                )
            });
            let text = if flipped.is_empty() {
                format!(
                    "study {study}: no input of {} flipped within the edit budget",
                    rows.len()
                )
            } else {
                format!(
                    "study {study}: {} of {} inputs flipped, with {mean_edits:.2} edits on average{example}",
                    flipped.len(),
                    rows.len()
                )
            };
            Finding::new(Adversarial::NAME, text)
                .with("index", study)
                .with("inputs", rows.len())
                .with("flipped", flipped.len())
                .with("mean_edits", mean_edits)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::adversarial::AdversarialRow;

    fn row(input: usize, flipped: bool, edits: usize) -> AdversarialRow {
        AdversarialRow {
            study: 0,
            input,
            text: "the film was good".into(),
            predicted: "positive".into(),
            p_predicted: 0.99,
            edited: "the film was bad".into(),
            edits,
            edit_list: "3: good → bad".into(),
            predicted_after: if flipped { "negative" } else { "positive" }.into(),
            p_after: 0.98,
            p_original_after: 0.02,
            flipped,
            forward_passes: 12,
        }
    }

    #[test]
    fn flips_are_counted_and_none_is_said() {
        let output = AdversarialOutput {
            rows: vec![row(0, true, 1), row(1, false, 3), row(2, true, 2)],
            tokens: Vec::new(),
        };
        let found = findings(&output);
        assert_eq!(
            found[0].text,
            "study 0: 2 of 3 inputs flipped, with 1.50 edits on average; e.g. \"the film was good\" → \"the film was bad\" (positive → negative, p 0.980)"
        );
        assert_eq!(found[0].values["flipped"], 2);
        let output = AdversarialOutput {
            rows: vec![row(0, false, 3)],
            tokens: Vec::new(),
        };
        assert_eq!(
            findings(&output)[0].text,
            "study 0: no input of 1 flipped within the edit budget"
        );
    }
}
