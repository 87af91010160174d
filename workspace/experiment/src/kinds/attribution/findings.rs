//! What `[[attribution]]` found: per study, method and target, the token that moves each input's
//! target most, either way.

use super::{Attribution, AttributionOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};
use serde_json::json;

/// Inputs named per line.
const SHOWN: usize = 3;

/// One line per (study, method, target): the non-special token of largest attribution in
/// magnitude (its sign kept) of each of the first [`SHOWN`] inputs.
pub fn findings(output: &AttributionOutput) -> Vec<Finding> {
    group_by(&output.tokens, |t| (t.study, &t.method, &t.target))
        .into_iter()
        .map(|((study, method, target), tokens)| {
            let tops: Vec<_> = group_by(tokens, |t| t.input)
                .into_iter()
                .take(SHOWN)
                .filter_map(|(_, tokens)| {
                    tokens
                        .into_iter()
                        .filter(|t| !t.is_special)
                        .reduce(|top, t| {
                            if t.attribution.abs() > top.attribution.abs() {
                                t
                            } else {
                                top
                            }
                        })
                })
                .collect();
            let named: Vec<String> = tops
                .iter()
                .map(|t| format!("{:?} ({:+.3}) in input {}", t.token, t.attribution, t.input))
                .collect();
            Finding::new(
                Attribution::NAME,
                format!(
                    "study {study}, {method} on {target}: the tokens that move it most are {}",
                    named.join(", ")
                ),
            )
            .with("index", study)
            .with("method", method.as_str())
            .with("target", target.as_str())
            .with(
                "tokens",
                tops.iter()
                    .map(|t| {
                        json!({"input": t.input, "position": t.position, "token": t.token,
                        "attribution": t.attribution})
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::attribution::TokenAttribution;

    fn token(input: usize, position: usize, token: &str, attribution: f64) -> TokenAttribution {
        TokenAttribution {
            study: 0,
            input,
            text: String::new(),
            target: "class:positive".into(),
            position,
            token: token.into(),
            is_special: token.starts_with('['),
            method: "saliency".into(),
            attribution,
            std_error: f64::NAN,
        }
    }

    #[test]
    fn the_non_special_token_of_largest_magnitude_of_each_input() {
        let output = AttributionOutput {
            tokens: vec![
                token(0, 0, "[CLS]", 9.0),
                token(0, 1, "great", 0.8),
                token(0, 2, "film", 0.1),
                token(1, 0, "dull", -0.5),
                token(1, 1, "plot", 0.2),
            ],
            ..AttributionOutput::default()
        };
        let found = findings(&output);
        assert_eq!(
            found[0].text,
            "study 0, saliency on class:positive: the tokens that move it most are \"great\" (+0.800) in input 0, \"dull\" (-0.500) in input 1"
        );
        assert_eq!(found[0].values["tokens"][1]["position"], 0);
    }
}
