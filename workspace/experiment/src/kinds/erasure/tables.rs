//! The table `[[erasure]]` writes: `erasure`.

use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (erasure study, method).
    #[table("erasure", keys = [study, method])]
    pub struct ErasureRow {
        /// index of the `[[erasure]]` study in the file, from 0
        pub study: usize,
        /// the concept erased
        pub concept: String,
        /// block index
        pub layer: usize,
        /// site name
        pub site: String,
        /// `leace` or `project_out`
        pub method: String,
        /// LEACE's covariance estimate (`sample` or `ledoit_wolf`); empty for `project_out`
        pub covariance: String,
        /// directions the eraser removes
        pub rank: usize,
        /// examples per class (concept; as many from the random pool)
        pub n_per_class: usize,
        /// a fresh standardised logistic probe's held-out accuracy, concept vs random (split
        /// stratified by class)
        pub probe_before: f64,
        /// the same on erased activations, the eraser fitted on the training split only; chance
        /// is 0.5
        pub probe_after: f64,
        /// what `mean_abs_delta_p` tracks, as in `steering`
        pub target: String,
        /// inputs the output change is measured on
        pub n_inputs: usize,
        /// mean \|Δp\| of the tracked output when the eraser (fitted on every example) acts at
        /// the site on every token
        pub mean_abs_delta_p: f64,
        /// mean total-variation distance ½ Σ \|p − q\| between the erased and original output
        /// distributions
        pub mean_total_variation: f64,
        /// fraction of inputs whose prediction is unchanged
        pub agreement: f64,
        /// with a `[head]`: its accuracy on its labelled `[concepts]` sets without the eraser;
        /// NaN without one
        pub task_accuracy_before: f64,
        /// the same with the eraser
        pub task_accuracy_after: f64,
    }
}
