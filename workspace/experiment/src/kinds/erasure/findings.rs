//! What `[[erasure]]` found: probe accuracy before and after erasing each concept, and how
//! much the model's outputs moved.

use super::{Erasure, ErasureRow};
use crate::study::Study;
use cavern_runfolder::report::Finding;

/// One line per erasure row (study, concept, layer, site).
pub fn findings(rows: &[ErasureRow]) -> Vec<Finding> {
    rows.iter()
        .map(|r| {
            let task = if r.task_accuracy_before.is_finite() {
                format!(
                    ", task accuracy {:.3} → {:.3}",
                    r.task_accuracy_before, r.task_accuracy_after
                )
            } else {
                String::new()
            };
            Finding::new(
                Erasure::NAME,
                format!(
                    "{} erased at layer {} ({}, {}): probe accuracy {:.3} → {:.3}; {:.0}% of predictions unchanged{task}",
                    r.concept,
                    r.layer,
                    r.site,
                    r.method,
                    r.probe_before,
                    r.probe_after,
                    100.0 * r.agreement
                ),
            )
            .with("index", r.study)
            .with("concept", r.concept.as_str())
            .with("layer", r.layer)
            .with("site", r.site.as_str())
            .with("method", r.method.as_str())
            .with("probe_before", r.probe_before)
            .with("probe_after", r.probe_after)
            .with("agreement", r.agreement)
            .with("task_accuracy_before", r.task_accuracy_before)
            .with("task_accuracy_after", r.task_accuracy_after)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_accuracy_before_and_after() {
        let row = ErasureRow {
            study: 0,
            concept: "praise".into(),
            layer: 1,
            site: "resid_post".into(),
            method: "leace".into(),
            covariance: "sample".into(),
            rank: 1,
            n_per_class: 50,
            probe_before: 0.99,
            probe_after: 0.52,
            target: "class:positive".into(),
            n_inputs: 10,
            mean_abs_delta_p: 0.1,
            mean_total_variation: 0.1,
            agreement: 0.9,
            task_accuracy_before: f64::NAN,
            task_accuracy_after: f64::NAN,
        };
        let found = findings(&[row]);
        assert_eq!(
            found[0].text,
            "praise erased at layer 1 (resid_post, leace): probe accuracy 0.990 → 0.520; 90% of predictions unchanged"
        );
        assert_eq!(found[0].values["probe_after"], 0.52);
    }
}
