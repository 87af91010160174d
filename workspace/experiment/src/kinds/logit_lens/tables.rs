//! The tables `[[logit_lens]]` writes: `logit_lens`, `logit_lens_top`, `logit_attribution` and
//! `logit_attribution_total`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (`[[logit_lens]]` study, prompt, layer, target): the logit lens at the
    /// prompt's last token. Layer 0 is the embeddings (`hook_embed`, what enters block 0), layer
    /// L ≥ 1 the residual stream leaving block L − 1 (`blocks.{L-1}.hook_resid_post`); each goes
    /// through the final norm and the unembedding (and the final soft-cap, if the model has one),
    /// so the last layer gives the model's own logits.
    #[table("logit_lens", keys = [study, prompt, layer, target])]
    pub struct LensRow {
        /// index of the `[[logit_lens]]` study in the file, from 0
        pub study: usize,
        /// index of the prompt, from 0 (see `logit_attribution_total`)
        pub prompt: usize,
        /// 0 for the embeddings, L for the residual stream after block L − 1
        pub layer: usize,
        /// `answer` (the metric's first token) or `distractor` (its second)
        pub target: String,
        /// the target token
        pub token: String,
        /// its rank among the vocabulary at this layer (0 = top-1)
        pub rank: usize,
        /// its probability (softmax over the vocabulary)
        pub prob: f64,
        /// its logit
        pub logit: f64,
    }
}

table_rows! {
    /// One row per (study, prompt, layer, rank): the logit lens's top tokens.
    #[table("logit_lens_top", keys = [study, prompt, layer, rank])]
    pub struct LensTopRow {
        /// as in `logit_lens`
        pub study: usize,
        /// as in `logit_lens`
        pub prompt: usize,
        /// as in `logit_lens`
        pub layer: usize,
        /// 0 for the most likely token
        pub rank: usize,
        /// the token
        pub token: String,
        /// its probability
        pub prob: f64,
    }
}

table_rows! {
    /// One row per (study, prompt, component): direct logit attribution of the logit
    /// difference (answer − distractor) at the prompt's last token, TransformerLens's
    /// `apply_ln_to_stack` with the final norm's scale frozen at its value for the final
    /// residual stream. The components sum to `attributed` in `logit_attribution_total`.
    #[table("logit_attribution", keys = [study, prompt, component, layer, head])]
    pub struct AttributionRow {
        /// as in `logit_lens`
        pub study: usize,
        /// as in `logit_lens`
        pub prompt: usize,
        /// `embed` (token and position embeddings), `head` (one head's `z · W_O`), `attn_bias`
        /// (the attention output bias), `mlp` (`hook_mlp_out`), `norm_bias` (the final
        /// LayerNorm's shift) or `unembed_bias`
        pub component: String,
        /// block index (null for `embed`, `norm_bias`, `unembed_bias`)
        pub layer: Option<usize>,
        /// head index (null but for `head`)
        pub head: Option<usize>,
        /// its contribution to the logit difference
        pub contribution: f64,
    }
}

table_rows! {
    /// One row per (study, prompt): the prompt, its targets and the logit difference the
    /// components of `logit_attribution` add up to.
    #[table("logit_attribution_total", keys = [study, prompt])]
    pub struct AttributionTotal {
        /// as in `logit_lens`
        pub study: usize,
        /// as in `logit_lens`
        pub prompt: usize,
        /// the rendered prompt
        pub text: String,
        /// the answer token
        pub answer: String,
        /// the distractor token
        pub distractor: String,
        /// the model's top-1 next token
        pub top_token: String,
        /// logit(answer) − logit(distractor) of the model's output
        pub logit_diff: f64,
        /// the same before the final soft-cap (equal to `logit_diff` without one)
        pub logit_diff_pre_cap: f64,
        /// the sum of the prompt's `logit_attribution` rows (equals `logit_diff_pre_cap`)
        pub attributed: f64,
    }
}

/// Everything a logit lens study writes.
#[derive(Debug, Default)]
pub struct LogitLensOutput {
    /// `logit_lens` rows.
    pub lens: Vec<LensRow>,
    /// `logit_lens_top` rows.
    pub top: Vec<LensTopRow>,
    /// `logit_attribution` rows.
    pub attribution: Vec<AttributionRow>,
    /// `logit_attribution_total` rows.
    pub totals: Vec<AttributionTotal>,
}

impl Outputs for LogitLensOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![
            &mut self.lens,
            &mut self.top,
            &mut self.attribution,
            &mut self.totals,
        ]
    }
}
