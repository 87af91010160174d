//! The tables `[[counterfactual]]` writes: `counterfactuals` and `counterfactual_summary`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (counterfactual study, base text, edit): every rendering of the template is a
    /// base, and each edit swaps one slot's value.
    #[table("counterfactuals", keys = [study, base, slot, to])]
    pub struct CounterfactualRow {
        /// index of the `[[counterfactual]]` study in the file, from 0
        pub study: usize,
        /// the text before the edit
        pub base: String,
        /// the text after the edit
        pub edited: String,
        /// the slot swapped
        pub slot: String,
        /// its value in the base text
        pub from: String,
        /// its value in the edited text
        pub to: String,
        /// what the probabilities track, as in `steering` (`predicted`: the base text's
        /// prediction)
        pub target: String,
        /// the prediction for the base text
        pub predicted_before: String,
        /// the prediction for the edited text
        pub predicted_after: String,
        /// probability of the tracked output for the base text
        pub p_before: f64,
        /// the same for the edited text
        pub p_after: f64,
        /// `p_after − p_before`
        pub delta_p: f64,
        /// the prediction changed
        pub flipped: bool,
    }
}

table_rows! {
    /// One row per (counterfactual study, slot, from, to): the edits of `counterfactuals`
    /// averaged over the base texts.
    #[table("counterfactual_summary", keys = [study, slot, from, to])]
    pub struct CounterfactualSwap {
        /// as in `counterfactuals`
        pub study: usize,
        /// as in `counterfactuals`
        pub slot: String,
        /// as in `counterfactuals`
        pub from: String,
        /// as in `counterfactuals`
        pub to: String,
        /// as in `counterfactuals`
        pub target: String,
        /// base texts the swap was applied to
        pub n_pairs: usize,
        /// mean `delta_p`
        pub mean_delta_p: f64,
        /// fraction of the pairs whose prediction changed
        pub flip_rate: f64,
    }
}

/// Everything a counterfactual study writes.
#[derive(Debug, Default)]
pub struct CounterfactualOutput {
    /// `counterfactuals` rows.
    pub rows: Vec<CounterfactualRow>,
    /// `counterfactual_summary` rows.
    pub swaps: Vec<CounterfactualSwap>,
}

impl Outputs for CounterfactualOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.rows, &mut self.swaps]
    }
}
