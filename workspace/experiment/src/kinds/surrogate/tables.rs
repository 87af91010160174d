//! The tables `[[surrogate]]` writes: `surrogate` and `surrogate_rules`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per `[[surrogate]]` study: the decision tree trained to mimic the model's
    /// predicted class from word-set features, and how often it agrees with the model.
    #[table("surrogate", keys = [study])]
    pub struct SurrogateSummary {
        /// index of the `[[surrogate]]` study in the file, from 0
        pub study: usize,
        /// the features (word sets), comma-separated, in name order
        pub features: String,
        /// the features some rule tests, comma-separated
        pub used: String,
        /// the features no rule tests, comma-separated
        pub unused: String,
        /// the depth limit
        pub max_depth: usize,
        /// the longest rule's number of conditions
        pub depth: usize,
        /// rules (leaves)
        pub leaves: usize,
        /// inputs the tree was trained on
        pub n_train: usize,
        /// inputs held out
        pub n_test: usize,
        /// fraction of the training inputs on which the tree gives the model's class
        pub train_fidelity: f64,
        /// fraction of the held-out inputs on which the tree gives the model's class: the
        /// surrogate's fidelity
        pub fidelity: f64,
        /// the held-out agreement of always answering the class the model gives most often on
        /// the training inputs: what fidelity must beat to explain anything
        pub majority: f64,
    }
}

table_rows! {
    /// One row per (surrogate study, rule): a leaf of the tree read as the conditions on its
    /// path. Every input satisfies exactly one rule of its study.
    ///
    /// ```python
    /// import polars as pl
    /// pl.read_parquet("runs/x-1a2b3c4d/tables/surrogate_rules.parquet").select("conditions", "class", "support")
    /// ```
    #[table("surrogate_rules", keys = [study, rule])]
    pub struct SurrogateRule {
        /// index of the `[[surrogate]]` study in the file, from 0
        pub study: usize,
        /// index of the rule, from 0, left (feature absent) before right at every split
        pub rule: usize,
        /// the conditions, `negation = 1 and positive = 0` (1: the input has a word of the
        /// set; 0: none), or `always` for a tree of one leaf
        pub conditions: String,
        /// the class the rule predicts: the model's class of most training inputs it covers
        pub class: String,
        /// training inputs the rule covers
        pub support: usize,
        /// of those, the inputs the model puts in `class`
        pub agree: usize,
        /// held-out inputs the rule covers
        pub test_support: usize,
        /// of those, the inputs the model puts in `class`
        pub test_agree: usize,
    }
}

/// Everything a surrogate study writes.
#[derive(Debug, Default)]
pub struct SurrogateOutput {
    /// `surrogate` rows.
    pub summary: Vec<SurrogateSummary>,
    /// `surrogate_rules` rows.
    pub rules: Vec<SurrogateRule>,
}

impl Outputs for SurrogateOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.summary, &mut self.rules]
    }
}
