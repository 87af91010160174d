//! Reading a run folder's steering, erasure and counterfactual tables back, for re-rendering
//! the report.

use super::{RunFolder, RunFolderError, TableData};
use crate::studies::SteeringResults;
use crate::studies::counterfactual::CounterfactualSwap;
use crate::studies::erasure::ErasureRow;
use crate::studies::steering::{SteeringFlip, SteeringRow, SteeringSummary};

impl TableData {
    /// The rows as `steering` rows.
    pub fn steering_rows(&self) -> Result<Vec<SteeringRow>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(SteeringRow {
                    study: self.count("study", r)?,
                    layer: self.count("layer", r)?,
                    site: self.text("site", r)?,
                    vector: self.text("vector", r)?,
                    input: self.count("input", r)?,
                    text: self.text("text", r)?,
                    alpha: self.float("alpha", r)?,
                    added_norm: self.float("added_norm", r)?,
                    target: self.text("target", r)?,
                    p_target: self.float("p_target", r)?,
                    delta_p: self.float("delta_p", r)?,
                    logit_margin: self.float("logit_margin", r)?,
                    predicted: self.text("predicted", r)?,
                    flipped: self.flag("flipped", r)?,
                    kl: self.float("kl", r)?,
                    top_k: self.text("top_k", r)?,
                    top_k_changed: self.count("top_k_changed", r)?,
                    continuation: self.text("continuation", r)?,
                })
            })
            .collect()
    }

    /// The rows as `steering_summary` rows.
    pub fn steering_summary(&self) -> Result<Vec<SteeringSummary>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(SteeringSummary {
                    study: self.count("study", r)?,
                    layer: self.count("layer", r)?,
                    site: self.text("site", r)?,
                    vector: self.text("vector", r)?,
                    target: self.text("target", r)?,
                    alpha: self.float("alpha", r)?,
                    n_inputs: self.count("n_inputs", r)?,
                    flip_rate: self.float("flip_rate", r)?,
                    mean_p_target: self.float("mean_p_target", r)?,
                    mean_delta_p: self.float("mean_delta_p", r)?,
                    mean_logit_margin: self.float("mean_logit_margin", r)?,
                    mean_kl: self.float("mean_kl", r)?,
                    mean_top_k_changed: self.float("mean_top_k_changed", r)?,
                    activation_scale: self.float("activation_scale", r)?,
                    vector_norm: self.float("vector_norm", r)?,
                    cav_accuracy: self.float("cav_accuracy", r)?,
                })
            })
            .collect()
    }

    /// The rows as `steering_flips` rows.
    pub fn steering_flips(&self) -> Result<Vec<SteeringFlip>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(SteeringFlip {
                    study: self.count("study", r)?,
                    layer: self.count("layer", r)?,
                    site: self.text("site", r)?,
                    vector: self.text("vector", r)?,
                    input: self.count("input", r)?,
                    text: self.text("text", r)?,
                    predicted: self.text("predicted", r)?,
                    flip_alpha_positive: self.float("flip_alpha_positive", r)?,
                    flip_alpha_negative: self.float("flip_alpha_negative", r)?,
                    flip_alpha: self.float("flip_alpha", r)?,
                    bound: self.float("bound", r)?,
                })
            })
            .collect()
    }

    /// The rows as `erasure` rows.
    pub fn erasure_rows(&self) -> Result<Vec<ErasureRow>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(ErasureRow {
                    study: self.count("study", r)?,
                    concept: self.text("concept", r)?,
                    layer: self.count("layer", r)?,
                    site: self.text("site", r)?,
                    method: self.text("method", r)?,
                    covariance: self.text("covariance", r)?,
                    rank: self.count("rank", r)?,
                    n_per_class: self.count("n_per_class", r)?,
                    probe_before: self.float("probe_before", r)?,
                    probe_after: self.float("probe_after", r)?,
                    target: self.text("target", r)?,
                    n_inputs: self.count("n_inputs", r)?,
                    mean_abs_delta_p: self.float("mean_abs_delta_p", r)?,
                    mean_total_variation: self.float("mean_total_variation", r)?,
                    agreement: self.float("agreement", r)?,
                    task_accuracy_before: self.float("task_accuracy_before", r)?,
                    task_accuracy_after: self.float("task_accuracy_after", r)?,
                })
            })
            .collect()
    }

    /// The rows as `counterfactual_summary` rows.
    pub fn counterfactual_swaps(&self) -> Result<Vec<CounterfactualSwap>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(CounterfactualSwap {
                    study: self.count("study", r)?,
                    slot: self.text("slot", r)?,
                    from: self.text("from", r)?,
                    to: self.text("to", r)?,
                    target: self.text("target", r)?,
                    n_pairs: self.count("n_pairs", r)?,
                    mean_delta_p: self.float("mean_delta_p", r)?,
                    flip_rate: self.float("flip_rate", r)?,
                })
            })
            .collect()
    }
}

impl RunFolder {
    /// The steering, erasure and counterfactual rows the report shows (none without tables).
    pub fn steering_results(&self) -> Result<SteeringResults, RunFolderError> {
        let read = |name: &str| self.table(name);
        Ok(SteeringResults {
            steering: read("steering")?.map_or(Ok(Vec::new()), |t| t.steering_rows())?,
            steering_summary: read("steering_summary")?
                .map_or(Ok(Vec::new()), |t| t.steering_summary())?,
            steering_flips: read("steering_flips")?
                .map_or(Ok(Vec::new()), |t| t.steering_flips())?,
            erasure: read("erasure")?.map_or(Ok(Vec::new()), |t| t.erasure_rows())?,
            counterfactual_swaps: read("counterfactual_summary")?
                .map_or(Ok(Vec::new()), |t| t.counterfactual_swaps())?,
        })
    }
}
