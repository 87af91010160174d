//! The tables `[[influence]]` writes: `influence` and `influence_summary`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (influence study, input, role, rank): the `[head]` training examples whose
    /// removal would most lower (`helpful`) or most raise (`harmful`) the log-odds of the class
    /// the head predicts for the input, by influence functions. Rows follow the studies, the
    /// inputs, then helpful before harmful, most influential first.
    ///
    /// ```python
    /// import polars as pl
    /// i = pl.read_parquet("runs/x-1a2b3c4d/tables/influence.parquet")
    /// i.filter(pl.col("role") == "helpful", pl.col("rank") == 1).select("text", "example_text")
    /// ```
    #[table("influence", keys = [study, input, role, rank])]
    pub struct InfluenceRow {
        /// index of the `[[influence]]` study in the file, from 0
        pub study: usize,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// the input text
        pub text: String,
        /// the class the head (refitted to its exact optimum) predicts for the input
        pub class: String,
        /// `helpful` (removing the example lowers the log-odds: it supports the prediction) or
        /// `harmful` (removing it raises them)
        pub role: String,
        /// 1 for the most influential example of its role
        pub rank: usize,
        /// the `[concepts]` set (head class) the example belongs to
        pub set: String,
        /// index of the example in its set, from 0
        pub example: usize,
        /// the training example's text
        pub example_text: String,
        /// influence functions' estimate of the change in the input's log-odds,
        /// log p − log(1 − p) of `class`, if the example were removed and the head refitted
        /// (negative for helpful examples, positive for harmful ones)
        pub effect: f64,
        /// the change actually measured by refitting the head without the example (`retrain =
        /// true`); NaN otherwise
        pub actual: f64,
    }
}

table_rows! {
    /// One row per (influence study, input): the head's prediction and, with `retrain = true`,
    /// how well influence functions rank the examples whose removal matters most.
    #[table("influence_summary", keys = [study, input])]
    pub struct InfluenceSummary {
        /// index of the `[[influence]]` study in the file, from 0
        pub study: usize,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// the input text
        pub text: String,
        /// the class the exactly refitted head predicts
        pub class: String,
        /// its log-odds under the exactly refitted head (the function influence is about)
        pub log_odds: f64,
        /// the same log-odds under the head the run attached (linfa's L-BFGS fit, which stops
        /// near the optimum); the gap says how far that fit is from the exact one
        pub head_log_odds: f64,
        /// training examples of the head
        pub n_train: usize,
        /// examples compared with leave-one-out retraining: the ones whose removal changes the
        /// log-odds most (20, or all when fewer); 0 without `retrain`
        pub compared: usize,
        /// Spearman rank correlation of the estimated and the actual changes over those
        /// examples; NaN without `retrain`
        pub spearman: f64,
        /// the largest |actual change| over all examples; NaN without `retrain`
        pub largest_actual: f64,
    }
}

/// Everything an influence study writes.
#[derive(Debug, Default)]
pub struct InfluenceOutput {
    /// `influence` rows.
    pub examples: Vec<InfluenceRow>,
    /// `influence_summary` rows.
    pub summary: Vec<InfluenceSummary>,
}

impl Outputs for InfluenceOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.examples, &mut self.summary]
    }
}
