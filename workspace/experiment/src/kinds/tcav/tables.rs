//! The tables `[[tcav]]` writes: `tcav` and `tcav_runs` (and the CAV files beside them).

use super::cav_file::CavFile;
use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (TCAV study, layer, concept): the TCAV score of the concept for the study's
    /// target, the random-vs-random baseline, and the significance test of Kim et al. (2018)
    /// comparing the two.
    #[table("tcav", keys = [concept, target, layer, site])]
    pub struct TcavRow {
        /// concept name
        pub concept: String,
        /// what the gradient is taken of: `class:NAME` (a classifier's class logit, centred over
        /// classes) or `token:TOKEN` (a decoder's next-token logit)
        pub target: String,
        /// block index, from 0
        pub layer: usize,
        /// activation site
        pub site: String,
        /// mean TCAV score over the concept-vs-random CAVs; a TCAV score is the fraction of the
        /// study's inputs whose directional derivative S(x) = ⟨∇ₕ f(x), v⟩ is positive
        pub tcav_mean: f64,
        /// its standard deviation over random runs
        pub tcav_std: f64,
        /// lower end of the 95% percentile-bootstrap interval of `tcav_mean` (1000 resamples of
        /// the per-run scores, seeded)
        pub tcav_ci_low: f64,
        /// its upper end
        pub tcav_ci_high: f64,
        /// mean TCAV score of the random-vs-random CAVs (same layer and site)
        pub random_mean: f64,
        /// its standard deviation
        pub random_std: f64,
        /// Welch's t of the concept scores against the random scores; `±inf` when both samples
        /// are constant and differ (then `p_value` is 0), 0 when both are constant and equal
        /// (`p_value` 1)
        pub t_statistic: f64,
        /// Welch–Satterthwaite degrees of freedom
        pub df: f64,
        /// two-sided p-value of the t-test
        pub p_value: f64,
        /// `p_value` corrected over all the study's (concept, layer) rows with `correction`
        pub p_adjusted: f64,
        /// `p_adjusted < alpha`
        pub significant: bool,
        /// mean accuracy of the concept-vs-random CAVs (each stored as f32 first, as in the CAV
        /// file, so it shows f32 rounding)
        pub cav_accuracy: f64,
        /// mean accuracy of the random-vs-random CAVs
        pub random_accuracy: f64,
        /// CAP: the mean projection of the inputs' pooled activations on the concept's unit
        /// direction, averaged over random runs
        pub cap_mean: f64,
        /// random runs (`random_runs`): concept-vs-random and random-vs-random CAVs each
        pub runs: usize,
        /// multiple-comparison correction: `bonferroni`, `holm` or `bh` (Benjamini–Hochberg)
        pub correction: String,
        /// significance level
        pub alpha: f64,
        /// empty, or why the row should not be trusted: the CAV accuracy is near chance (below
        /// 0.6, or within 0.1 of the random-vs-random accuracy), so the score means nothing; or
        /// the random runs cannot reach the corrected level (2 / C(2n, n), the smallest p-value
        /// any two-sample rank test of n against n scores gives, is above alpha / cells); or
        /// fewer than 10 runs
        pub warning: String,
    }
}

table_rows! {
    /// One row per CAV of a TCAV study: the samples `tcav` summarises, for plotting the score
    /// distributions. For each (study, layer), first the random-vs-random CAVs, then each
    /// concept's.
    #[table("tcav_runs", keys = [concept, target, layer, site, run])]
    pub struct TcavRunRow {
        /// concept name, or `random` for a random-vs-random CAV
        pub concept: String,
        /// as in `tcav`
        pub target: String,
        /// block index
        pub layer: usize,
        /// activation site
        pub site: String,
        /// random run *r*, from 0: the CAV against random set *r* (for `random`: set *r* against
        /// set *r* + 1)
        pub run: usize,
        /// this CAV's TCAV score
        pub tcav_score: f64,
        /// this CAV's accuracy
        pub cav_accuracy: f64,
    }
}

/// Everything a TCAV study writes.
#[derive(Debug, Default)]
pub struct TcavOutput {
    /// Summary rows.
    pub rows: Vec<TcavRow>,
    /// Per-CAV rows.
    pub runs: Vec<TcavRunRow>,
    /// The concept CAVs, written to `cavs/` (not read back).
    pub cavs: Vec<CavFile>,
}

impl Outputs for TcavOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.rows, &mut self.runs]
    }

    fn append(&mut self, mut other: Self) {
        self.rows.append(&mut other.rows);
        self.runs.append(&mut other.runs);
        self.cavs.append(&mut other.cavs);
    }
}
