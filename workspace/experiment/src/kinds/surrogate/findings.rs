//! What `[[surrogate]]` found: per study, the student's held-out fidelity and the features its
//! rules use.

use super::{Surrogate, SurrogateOutput};
use crate::study::Study;
use cavern_runfolder::report::Finding;

/// One line per study.
pub fn findings(output: &SurrogateOutput) -> Vec<Finding> {
    (output.summary.iter())
        .map(|s| {
            let unused = if s.unused.is_empty() {
                String::new()
            } else {
                format!("; unused: {}", s.unused)
            };
            let text = format!(
                "study {}: a decision tree of depth {} over word sets agrees with the model on \
                 {:.1}% of {} held-out inputs (the commonest class alone: {:.1}%); its {} rules \
                 test {}{unused}",
                s.study,
                s.depth,
                100.0 * s.fidelity,
                s.n_test,
                100.0 * s.majority,
                s.leaves,
                if s.used.is_empty() {
                    "nothing"
                } else {
                    &s.used
                },
            );
            Finding::new(Surrogate::NAME, text)
                .with("index", s.study)
                .with("fidelity", s.fidelity)
                .with("majority", s.majority)
                .with("used", s.used.as_str())
                .with("unused", s.unused.as_str())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fidelity_against_the_majority_and_the_features_used() {
        let found = findings(&super::super::tests::output());
        assert_eq!(
            found[0].text,
            "study 0: a decision tree of depth 2 over word sets agrees with the model on 99.5% \
             of 200 held-out inputs (the commonest class alone: 52.0%); its 4 rules test \
             negation, positive; unused: colour"
        );
        assert_eq!(found[0].values["fidelity"], 0.995);
    }
}
