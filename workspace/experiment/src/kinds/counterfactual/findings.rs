//! What `[[counterfactual]]` found: per study, the word swap that moves the target most.

use super::{Counterfactual, CounterfactualOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};

/// One line per study: its swap of largest |mean Δp|, with its flip rate.
pub fn findings(output: &CounterfactualOutput) -> Vec<Finding> {
    group_by(&output.swaps, |s| s.study)
        .into_iter()
        .filter_map(|(study, swaps)| {
            let s = swaps.into_iter().reduce(|best, s| {
                if s.mean_delta_p.abs() > best.mean_delta_p.abs() {
                    s
                } else {
                    best
                }
            })?;
            Some(
                Finding::new(
                    Counterfactual::NAME,
                    format!(
                        "study {study}: swapping {} {:?} → {:?} moves p({}) most, by {:+.3} on average, and flips {:.0}% of {} texts",
                        s.slot,
                        s.from,
                        s.to,
                        s.target,
                        s.mean_delta_p,
                        100.0 * s.flip_rate,
                        s.n_pairs
                    ),
                )
                .with("index", study)
                .with("slot", s.slot.as_str())
                .with("from", s.from.as_str())
                .with("to", s.to.as_str())
                .with("mean_delta_p", s.mean_delta_p)
                .with("flip_rate", s.flip_rate),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::counterfactual::CounterfactualSwap;

    fn swap(to: &str, mean_delta_p: f64, flip_rate: f64) -> CounterfactualSwap {
        CounterfactualSwap {
            study: 0,
            slot: "adjective".into(),
            from: "good".into(),
            to: to.into(),
            target: "class:positive".into(),
            n_pairs: 4,
            mean_delta_p,
            flip_rate,
        }
    }

    #[test]
    fn the_swap_that_moves_the_target_most() {
        let output = CounterfactualOutput {
            swaps: vec![
                swap("fine", -0.1, 0.0),
                swap("awful", -0.8, 0.75),
                swap("great", 0.05, 0.0),
            ],
            ..CounterfactualOutput::default()
        };
        let found = findings(&output);
        assert_eq!(
            found[0].text,
            "study 0: swapping adjective \"good\" → \"awful\" moves p(class:positive) most, by -0.800 on average, and flips 75% of 4 texts"
        );
        assert_eq!(found[0].values["flip_rate"], 0.75);
    }
}
