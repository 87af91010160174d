//! The tables `[[adversarial]]` writes: `adversarial` and `adversarial_tokens`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (adversarial study, input): the smallest edit the search found that flips
    /// the classifier's decision, or the best it reached within `max_edits` when none flips.
    /// Rows follow the studies in file order, then the inputs in order.
    ///
    /// ```python
    /// import polars as pl
    /// a = pl.read_parquet("runs/x-1a2b3c4d/tables/adversarial.parquet")
    /// a.filter(pl.col("flipped")).select("text", "edited", "edit_list", "p_after")
    /// ```
    #[table("adversarial", keys = [study, input])]
    pub struct AdversarialRow {
        /// index of the `[[adversarial]]` study in the file, from 0
        pub study: usize,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// the input text
        pub text: String,
        /// the class the model predicts for the input
        pub predicted: String,
        /// its probability
        pub p_predicted: f64,
        /// the edited text, tokens joined (special tokens left out); the input itself when the
        /// search made no edit
        pub edited: String,
        /// edits made (substitutions and deletions)
        pub edits: usize,
        /// the edits in the order made, `position: old → new` (a substitution) or `position: old
        /// → ∅` (a deletion), separated by `; `, positions counting the input's tokens from 0
        pub edit_list: String,
        /// the class the model predicts for the edited text
        pub predicted_after: String,
        /// its probability
        pub p_after: f64,
        /// the original class's probability on the edited text
        pub p_original_after: f64,
        /// whether the decision flipped; false when no edit within `max_edits` flipped it
        pub flipped: bool,
        /// rows run through the model for this input: the input, each edited candidate checked,
        /// and one forward (and backward) pass per step for the gradient
        pub forward_passes: usize,
    }
}

table_rows! {
    /// One row per (adversarial study, input, token of the input): what the search's edits did
    /// to each token.
    #[table("adversarial_tokens", keys = [study, input, position])]
    pub struct AdversarialToken {
        /// index of the `[[adversarial]]` study in the file, from 0
        pub study: usize,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// token position in the input, from 0, special tokens included
        pub position: usize,
        /// the token as the tokenizer writes it
        pub token: String,
        /// whether it is a special token (never edited)
        pub is_special: bool,
        /// `kept`, `substituted` or `deleted`
        pub change: String,
        /// the token in the edited text (empty when deleted)
        pub edited_token: String,
    }
}

/// Everything an adversarial study writes.
#[derive(Debug, Default)]
pub struct AdversarialOutput {
    /// `adversarial` rows.
    pub rows: Vec<AdversarialRow>,
    /// `adversarial_tokens` rows.
    pub tokens: Vec<AdversarialToken>,
}

impl Outputs for AdversarialOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.rows, &mut self.tokens]
    }
}
