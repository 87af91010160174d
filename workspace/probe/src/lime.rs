//! LIME on a model: the surrogate of [`crate::surrogate`] fitted to a target logit f of one input
//! whose tokens are masked by replacing their `embed` activation with a baseline's.
//!
//! Only the tokens that are not special are perturbed: `[CLS]`, `[SEP]` and their kind are kept
//! in every sample (as integrated gradients and occlusion keep them in the baseline), so the
//! surrogate has one feature per real token and special tokens get a coefficient of exactly 0.
//! Masking a token replaces its `embed` row by the baseline activation's row at the same
//! position, which for a token baseline is the same as replacing the token id (see
//! [`crate::attribution`]). Each distinct mask runs through the model once (samples that
//! repeat a mask, such as the ones that drop every token, reuse its output), with one more mask
//! for f with every real token masked, in batches of at most `rows_per_pass` rows.

use crate::attribution::{
    AttributionInput, Objective, SiteActivation, masked_outputs, site_activation,
};
use crate::error::ProbeError;
use crate::surrogate::{SurrogateOptions, fit_surrogate, sample_masks};
use cavern_model::{LoadedModel, Site, SitePoint};
use std::collections::HashMap;

/// A LIME explanation of one input.
#[derive(Debug, Clone, PartialEq)]
pub struct Lime {
    /// Per token (special tokens included, at 0): what keeping the token adds to f, by the
    /// surrogate.
    pub coefficients: Vec<f64>,
    /// Local fidelity: the weighted R² of the surrogate on its samples.
    pub r2: f64,
    /// f at the input.
    pub f_x: f64,
    /// f with every real token masked.
    pub f_baseline: f64,
    /// Samples the surrogate was fitted to (the input itself included).
    pub samples: usize,
}

/// Fits the LIME surrogate of f around `input`, masking with `base` (the baseline activation at
/// `embed`, see [`crate::attribution::baseline_activation`]). The masks are drawn from
/// `options.seed`, so the same seed gives the same explanation.
pub fn lime(
    model: &LoadedModel,
    input: &AttributionInput,
    objective: Objective,
    base: &SiteActivation,
    options: &SurrogateOptions,
    rows_per_pass: usize,
) -> Result<Lime, ProbeError> {
    let a = site_activation(model, input, Site::global(SitePoint::Embed))?;
    let real: Vec<usize> = (0..input.len())
        .filter(|&t| !input.special.get(t).copied().unwrap_or(false))
        .collect();
    let samples = options.samples.max(1);
    let free_masks = sample_masks(real.len(), samples, options.seed);
    let full = |free: &[bool]| -> Vec<bool> {
        let mut mask = vec![true; input.len()];
        for (&t, &keep) in real.iter().zip(free) {
            mask[t] = keep;
        }
        mask
    };
    // Distinct masks in order of first use; `slot[i]` is sample i's (the last: all masked).
    let mut distinct: Vec<Vec<bool>> = Vec::new();
    let mut index: HashMap<Vec<bool>, usize> = HashMap::new();
    let all_masked = vec![false; real.len()];
    let slot: Vec<usize> = free_masks
        .iter()
        .chain(std::iter::once(&all_masked))
        .map(|m| {
            *index.entry(m.clone()).or_insert_with(|| {
                distinct.push(full(m));
                distinct.len() - 1
            })
        })
        .collect();
    let outputs = masked_outputs(model, input, objective, &a, base, &distinct, rows_per_pass)?;
    let mut f: Vec<f64> = slot.iter().map(|&i| outputs[i]).collect();
    let f_baseline = f.pop().unwrap_or(f64::NAN);
    if let Some(bad) = f.iter().find(|v| !v.is_finite()) {
        return Err(ProbeError::Attribution(format!(
            "the model's output on a masked input is {bad}; LIME needs finite outputs"
        )));
    }
    let surrogate = fit_surrogate(&free_masks, &f, options);
    let mut coefficients = vec![0.0; input.len()];
    for (&t, &c) in real.iter().zip(&surrogate.coefficients) {
        coefficients[t] = c;
    }
    Ok(Lime {
        coefficients,
        r2: surrogate.r2,
        f_x: f[0],
        f_baseline,
        samples: surrogate.samples,
    })
}
