//! What `[[influence]]` found: per study, the training example that most supports the first
//! input's prediction, and with `retrain`, how well the estimates rank leave-one-out changes.

use super::{Influence, InfluenceOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};

/// One line per study.
pub fn findings(output: &InfluenceOutput) -> Vec<Finding> {
    group_by(&output.summary, |s| s.study)
        .into_iter()
        .map(|(study, summary)| {
            let first = summary[0];
            let top = output.examples.iter().find(|r| {
                r.study == study && r.input == first.input && r.role == "helpful" && r.rank == 1
            });
            let mut text = format!("study {study}: {} inputs", summary.len());
            if let Some(top) = top {
                text += &format!(
                    "; the training example that most supports input {} ({}) is {:?} ({}), \
                     whose removal would move its log-odds by {:+.3}",
                    first.input, first.class, top.example_text, top.set, top.effect
                );
            }
            let rhos: Vec<f64> = (summary.iter().map(|s| s.spearman))
                .filter(|r| r.is_finite())
                .collect();
            let mut finding = Finding::new(Influence::NAME, String::new()).with("index", study);
            if !rhos.is_empty() {
                let lowest = rhos.iter().copied().fold(f64::INFINITY, f64::min);
                let mut sorted = rhos.clone();
                sorted.sort_by(f64::total_cmp);
                let median = (sorted[(sorted.len() - 1) / 2] + sorted[sorted.len() / 2]) / 2.0;
                text += &format!(
                    "; estimates against leave-one-out retraining: Spearman ρ ≥ {lowest:.3} \
                     (median {median:.3}) over the {} largest changes of each input",
                    first.compared
                );
                finding = finding.with("median_spearman", median);
                finding = finding.with("lowest_spearman", lowest);
            }
            if let Some(top) = top {
                finding = finding
                    .with("example_text", top.example_text.as_str())
                    .with("effect", top.effect);
            }
            finding.text = text;
            finding
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_top_helpful_example_and_the_lowest_correlation() {
        let found = findings(&super::super::tests::output());
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].text,
            "study 0: 2 inputs; the training example that most supports input 0 (good) is \
             \"superb film\" (good), whose removal would move its log-odds by -0.300; \
             estimates against leave-one-out retraining: Spearman ρ ≥ 0.850 (median 0.900) over the \
             12 largest changes of each input"
        );
        assert_eq!(found[0].values["lowest_spearman"], 0.85);
    }
}
