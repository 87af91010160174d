//! The greedy search for a small edit that flips a classifier's decision.
//!
//! From the input, each step ranks substitutions with the oracle's first-order scores (HotFlip,
//! see [`super::hotflip`]), checks the `candidates` best of them and every deletion with exact
//! forward passes (one batch), and keeps the edited text with the smallest decision margin
//! logit[decision] − max of the other logits. It stops at the first step whose best text is
//! classified otherwise (flipped), or after `max_edits` steps. A token is edited at most once,
//! and special tokens never.

use crate::engine::StudyError;
use crate::engine::outputs::OutputRow;

/// One edit of the input: the token at `position` (of the input) substituted by `to`, or
/// deleted (`None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit {
    /// Position of the edited token in the input.
    pub position: usize,
    /// Its substitute; `None` for a deletion.
    pub to: Option<u32>,
}

/// What the search asks of the model.
pub trait Oracle {
    /// The output row of each token sequence.
    fn outputs(&mut self, ids: &[Vec<u32>]) -> Result<Vec<OutputRow>, StudyError>;

    /// At most `k` substitutions `(position in ids, new token)` at the `editable` positions,
    /// those predicted to lower logit[decision] − logit[runner_up] most first.
    fn swaps(
        &mut self,
        ids: &[u32],
        editable: &[usize],
        decision: usize,
        runner_up: usize,
        k: usize,
    ) -> Result<Vec<(usize, u32)>, StudyError>;
}

/// An edited text on the search's way.
#[derive(Debug, Clone, PartialEq)]
pub struct Edited {
    /// Its token ids.
    pub ids: Vec<u32>,
    /// The input position of each of its tokens.
    pub origin: Vec<usize>,
    /// The edits that made it from the input, in order.
    pub edits: Vec<Edit>,
    /// Its output row.
    pub output: OutputRow,
}

impl Edited {
    /// This text with the token at `t` (of its own tokens) substituted by `to`, or deleted.
    fn with(&self, t: usize, to: Option<u32>) -> (Vec<u32>, Vec<usize>, Vec<Edit>) {
        let (mut ids, mut origin, mut edits) =
            (self.ids.clone(), self.origin.clone(), self.edits.clone());
        edits.push(Edit {
            position: origin[t],
            to,
        });
        match to {
            Some(token) => ids[t] = token,
            None => {
                ids.remove(t);
                origin.remove(t);
            }
        }
        (ids, origin, edits)
    }
}

/// What the search found for one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// The last text kept: the flipped one, or the best reached.
    pub best: Edited,
    /// Whether its decision differs from the input's.
    pub flipped: bool,
}

/// Searches for the fewest edits (at most `max_edits`) of `ids` that change the class `oracle`
/// predicts, `candidates` substitutions and every deletion per step; `special` marks tokens
/// never edited, `output` is the input's output row.
pub fn greedy(
    oracle: &mut dyn Oracle,
    ids: &[u32],
    special: &[bool],
    output: OutputRow,
    max_edits: usize,
    candidates: usize,
) -> Result<Found, StudyError> {
    let decision = output.predicted();
    let mut best = Edited {
        ids: ids.to_vec(),
        origin: (0..ids.len()).collect(),
        edits: Vec::new(),
        output,
    };
    for _ in 0..max_edits {
        let editable: Vec<usize> = (0..best.ids.len())
            .filter(|&t| {
                let origin = best.origin[t];
                !special.get(origin).copied().unwrap_or(false)
                    && !best.edits.iter().any(|e| e.position == origin)
            })
            .collect();
        if editable.is_empty() {
            break;
        }
        let runner_up = best
            .output
            .top(2)
            .into_iter()
            .find(|&c| c != decision)
            .unwrap_or(decision);
        let swaps = oracle.swaps(&best.ids, &editable, decision, runner_up, candidates)?;
        let tries: Vec<(usize, Option<u32>)> = (swaps.into_iter().map(|(t, to)| (t, Some(to))))
            .chain(editable.iter().map(|&t| (t, None)))
            .collect();
        let texts: Vec<(Vec<u32>, Vec<usize>, Vec<Edit>)> =
            tries.iter().map(|&(t, to)| best.with(t, to)).collect();
        let ids: Vec<Vec<u32>> = texts.iter().map(|(ids, _, _)| ids.clone()).collect();
        let outputs = oracle.outputs(&ids)?;
        // The smallest margin; the first tried on ties.
        let chosen = (texts.into_iter().zip(outputs))
            .map(|((ids, origin, edits), output)| Edited {
                ids,
                origin,
                edits,
                output,
            })
            .reduce(|kept, next| {
                let margin = |e: &Edited| e.output.logit_margin(decision);
                if margin(&next) < margin(&kept) {
                    next
                } else {
                    kept
                }
            });
        let Some(chosen) = chosen else { break };
        best = chosen;
        if best.output.predicted() != decision {
            return Ok(Found {
                best,
                flipped: true,
            });
        }
    }
    Ok(Found {
        best,
        flipped: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bag-of-words classifier: logit 1 − logit 0 is the sum of the tokens' weights, so a
    /// substitution's first-order score is exact.
    struct Linear {
        weights: Vec<f32>,
        rows: usize,
    }

    impl Linear {
        fn row(&self, ids: &[u32]) -> OutputRow {
            let sum: f32 = ids.iter().map(|&id| self.weights[id as usize]).sum();
            OutputRow::new(vec![0.0, sum])
        }
    }

    impl Oracle for Linear {
        fn outputs(&mut self, ids: &[Vec<u32>]) -> Result<Vec<OutputRow>, StudyError> {
            self.rows += ids.len();
            Ok(ids.iter().map(|ids| self.row(ids)).collect())
        }

        fn swaps(
            &mut self,
            ids: &[u32],
            editable: &[usize],
            decision: usize,
            _runner_up: usize,
            k: usize,
        ) -> Result<Vec<(usize, u32)>, StudyError> {
            let sign = if decision == 1 { 1.0 } else { -1.0 };
            let mut all: Vec<(f32, usize, u32)> = Vec::new();
            for &t in editable {
                for to in 0..self.weights.len() as u32 {
                    if to != ids[t] {
                        let change = self.weights[to as usize] - self.weights[ids[t] as usize];
                        all.push((sign * change, t, to));
                    }
                }
            }
            all.sort_by(|a, b| a.0.total_cmp(&b.0));
            Ok(all.into_iter().take(k).map(|(_, t, to)| (t, to)).collect())
        }
    }

    /// Token 0 is special (weight 0); 1 and 2 are mildly positive, 3 strongly, 4 neutral, 5
    /// negative.
    fn oracle() -> Linear {
        Linear {
            weights: vec![0.0, 1.0, 1.0, 5.0, 0.0, -3.0],
            rows: 0,
        }
    }

    fn search(ids: &[u32], max_edits: usize, candidates: usize) -> (Found, usize) {
        let mut oracle = oracle();
        let special: Vec<bool> = ids.iter().map(|&id| id == 0).collect();
        let output = oracle.row(ids);
        let found = greedy(&mut oracle, ids, &special, output, max_edits, candidates).unwrap();
        (found, oracle.rows)
    }

    #[test]
    fn one_edit_flips_when_one_can_and_the_strongest_is_taken() {
        // Sum 1 + 5 + 0 = 6: swapping the 3 for the 5 gives 1 − 3 = −2, the smallest.
        let (found, rows) = search(&[0, 1, 3, 4, 0], 3, 2);
        assert!(found.flipped);
        assert_eq!(
            found.best.edits,
            [Edit {
                position: 2,
                to: Some(5)
            }]
        );
        assert_eq!(found.best.ids, [0, 1, 5, 4, 0]);
        // Two substitutions and the three deletions (special tokens are never edited).
        assert_eq!(rows, 2 + 3);
    }

    #[test]
    fn deletions_shift_positions_and_edits_name_input_positions() {
        // Sum 1 + 1 + 1 + 1 = 4 with no substitution checked: each deletion takes 1 away,
        // leaving 1 after three, so no flip within the budget.
        let (found, _) = search(&[1, 1, 1, 1, 0], 3, 0);
        assert!(!found.flipped);
        assert_eq!(found.best.edits.len(), 3);
        let mut positions: Vec<usize> = found.best.edits.iter().map(|e| e.position).collect();
        positions.sort_unstable();
        assert_eq!(positions, [0, 1, 2]);
        assert!(found.best.edits.iter().all(|e| e.to.is_none()));
        assert_eq!(found.best.ids, [1, 0]);
        assert_eq!(found.best.origin, [3, 4]);
    }

    #[test]
    fn two_edits_when_one_is_not_enough_and_none_past_the_budget() {
        // 5 + 5 = 10; one swap to −3 leaves 2, the second flips.
        let (found, _) = search(&[3, 3], 3, 4);
        assert!(found.flipped);
        assert_eq!(found.best.edits.len(), 2);
        assert_eq!(found.best.ids, [5, 5]);
        let (found, _) = search(&[3, 3], 1, 4);
        assert!(!found.flipped);
        assert_eq!(found.best.ids, [5, 3]);
    }
}
