//! What `[[neighbors]]` found: how often each input's nearest example comes from the set the
//! model predicts, or else which sets the nearest examples come from.

use super::{Neighbors, NeighborsOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};

/// One line per study, from the rank-1 neighbours.
pub fn findings(output: &NeighborsOutput) -> Vec<Finding> {
    group_by(output.neighbors.iter().filter(|n| n.rank == 1), |n| n.study)
        .into_iter()
        .map(|(study, nearest)| {
            let agree = nearest
                .iter()
                .filter(|n| !n.prediction.is_empty() && n.prediction == n.example_prediction)
                .count();
            let cosine = nearest.iter().map(|n| n.cosine).sum::<f64>() / nearest.len() as f64;
            let sets: Vec<String> = group_by(&nearest, |n| &n.label)
                .into_iter()
                .map(|(label, ns)| format!("{label} ×{}", ns.len()))
                .collect();
            Finding::new(
                Neighbors::NAME,
                format!(
                    "study {study}: the nearest examples (mean cosine {cosine:.3}) come from {}; the model predicts the same class for {agree} of {} of them as for their input",
                    sets.join(", "),
                    nearest.len()
                ),
            )
            .with("index", study)
            .with("inputs", nearest.len())
            .with("same_prediction", agree)
            .with("mean_cosine", cosine)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::neighbors::Neighbor;

    fn neighbor(input: usize, rank: usize, label: &str, prediction: &str, cosine: f64) -> Neighbor {
        Neighbor {
            study: 0,
            input,
            text: String::new(),
            prediction: "positive".into(),
            rank,
            example: String::new(),
            label: label.into(),
            cosine,
            example_prediction: prediction.into(),
        }
    }

    #[test]
    fn the_nearest_examples_sets_and_agreement() {
        let output = NeighborsOutput {
            neighbors: vec![
                neighbor(0, 1, "praise", "positive", 0.9),
                neighbor(0, 2, "colour", "negative", 0.1),
                neighbor(1, 1, "praise", "negative", 0.7),
                neighbor(2, 1, "colour", "positive", 0.5),
            ],
            ..NeighborsOutput::default()
        };
        let found = findings(&output);
        assert_eq!(
            found[0].text,
            "study 0: the nearest examples (mean cosine 0.700) come from praise ×2, colour ×1; the model predicts the same class for 2 of 3 of them as for their input"
        );
        assert_eq!(found[0].values["same_prediction"], 2);
    }
}
