//! What `[[tcav]]` found: each significant (concept, target, layer, site) cell with its TCAV
//! score and adjusted p, and the concepts significant at none of the layers tested.

use super::{Tcav, TcavOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by, pvalue};

/// The findings of the `tcav` rows: significant cells, strongest (smallest adjusted p) first,
/// then one line per (concept, target) never significant.
pub fn findings(output: &TcavOutput) -> Vec<Finding> {
    let mut significant: Vec<_> = output.rows.iter().filter(|r| r.significant).collect();
    significant.sort_by(|a, b| a.p_adjusted.total_cmp(&b.p_adjusted));
    let mut found: Vec<Finding> = significant
        .into_iter()
        .map(|r| {
            let direction = if r.tcav_mean >= 0.5 {
                "raises"
            } else {
                "lowers"
            };
            Finding::new(
                Tcav::NAME,
                format!(
                    "{} {direction} {} at layer {} ({}): TCAV {:.3} vs random {:.3}, adjusted p {}",
                    r.concept,
                    r.target,
                    r.layer,
                    r.site,
                    r.tcav_mean,
                    r.random_mean,
                    pvalue(r.p_adjusted)
                ),
            )
            .with("concept", r.concept.as_str())
            .with("target", r.target.as_str())
            .with("layer", r.layer)
            .with("site", r.site.as_str())
            .with("significant", true)
            .with("tcav_mean", r.tcav_mean)
            .with("random_mean", r.random_mean)
            .with("p_adjusted", r.p_adjusted)
        })
        .collect();
    for ((concept, target), rows) in group_by(&output.rows, |r| (&r.concept, &r.target)) {
        if rows.iter().any(|r| r.significant) {
            continue;
        }
        let layers: Vec<String> = rows.iter().map(|r| r.layer.to_string()).collect();
        let smallest = rows
            .iter()
            .map(|r| r.p_adjusted)
            .min_by(f64::total_cmp)
            .unwrap_or(f64::NAN);
        found.push(
            Finding::new(
                Tcav::NAME,
                format!(
                    "{concept} is never significant for {target} (layers {}; smallest adjusted p {})",
                    layers.join(", "),
                    pvalue(smallest)
                ),
            )
            .with("concept", concept.as_str())
            .with("target", target.as_str())
            .with("significant", false)
            .with("p_adjusted", smallest),
        );
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::tcav::TcavRow;

    fn row(concept: &str, layer: usize, tcav_mean: f64, p_adjusted: f64) -> TcavRow {
        TcavRow {
            site: "resid_pre".into(),
            tcav_mean,
            tcav_ci_low: 0.0,
            tcav_ci_high: 1.0,
            p_value: p_adjusted / 4.0,
            p_adjusted,
            ..crate::kinds::tcav::tests::row(concept, layer, p_adjusted < 0.05)
        }
    }

    #[test]
    fn significant_cells_strongest_first_then_concepts_never_significant() {
        let output = TcavOutput {
            rows: vec![
                row("praise", 0, 0.278, 7.5e-5),
                row("colour", 0, 0.423, 0.43),
                row("praise", 1, 0.920, 4.1e-9),
                row("colour", 1, 0.493, 1.0),
            ],
            ..TcavOutput::default()
        };
        let found = findings(&output);
        let texts: Vec<&str> = found.iter().map(|f| f.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "praise raises class:positive at layer 1 (resid_pre): TCAV 0.920 vs random 0.500, adjusted p 4.1e-9",
                "praise lowers class:positive at layer 0 (resid_pre): TCAV 0.278 vs random 0.500, adjusted p 7.5e-5",
                "colour is never significant for class:positive (layers 0, 1; smallest adjusted p 0.430)",
            ]
        );
        assert_eq!(found[0].values["layer"], 1);
        assert_eq!(found[0].values["tcav_mean"], 0.92);
        assert_eq!(found[2].values["significant"], false);
        assert!(found.iter().all(|f| f.study == "tcav"));
    }
}
