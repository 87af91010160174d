//! A model's output rows (class or next-token logits): probabilities, the prediction, the
//! tracked target and how far a changed output moved from the original; and how targets and
//! output indices are found and named.

use super::StudyError;
use crate::plan::Target;
use burn::tensor::Tensor;
use cavern_model::LoadedModel;

/// One output row (class or next-token logits) with its probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputRow {
    /// Raw logits.
    pub logits: Vec<f32>,
    /// Softmax probabilities (f64).
    pub probs: Vec<f64>,
}

impl OutputRow {
    /// Wraps a logit row.
    pub fn new(logits: Vec<f32>) -> OutputRow {
        let max = logits
            .iter()
            .fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
        let exp: Vec<f64> = logits.iter().map(|&x| (x as f64 - max).exp()).collect();
        let sum: f64 = exp.iter().sum();
        OutputRow {
            probs: exp.into_iter().map(|e| e / sum).collect(),
            logits,
        }
    }

    /// Index of the largest logit (the lowest index on ties).
    pub fn predicted(&self) -> usize {
        cavern_model::generate::argmax(&self.logits)
    }

    /// `logit[target] − max_{j ≠ target} logit[j]`: positive exactly when `target` is predicted.
    pub fn logit_margin(&self, target: usize) -> f64 {
        let other = (0..self.logits.len())
            .filter(|&j| j != target)
            .map(|j| self.logits[j])
            .fold(f32::NEG_INFINITY, f32::max);
        (self.logits[target] - other) as f64
    }

    /// `KL(self ‖ reference)` in nats.
    pub fn kl_from(&self, reference: &OutputRow) -> f64 {
        self.probs
            .iter()
            .zip(&reference.probs)
            .filter(|(p, _)| **p > 0.0)
            .map(|(p, q)| p * (p / q.max(f64::MIN_POSITIVE)).ln())
            .sum::<f64>()
            .max(0.0)
    }

    /// The `k` most likely indices, most likely first (lower index on ties).
    pub fn top(&self, k: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.logits.len()).collect();
        order.sort_by(|&a, &b| self.logits[b].total_cmp(&self.logits[a]).then(a.cmp(&b)));
        order.truncate(k);
        order
    }

    /// `½ Σ |p − q|`: the total-variation distance to another row.
    pub fn total_variation(&self, other: &OutputRow) -> f64 {
        let sum: f64 = (self.probs.iter().zip(&other.probs))
            .map(|(p, q)| (p - q).abs())
            .sum();
        sum / 2.0
    }
}

/// The rows of a `[batch, width]` logit tensor.
pub fn logit_rows(logits: Tensor<2>) -> Vec<OutputRow> {
    let [_, width] = logits.dims();
    let values = logits
        .into_data()
        .try_into_vec_as::<f32>()
        .unwrap_or_default();
    values
        .chunks_exact(width.max(1))
        .map(|row| OutputRow::new(row.to_vec()))
        .collect()
}

/// The logit index of a target in this model.
pub fn target_index(model: &LoadedModel, target: &Target) -> Result<usize, StudyError> {
    let found = match target {
        Target::Class(class) => model.class_names().iter().position(|c| c == class),
        Target::Token(token) => model.tokenizer().single_token(token).map(|id| id as usize),
    };
    found.ok_or_else(|| StudyError::UnknownTarget(target.label()))
}

/// How an output index reads: its class name for classifiers, its token text otherwise.
pub fn index_label(model: &LoadedModel, index: usize) -> String {
    match model.class_names().get(index) {
        Some(class) => class.clone(),
        None => model.tokenizer().token_text(index as u32),
    }
}

/// The target column of a table: the target's label, or `predicted` when the study tracks each
/// input's own original prediction.
pub fn tracked_label(target: Option<&Target>) -> String {
    target.map_or_else(|| "predicted".to_owned(), Target::label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_know_their_prediction_margin_and_distances() {
        let row = OutputRow::new(vec![1.0, 3.0, 3.0, 0.0]);
        assert_eq!(row.predicted(), 1, "the lower index wins a tie");
        assert_eq!(row.top(3), [1, 2, 0]);
        assert_eq!(row.logit_margin(1), 0.0);
        assert_eq!(row.logit_margin(0), -2.0);
        assert!((row.probs.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(row.kl_from(&row), 0.0);
        assert_eq!(row.total_variation(&row), 0.0);
        let other = OutputRow::new(vec![0.0, 0.0, 0.0, 0.0]);
        // p = softmax([1, 3, 3, 0]); q uniform: ½ Σ |p − ¼|.
        let tv: f64 = row.probs.iter().map(|p| (p - 0.25).abs()).sum::<f64>() / 2.0;
        assert!((row.total_variation(&other) - tv).abs() < 1e-12);
        let kl: f64 = row.probs.iter().map(|p| p * (p / 0.25).ln()).sum();
        assert!((row.kl_from(&other) - kl).abs() < 1e-12);
    }

    #[test]
    fn untracked_outputs_are_labelled_predicted() {
        assert_eq!(tracked_label(None), "predicted");
        assert_eq!(
            tracked_label(Some(&Target::Token(" Paris".into()))),
            "token: Paris"
        );
    }
}
