//! The tables `[[steering]]` writes: `steering`, `steering_summary` and `steering_flips`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (steering study, layer, input, α), α = 0 (the unsteered model) included: what
    /// adding α·v at the site does to each input's output. α is in units of the mean L2 norm of
    /// the unsteered activations at the site (see `[[steering]]` in docs/schema.md). Rows follow
    /// the studies in file order, then layers, then α ascending, then inputs.
    #[table("steering", keys = [study, layer, input, alpha])]
    pub struct SteeringRow {
        /// index of the `[[steering]]` study in the file, from 0
        pub study: usize,
        /// block index
        pub layer: usize,
        /// site name (`resid_post`)
        pub site: String,
        /// `concept:NAME`, `contrast:A-B` (a set's name, or `inline`) or `file:NAME.safetensors`
        pub vector: String,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// the input
        pub text: String,
        /// α
        pub alpha: f64,
        /// length of the added vector, α × `activation_scale`
        pub added_norm: f64,
        /// what `p_target` tracks: `class:NAME`, `token:TEXT`, or `predicted` (each input's
        /// unsteered prediction)
        pub target: String,
        /// its probability
        pub p_target: f64,
        /// `p_target` minus its value at α = 0
        pub delta_p: f64,
        /// its logit minus the largest other logit (> 0 exactly when it is predicted)
        pub logit_margin: f64,
        /// the predicted class, or the next token
        pub predicted: String,
        /// the prediction differs from the one at α = 0
        pub flipped: bool,
        /// KL(steered ‖ unsteered) of the class or next-token distribution, nats
        pub kl: f64,
        /// the `top_k` most likely classes or tokens, most likely first, joined by ` \| `
        pub top_k: String,
        /// how many of them are not in the unsteered top k
        pub top_k_changed: usize,
        /// the greedy continuation of `continue` tokens (decoders), empty otherwise
        pub continuation: String,
    }
}

table_rows! {
    /// One row per (steering study, layer, α).
    #[table("steering_summary", keys = [study, layer, alpha])]
    pub struct SteeringSummary {
        /// as in `steering`
        pub study: usize,
        /// as in `steering`
        pub layer: usize,
        /// as in `steering`
        pub site: String,
        /// as in `steering`
        pub vector: String,
        /// as in `steering`
        pub target: String,
        /// as in `steering`
        pub alpha: f64,
        /// inputs
        pub n_inputs: usize,
        /// fraction of inputs whose prediction flipped
        pub flip_rate: f64,
        /// mean over the inputs of `p_target`
        pub mean_p_target: f64,
        /// mean over the inputs of `delta_p`
        pub mean_delta_p: f64,
        /// mean over the inputs of `logit_margin`
        pub mean_logit_margin: f64,
        /// mean over the inputs of `kl`
        pub mean_kl: f64,
        /// mean over the inputs of `top_k_changed`
        pub mean_top_k_changed: f64,
        /// the α unit: mean L2 norm of the unsteered activations at the site over the inputs'
        /// real tokens
        pub activation_scale: f64,
        /// length of the vector before it was normalised (1 for a CAV)
        pub vector_norm: f64,
        /// held-out accuracy of the concept's CAV; NaN for other vectors
        pub cav_accuracy: f64,
    }
}

table_rows! {
    /// The activation-space counterfactual: one row per (steering study, layer, input), written
    /// unless `flip_bound` is 0.
    #[table("steering_flips", keys = [study, layer, input])]
    pub struct SteeringFlip {
        /// as in `steering`
        pub study: usize,
        /// as in `steering`
        pub layer: usize,
        /// as in `steering`
        pub site: String,
        /// as in `steering`
        pub vector: String,
        /// as in `steering`
        pub input: usize,
        /// as in `steering`
        pub text: String,
        /// the unsteered prediction
        pub predicted: String,
        /// the smallest α > 0 at which the prediction changes (16-point scan of (0, bound], then
        /// 12 bisection steps); NaN if none within the bound
        pub flip_alpha_positive: f64,
        /// the same for α < 0 (the largest such α)
        pub flip_alpha_negative: f64,
        /// whichever of the two is closer to 0; NaN if neither exists
        pub flip_alpha: f64,
        /// the largest \|α\| searched
        pub bound: f64,
    }
}

/// Everything a steering study writes.
#[derive(Debug, Default)]
pub struct SteeringOutput {
    /// `steering` rows.
    pub rows: Vec<SteeringRow>,
    /// `steering_summary` rows.
    pub summary: Vec<SteeringSummary>,
    /// `steering_flips` rows.
    pub flips: Vec<SteeringFlip>,
}

impl Outputs for SteeringOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.rows, &mut self.summary, &mut self.flips]
    }
}
