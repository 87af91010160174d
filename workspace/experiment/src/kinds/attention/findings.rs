//! What `[[attention]]` found: per study, the most focused head and the strongest
//! previous-token head.

use super::{Attention, AttentionHeadRow, AttentionOutput};
use crate::study::Study;
use cavern_runfolder::report::{Finding, group_by};

/// One line per study, from the `attention_heads` rows.
pub fn findings(output: &AttentionOutput) -> Vec<Finding> {
    group_by(&output.heads, |h| h.study)
        .into_iter()
        .filter_map(|(study, heads)| {
            let focused = highest(&heads, |h| h.quality_mean)?;
            let previous = highest(&heads, |h| h.previous_mean)?;
            Some(
                Finding::new(
                    Attention::NAME,
                    format!(
                        "study {study}: the most focused head is {}.{} (quality {:.3}, entropy {:.3}); the strongest previous-token head is {}.{} ({:.3} of its weight on the token before)",
                        focused.layer,
                        focused.head,
                        focused.quality_mean,
                        focused.entropy_mean,
                        previous.layer,
                        previous.head,
                        previous.previous_mean
                    ),
                )
                .with("index", study)
                .with("focused_layer", focused.layer)
                .with("focused_head", focused.head)
                .with("quality_mean", focused.quality_mean)
                .with("previous_layer", previous.layer)
                .with("previous_head", previous.head)
                .with("previous_mean", previous.previous_mean),
            )
        })
        .collect()
}

/// The head of highest finite `value` (the first on a tie).
fn highest<'a>(
    heads: &[&'a AttentionHeadRow],
    value: impl Fn(&AttentionHeadRow) -> f64,
) -> Option<&'a AttentionHeadRow> {
    heads
        .iter()
        .copied()
        .filter(|h| value(h).is_finite())
        .reduce(|best, h| if value(h) > value(best) { h } else { best })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(layer: usize, head: usize, quality_mean: f64, previous_mean: f64) -> AttentionHeadRow {
        AttentionHeadRow {
            study: 0,
            layer,
            head,
            n_inputs: 4,
            min_tokens: 3,
            max_tokens: 5,
            entropy_mean: 1.0 - quality_mean,
            entropy_std: 0.0,
            quality_mean,
            quality_std: 0.0,
            self_mean: 0.1,
            previous_mean,
            first_mean: 0.1,
            special_mean: 0.0,
            average_pattern: "off".into(),
        }
    }

    #[test]
    fn the_most_focused_and_the_previous_token_head() {
        let output = AttentionOutput {
            heads: vec![
                head(0, 0, 0.5, 0.9),
                head(0, 1, 0.75, 0.2),
                head(1, 0, f64::NAN, 0.1),
            ],
            ..AttentionOutput::default()
        };
        let found = findings(&output);
        assert_eq!(
            found[0].text,
            "study 0: the most focused head is 0.1 (quality 0.750, entropy 0.250); the strongest previous-token head is 0.0 (0.900 of its weight on the token before)"
        );
        assert_eq!(found[0].values["focused_head"], 1);
    }
}
