//! What `[[steering]]` found: per vector and layer, the smallest |α| that flips at least half
//! of the inputs' predictions (or the highest flip rate reached).

use super::{Steering, SteeringOutput, SteeringSummary};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};

/// The flip rate that counts as "flips".
const FLIPS: f64 = 0.5;

/// One line per (study, vector, layer, site, target), from the `steering_summary` rows.
pub fn findings(output: &SteeringOutput) -> Vec<Finding> {
    group_by(&output.summary, |r| {
        (r.study, &r.vector, r.layer, &r.site, &r.target)
    })
    .into_iter()
    .map(|((study, vector, layer, site, target), rows)| {
        let smallest = rows
            .iter()
            .filter(|r| r.alpha != 0.0 && r.flip_rate >= FLIPS)
            .min_by(|a, b| a.alpha.abs().total_cmp(&b.alpha.abs()));
        let head = format!("study {study}, {vector} at layer {layer} ({site}) on {target}");
        let finding = match smallest {
            Some(r) => Finding::new(
                Steering::NAME,
                format!(
                    "{head}: the smallest α that flips at least half of the inputs is {} (flip rate {:.2})",
                    r.alpha, r.flip_rate
                ),
            )
            .with("alpha", r.alpha)
            .with("flip_rate", r.flip_rate),
            None => {
                let most = rows
                    .iter()
                    .copied()
                    .reduce(|m, r| if r.flip_rate > m.flip_rate { r } else { m });
                let (alpha, rate) = most.map_or((f64::NAN, 0.0), |r: &SteeringSummary| (r.alpha, r.flip_rate));
                Finding::new(
                    Steering::NAME,
                    format!(
                        "{head}: no α tried flips half of the inputs (at most {rate:.2}, at α {alpha})"
                    ),
                )
                .with("alpha", Option::<f64>::None)
                .with("flip_rate", rate)
            }
        };
        finding
            .with("index", study)
            .with("vector", vector.as_str())
            .with("layer", layer)
            .with("site", site.as_str())
            .with("target", target.as_str())
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(layer: usize, alpha: f64, flip_rate: f64) -> SteeringSummary {
        SteeringSummary {
            study: 0,
            layer,
            site: "resid_post".into(),
            vector: "cav:praise".into(),
            target: "class:positive".into(),
            alpha,
            n_inputs: 10,
            flip_rate,
            mean_p_target: 0.5,
            mean_delta_p: 0.0,
            mean_logit_margin: 0.0,
            mean_kl: 0.0,
            mean_top_k_changed: 0.0,
            activation_scale: 1.0,
            vector_norm: 1.0,
            cav_accuracy: 0.9,
        }
    }

    #[test]
    fn the_smallest_flipping_alpha_per_vector_and_layer() {
        let output = SteeringOutput {
            summary: vec![
                summary(0, -4.0, 0.6),
                summary(0, 0.0, 0.0),
                summary(0, 2.0, 0.5),
                summary(0, 4.0, 0.9),
                summary(1, 2.0, 0.1),
                summary(1, 4.0, 0.3),
            ],
            ..SteeringOutput::default()
        };
        let found = findings(&output);
        let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "study 0, cav:praise at layer 0 (resid_post) on class:positive: the smallest α that flips at least half of the inputs is 2 (flip rate 0.50)",
                "study 0, cav:praise at layer 1 (resid_post) on class:positive: no α tried flips half of the inputs (at most 0.30, at α 4)",
            ]
        );
        assert_eq!(found[0].values["alpha"], 2.0);
        assert_eq!(found[1].values["alpha"], serde_json::Value::Null);
    }
}
