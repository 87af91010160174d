//! SHAP on a model: Shapley values (see [`crate::shapley`]) of a target logit f of one input,
//! the players being its tokens that are not special, and v(S) being f with every real token
//! outside S masked exactly as occlusion and LIME mask it (its `embed` row replaced by the
//! baseline activation's row at the same position; see [`crate::attribution`]).
//!
//! So v(all) = f(x), v(none) = f(baseline) and the values sum to f(x) − f(baseline). Up to
//! `exact_max` real tokens every coalition is enumerated (2^n forward rows); beyond, antithetic
//! permutation pairs are sampled. Special tokens are never masked and get 0. Coalitions run
//! through the model in batches of at most `rows_per_pass` rows.

use crate::attribution::{
    AttributionInput, Objective, SiteActivation, masked_outputs, site_activation,
};
use crate::error::ProbeError;
use crate::shapley::{ShapleyValues, exact_shapley, permutation_shapley};
use cavern_model::{LoadedModel, Site, SitePoint};

/// Default largest number of real tokens whose coalitions are all enumerated (4096 rows).
pub const DEFAULT_EXACT_MAX: usize = 12;
/// Default antithetic pairs of permutations when sampling.
pub const DEFAULT_PAIRS: usize = 32;

/// How SHAP values are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShapOptions {
    /// Enumerate every coalition up to this many real tokens (at most
    /// [`crate::shapley::MAX_EXACT_PLAYERS`]); sample beyond.
    pub exact_max: usize,
    /// Antithetic pairs of permutations when sampling (at least [`crate::shapley::MIN_PAIRS`]).
    pub pairs: usize,
    /// Seed of the ChaCha8 generator that draws the permutations.
    pub seed: u64,
}

impl Default for ShapOptions {
    fn default() -> Self {
        ShapOptions {
            exact_max: DEFAULT_EXACT_MAX,
            pairs: DEFAULT_PAIRS,
            seed: 0,
        }
    }
}

/// SHAP values of one input, per token (special tokens at 0, with a standard error of 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Shap {
    /// φ per token.
    pub values: Vec<f64>,
    /// The standard error of each φ (0 when exact).
    pub std_errors: Vec<f64>,
    /// f at the input.
    pub f_x: f64,
    /// f with every real token masked.
    pub f_baseline: f64,
    /// Whether every coalition was enumerated.
    pub exact: bool,
    /// Distinct masked inputs run through the model.
    pub evaluations: usize,
}

impl Shap {
    /// Σ φ − (f(x) − f(baseline)).
    pub fn efficiency_gap(&self) -> f64 {
        self.values.iter().sum::<f64>() - (self.f_x - self.f_baseline)
    }
}

/// SHAP values of f around `input`, masking with `base` (the baseline activation at `embed`,
/// see [`crate::attribution::baseline_activation`]).
pub fn shap(
    model: &LoadedModel,
    input: &AttributionInput,
    objective: Objective,
    base: &SiteActivation,
    options: &ShapOptions,
    rows_per_pass: usize,
) -> Result<Shap, ProbeError> {
    let a = site_activation(model, input, Site::global(SitePoint::Embed))?;
    let real: Vec<usize> = (0..input.len())
        .filter(|&t| !input.special.get(t).copied().unwrap_or(false))
        .collect();
    let value = |coalitions: &[Vec<bool>]| -> Result<Vec<f64>, ProbeError> {
        let masks: Vec<Vec<bool>> = coalitions
            .iter()
            .map(|kept| {
                let mut mask = vec![true; input.len()];
                for (&t, &keep) in real.iter().zip(kept) {
                    mask[t] = keep;
                }
                mask
            })
            .collect();
        let f = masked_outputs(model, input, objective, &a, base, &masks, rows_per_pass)?;
        match f.iter().find(|v| !v.is_finite()) {
            Some(bad) => Err(ProbeError::Attribution(format!(
                "the model's output on a masked input is {bad}; SHAP needs finite outputs"
            ))),
            None => Ok(f),
        }
    };
    let exact_max = options.exact_max.min(crate::shapley::MAX_EXACT_PLAYERS);
    let game: ShapleyValues = if real.len() <= exact_max {
        exact_shapley(real.len(), value)?
    } else {
        permutation_shapley(real.len(), options.pairs, options.seed, value)?
    };
    let mut values = vec![0.0; input.len()];
    let mut std_errors = vec![0.0; input.len()];
    for (k, &t) in real.iter().enumerate() {
        values[t] = game.values[k];
        std_errors[t] = game.std_errors[k];
    }
    Ok(Shap {
        values,
        std_errors,
        f_x: game.v_all,
        f_baseline: game.v_none,
        exact: game.exact,
        evaluations: game.evaluations,
    })
}
