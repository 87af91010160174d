//! The tables `[[patching]]` writes: `patching`, `patching_summary` and `patching_pairs`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (`[[patching]]` study, direction, site, layer, position or head): activation
    /// patching averaged over the study's prompt pairs. Rows follow the studies in file order,
    /// then directions, sites, layers and positions (or heads).
    #[table("patching", keys = [study, direction, site, layer, position, head])]
    pub struct PatchingRow {
        /// index of the `[[patching]]` study in the file, from 0
        pub study: usize,
        /// `denoise` (clean activations into the corrupted run) or `noise` (the reverse)
        pub direction: String,
        /// `resid_pre`, `attn_out`, `mlp_out`, `head` or `head_position`
        pub site: String,
        /// block index
        pub layer: usize,
        /// token position (null for `head`); with `align_last = N`, the position among each
        /// prompt's last N tokens
        pub position: Option<usize>,
        /// the first pair's clean token at `position` (empty for `head`)
        pub token: String,
        /// head index (null for position sites)
        pub head: Option<usize>,
        /// mean over pairs of (m(patched) − m(corrupted)) / (m(clean) − m(corrupted))
        pub recovered: f64,
        /// its sample standard deviation over pairs (0 for one pair)
        pub recovered_std: f64,
        /// the same fraction from attribution patching's first-order estimate (null without
        /// `attribution`)
        pub attribution: Option<f64>,
        /// pairs averaged: those whose clean and corrupted metric differ
        pub pairs: usize,
    }
}

table_rows! {
    /// One row per (study, direction, site).
    #[table("patching_summary", keys = [study, direction, site])]
    pub struct PatchingSummary {
        /// as in `patching`
        pub study: usize,
        /// as in `patching`
        pub direction: String,
        /// as in `patching`
        pub site: String,
        /// Pearson correlation of `recovered` and `attribution` over the site's rows (null
        /// without attribution patching or with fewer than 3 rows)
        pub correlation: Option<f64>,
        /// patched rows actually run; the others patch an activation equal to the one they
        /// replace and reproduce the base run exactly
        pub variants_run: usize,
        /// every (pair, layer, position or head) patch
        pub variants: usize,
    }
}

table_rows! {
    /// One row per (study, prompt pair).
    #[table("patching_pairs", keys = [study, pair])]
    pub struct PatchingPair {
        /// as in `patching`
        pub study: usize,
        /// index of the pair, from 0
        pub pair: usize,
        /// the rendered clean prompt
        pub clean: String,
        /// the rendered corrupted prompt
        pub corrupted: String,
        /// the metric's rendered targets, joined by `\|`
        pub targets: String,
        /// `logit_diff`, `logprob`, `class_prob` or `kl`
        pub metric: String,
        /// the metric of the unpatched clean run
        pub metric_clean: f64,
        /// the metric of the unpatched corrupted run
        pub metric_corrupted: f64,
    }
}

/// Everything a patching study writes.
#[derive(Debug, Default)]
pub struct PatchingOutput {
    /// `patching` rows.
    pub rows: Vec<PatchingRow>,
    /// `patching_summary` rows.
    pub summary: Vec<PatchingSummary>,
    /// `patching_pairs` rows.
    pub pairs: Vec<PatchingPair>,
}

impl Outputs for PatchingOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.rows, &mut self.summary, &mut self.pairs]
    }
}
