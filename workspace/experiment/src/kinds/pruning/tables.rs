//! The tables `[[pruning]]` writes: `pruning_heads` and `pruning_curve`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (`[[pruning]]` study, layer, head).
    #[table("pruning_heads", keys = [study, layer, head])]
    pub struct PrunedHead {
        /// index of the `[[pruning]]` study in the file, from 0
        pub study: usize,
        /// the head's block
        pub layer: usize,
        /// the head
        pub head: usize,
        /// \|∂m/∂ξ\| for a gate ξ = 1 on the head's output, mean over prompts
        pub importance: f64,
        /// mean metric over the prompts with this head removed alone
        pub metric: f64,
        /// `metric` minus the intact model's
        pub metric_change: f64,
        /// fraction of prompts whose top-1 output is the metric's answer token (null for `kl`)
        pub accuracy: Option<f64>,
    }
}

table_rows! {
    /// One row per (study, step); step 0 is the intact model.
    #[table("pruning_curve", keys = [study, step])]
    pub struct CurveRow {
        /// as in `pruning_heads`
        pub study: usize,
        /// from 0
        pub step: usize,
        /// heads removed so far (least important first)
        pub heads_removed: usize,
        /// of the study's heads
        pub fraction_removed: f64,
        /// as in `pruning_heads`, with those heads removed
        pub metric: f64,
        /// as in `pruning_heads`, with those heads removed
        pub accuracy: Option<f64>,
        /// heads removed at this step, `layer.head`, space-separated
        pub removed_now: String,
    }
}

/// Everything a pruning study writes.
#[derive(Debug, Default)]
pub struct PruningOutput {
    /// `pruning_heads` rows.
    pub heads: Vec<PrunedHead>,
    /// `pruning_curve` rows.
    pub curve: Vec<CurveRow>,
}

impl Outputs for PruningOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.heads, &mut self.curve]
    }
}
