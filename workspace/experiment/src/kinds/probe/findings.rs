//! What `[[probe]]` found: the best-decodable layer of each concept (per site and pooling).

use super::{Probe, ProbeOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};

/// One line per (concept, site, pooling): the layer of highest mean CAV accuracy (the earliest
/// on a tie), with the random-vs-random baseline and the control-task selectivity where there is
/// one.
pub fn findings(output: &ProbeOutput) -> Vec<Finding> {
    group_by(&output.rows, |r| (&r.concept, &r.site, &r.pooling))
        .into_iter()
        .filter_map(|(_, rows)| {
            rows.into_iter()
                .reduce(|best, r| if r.accuracy_mean > best.accuracy_mean { r } else { best })
        })
        .map(|r| {
            let selectivity = if r.selectivity.is_finite() {
                format!(", selectivity {:.3}", r.selectivity)
            } else {
                String::new()
            };
            Finding::new(
                Probe::NAME,
                format!(
                    "{} is best decoded at layer {} ({}): accuracy {:.3} vs random {:.3}{selectivity}",
                    r.concept, r.layer, r.site, r.accuracy_mean, r.random_accuracy_mean
                ),
            )
            .with("concept", r.concept.as_str())
            .with("layer", r.layer)
            .with("site", r.site.as_str())
            .with("pooling", r.pooling.as_str())
            .with("accuracy_mean", r.accuracy_mean)
            .with("random_accuracy_mean", r.random_accuracy_mean)
            .with("selectivity", r.selectivity)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::probe::ProbeRow;

    fn row(concept: &str, layer: usize, accuracy_mean: f64, selectivity: f64) -> ProbeRow {
        ProbeRow {
            concept: concept.into(),
            layer,
            site: "resid_post".into(),
            pooling: "mean".into(),
            accuracy_mean,
            accuracy_std: 0.0,
            accuracy_ci_low: 0.0,
            accuracy_ci_high: 1.0,
            random_accuracy_mean: 0.48,
            control_accuracy: 0.5,
            selectivity,
            mi_bits: 0.9,
            mi_ci_low: 0.8,
            mi_ci_high: 1.0,
            mdl_compression: 2.0,
            control_mdl_compression: 0.9,
            random_sets: 50,
            n_train: 70,
            n_test: 30,
        }
    }

    #[test]
    fn the_most_accurate_layer_per_concept_earliest_on_a_tie() {
        let output = ProbeOutput {
            rows: vec![
                row("praise", 0, 0.90, 0.40),
                row("colour", 0, 0.95, f64::NAN),
                row("praise", 1, 0.99, 0.50),
                row("colour", 1, 0.95, f64::NAN),
            ],
            ..ProbeOutput::default()
        };
        let found = findings(&output);
        let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "praise is best decoded at layer 1 (resid_post): accuracy 0.990 vs random 0.480, selectivity 0.500",
                "colour is best decoded at layer 0 (resid_post): accuracy 0.950 vs random 0.480",
            ]
        );
        assert_eq!(found[0].values["layer"], 1);
        assert_eq!(found[1].values["selectivity"], serde_json::Value::Null);
    }
}
