//! The tables `[[attribution]]` writes: `attributions` and `attribution_summary`.

use crate::study::Outputs;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::table_rows;

table_rows! {
    /// One row per (attribution study, input, method, token): how much each token of each input
    /// drives the study's target f (see `[[attribution]]` in docs/schema.md for the methods).
    /// Rows follow the studies in file order, then the inputs in order, then the methods in the
    /// order the study lists them, then the token positions.
    ///
    /// ```python
    /// import polars as pl
    /// a = pl.read_parquet("runs/x-1a2b3c4d/tables/attributions.parquet")
    /// ig = a.filter(pl.col("method") == "integrated_gradients", ~pl.col("is_special"))
    /// ig.sort("attribution", descending=True).group_by("input", maintain_order=True).head(3)
    /// ```
    #[table("attributions", keys = [study, input, method, position])]
    pub struct TokenAttribution {
        /// index of the `[[attribution]]` study in the file, from 0
        pub study: usize,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// the input text
        pub text: String,
        /// f: `class:NAME` or `token:TEXT`, or `A - B` for a logit difference (`contrast`)
        pub target: String,
        /// token position, from 0, special tokens included
        pub position: usize,
        /// the token as the tokenizer writes it (`##ing` for a WordPiece continuation, ` Paris`
        /// with its space for byte-level BPE, `[CLS]`)
        pub token: String,
        /// whether the token is a special token (`[CLS]`, `[SEP]`; the GGUF control tokens);
        /// special tokens stay in the baseline, so at `embed` their integrated gradients and
        /// occlusion are exactly 0 with a token baseline
        pub is_special: bool,
        /// `saliency`, `gradient_x_input`, `integrated_gradients`, `occlusion`, `lime` or `shap`
        pub method: String,
        /// `saliency`: ‖∂f/∂a_t‖₂ (never negative); `gradient_x_input`: Σ_d (∂f/∂a_td)·a_td;
        /// `integrated_gradients`: Σ_d (a − a')_td · mean over the path's midpoints of
        /// ∂f/∂a_td; `occlusion`: the mean over the windows covering the token of f(x) − f(x
        /// with the window replaced by the baseline); `lime`: the token's coefficient in the
        /// LIME surrogate, what keeping the token adds to f (0 for special tokens, which are
        /// never masked); `shap`: the token's Shapley value in the game v(S) = f(input with only
        /// the tokens S kept), which sum to f(x) − f(baseline) (0 for special tokens). Positive:
        /// the token raises f
        pub attribution: f64,
        /// `shap`: the standard error of a sampled value (0 when every coalition was
        /// enumerated, and for special tokens); NaN for the other methods
        pub std_error: f64,
    }
}

table_rows! {
    /// Written for `[[attribution]]` studies that run `integrated_gradients`, `lime` or `shap`:
    /// one row per (study, input, method), in that order, with f at the input and at the
    /// baseline, how far the attributions are from summing to their difference, LIME's fidelity
    /// and whether SHAP's values are exact.
    #[table("attribution_summary", keys = [study, input, method])]
    pub struct AttributionSummary {
        /// index of the `[[attribution]]` study in the file, from 0
        pub study: usize,
        /// index of the input in the study's inputs, from 0
        pub input: usize,
        /// f, as in `attributions`
        pub target: String,
        /// the site of the path (`embed`, `blocks.1.hook_resid_pre`); `embed` for LIME
        pub site: String,
        /// `pad`, `zeros`, `unk` or `mask`
        pub baseline: String,
        /// `integrated_gradients`, `lime` or `shap`
        pub method: String,
        /// midpoint-rule steps (integrated gradients); samples, the input itself included
        /// (LIME); distinct masked inputs run through the model (SHAP: 2^n when exact)
        pub steps: usize,
        /// f at the input
        pub f_x: f64,
        /// f with the site's activation set to the baseline's (LIME, SHAP: with every token
        /// that is not special masked)
        pub f_baseline: f64,
        /// Σ_t attribution_t − (f_x − f_baseline): for integrated gradients the error of the
        /// midpoint rule, which shrinks as `steps` grows; compare it with \|f_x − f_baseline\|.
        /// For LIME, how far the surrogate's coefficients are from adding up to the effect of
        /// masking everything (they need not: the surrogate is fitted near the input). For
        /// SHAP the efficiency gap, 0 up to rounding whether exact or sampled
        pub completeness_gap: f64,
        /// LIME: the weighted R² of the surrogate on its samples (1: f is exactly additive in the
        /// kept tokens near the input; 0: the surrogate explains nothing); NaN for integrated
        /// gradients and SHAP
        pub fidelity_r2: f64,
        /// SHAP: whether every coalition was enumerated (the values are exact) rather than
        /// permutations sampled; false for integrated gradients and LIME
        pub exact: bool,
    }
}

/// Everything an attribution study writes.
#[derive(Debug, Default)]
pub struct AttributionOutput {
    /// `attributions` rows.
    pub tokens: Vec<TokenAttribution>,
    /// `attribution_summary` rows.
    pub summary: Vec<AttributionSummary>,
}

impl Outputs for AttributionOutput {
    fn tables(&mut self) -> Vec<&mut dyn Rows> {
        vec![&mut self.tokens, &mut self.summary]
    }
}
