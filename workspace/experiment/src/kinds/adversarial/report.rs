//! The report's adversarial section: per study, each input with its edits marked in place
//! (the old token struck through, its substitute after it), the prediction before and after,
//! and the search's budget.

use super::tables::{AdversarialOutput, AdversarialToken};
use crate::views::token_pieces;
use cavern_runfolder::report::{ReportEnv, ReportError, group_by};
use minijinja::{Value, context};

const TEMPLATE: &str = include_str!("report.html.j2");

/// Inputs shown per study.
const SHOWN_INPUTS: usize = 25;

pub(super) fn section(output: &AdversarialOutput, env: &ReportEnv) -> Result<String, ReportError> {
    let studies: Vec<Value> = group_by(&output.rows, |r| r.study)
        .into_iter()
        .map(|(study, rows)| {
            let flipped = rows.iter().filter(|r| r.flipped).count();
            let n_inputs = rows.len();
            let inputs: Vec<Value> = (rows.into_iter().take(SHOWN_INPUTS))
                .map(|row| {
                    let mut tokens: Vec<&AdversarialToken> = (output.tokens.iter())
                        .filter(|t| t.study == study && t.input == row.input && !t.is_special)
                        .collect();
                    tokens.sort_by_key(|t| t.position);
                    context! { row, pieces => pieces(&tokens) }
                })
                .collect();
            context! { study, n_inputs, flipped, inputs }
        })
        .collect();
    env.render(TEMPLATE, context! { studies })
}

/// The input's tokens as text, each with its change: `kept`, `substituted` (with `new`) or
/// `deleted`.
fn pieces(tokens: &[&AdversarialToken]) -> Vec<Value> {
    let texts: Vec<&str> = tokens.iter().map(|t| t.token.as_str()).collect();
    let new: Vec<&str> = tokens.iter().map(|t| t.edited_token.as_str()).collect();
    let new_pieces = token_pieces(&new);
    (tokens.iter().zip(token_pieces(&texts)).zip(new_pieces))
        .map(|((t, (space, text)), (_, new))| context! { space, text, change => t.change, new })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::kinds::adversarial::{
        Adversarial, AdversarialOutput, AdversarialRow, AdversarialToken,
    };
    use crate::testing::section;

    fn token(position: usize, token: &str, change: &str, edited: &str) -> AdversarialToken {
        AdversarialToken {
            study: 0,
            input: 0,
            position,
            token: token.into(),
            is_special: false,
            change: change.into(),
            edited_token: edited.into(),
        }
    }

    #[test]
    fn edits_are_marked_in_place_and_escaped() {
        let output = AdversarialOutput {
            rows: vec![AdversarialRow {
                study: 0,
                input: 0,
                text: "the film was not <b>good</b>".into(),
                predicted: "negative".into(),
                p_predicted: 0.97,
                edited: "the film was <b>good</b>".into(),
                edits: 2,
                edit_list: "3: not → ∅; 4: <b> → <i>".into(),
                predicted_after: "positive".into(),
                p_after: 0.91,
                p_original_after: 0.09,
                flipped: true,
                forward_passes: 17,
            }],
            tokens: vec![
                token(0, "the", "kept", "the"),
                token(1, "film", "kept", "film"),
                token(2, "was", "kept", "was"),
                token(3, "not", "deleted", ""),
                token(4, "<b>", "substituted", "<i>"),
            ],
        };
        let html = section::<Adversarial>(output).expect("a section");
        assert!(html.contains("1 of 1 inputs flipped"), "{html}");
        assert!(html.contains(r#"<del class="tok">not</del>"#), "{html}");
        assert!(
            html.contains(r#"<del class="tok">&lt;b&gt;</del><ins class="tok">&lt;i&gt;</ins>"#),
            "{html}"
        );
        assert!(!html.contains("<b>") && !html.contains("<i>"), "{html}");
        assert!(
            html.contains("negative <span class=\"dim\">0.970</span>"),
            "{html}"
        );
        assert!(html.contains("<td class=\"num\">17</td>"), "{html}");
    }
}
