//! Token attributions: which input tokens drive a target logit f.
//!
//! f is one output logit (a classifier class, centred over classes as the model computes it, or
//! a decoder's next-token logit at the last real token), or the difference of two. Every method
//! gives one value per token of one input:
//!
//! - **saliency**: ‖∂f/∂a_t‖₂, the gradient norm at the token's activation a_t at a site;
//! - **gradient × input**: Σ_d (∂f/∂a_td)·a_td;
//! - **integrated gradients** (Sundararajan et al. 2017) over the site's activation a with a
//!   baseline a': Σ_d (a − a')_td · mean_k ∂f/∂a_td at a' + α_k(a − a'), with α_k the midpoints
//!   (k + ½)/steps of [0, 1]. Completeness: the attributions sum to f(a) − f(a') up to the error
//!   of the midpoint rule, which [`IntegratedGradients::completeness_gap`] reports. At a site
//!   inside the network this is *layer* integrated gradients;
//! - **occlusion**: f(x) − f(x with a window of tokens replaced by the baseline), each token
//!   getting the mean over the windows that cover it (one window per token when `window = 1`).
//!
//! The "input" of the gradient methods is the activation at a hook site. At `embed` that is the
//! token embedding (+ learned positions) — *after* the embedding LayerNorm in post-norm encoders
//! (BERT, MiniLM, `toy-sentiment`), so the path of integrated gradients runs between normalised
//! embeddings, not raw embedding rows.
//!
//! The baseline a' is zeros, or the activation the model produces at the site when every token
//! that is not special is replaced by one baseline token (pad, `[MASK]`, ...); special tokens
//! (`[CLS]`, `[SEP]`) stay, so at `embed` their baseline equals their activation and they get
//! exactly zero integrated-gradients and occlusion attribution. Occlusion replaces the window's
//! `embed` activation with the baseline's at those positions, which for a token baseline is the
//! same as replacing the token ids.
//!
//! Every pass runs on the model's device; gradients come from a gradient tap at the site (see
//! [`Interventions::with_gradient_tap`]), and path points and occluded inputs enter through a
//! `set` intervention at that site.

use crate::error::ProbeError;
use burn::tensor::{Tensor, TensorData};
use cavern_intervene::{Activation, ActivationCache, Intervention, Interventions, Op};
use cavern_model::{BatchInfo, LoadedModel, Site, SitePoint};

/// Name of the source cache the `set` intervention reads.
const SOURCE: &str = "attribution";

/// The scalar an attribution explains: logit `target`, minus logit `minus` when given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Objective {
    /// Index of the logit (class index, or token id for a decoder).
    pub target: usize,
    /// Index of a logit to subtract (a logit difference `l_target − l_minus`).
    pub minus: Option<usize>,
}

impl Objective {
    /// One logit.
    pub fn logit(target: usize) -> Objective {
        Objective {
            target,
            minus: None,
        }
    }

    /// The difference `l_target − l_minus`.
    pub fn difference(target: usize, minus: usize) -> Objective {
        Objective {
            target,
            minus: Some(minus),
        }
    }

    /// `[rows]` values of f from `[rows, outputs]` logits.
    fn of(&self, logits: Tensor<2>) -> Tensor<1> {
        let [rows, _] = logits.dims();
        let f = logits.clone().narrow(1, self.target, 1);
        let f = match self.minus {
            Some(minus) => f - logits.narrow(1, minus, 1),
            None => f,
        };
        f.reshape([rows])
    }

    /// Checks that the logits exist.
    fn check(&self, outputs: usize) -> Result<(), ProbeError> {
        for index in std::iter::once(self.target).chain(self.minus) {
            if index >= outputs {
                return Err(ProbeError::Attribution(format!(
                    "logit {index} does not exist; the model has {outputs} outputs"
                )));
            }
        }
        Ok(())
    }
}

/// What an absent token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// The zero activation at the site.
    Zeros,
    /// The activation of this token id in place of every non-special token.
    Token(u32),
}

/// One tokenized input: its ids and which of them are special tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttributionInput {
    /// Token ids, special tokens included.
    pub ids: Vec<u32>,
    /// Whether each token is special (`[CLS]`, `[SEP]`); kept in the baseline.
    pub special: Vec<bool>,
}

impl AttributionInput {
    /// Ids with every non-special token replaced by `token`.
    pub fn baseline_ids(&self, token: u32) -> Vec<u32> {
        self.ids
            .iter()
            .zip(&self.special)
            .map(|(&id, &special)| if special { id } else { token })
            .collect()
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

/// Per-token gradient attributions at a site, and f(x).
#[derive(Debug, Clone, PartialEq)]
pub struct GradientAttributions {
    /// f at the input.
    pub f_x: f64,
    /// ‖∂f/∂a_t‖₂ per token.
    pub saliency: Vec<f64>,
    /// Σ_d (∂f/∂a_td)·a_td per token.
    pub gradient_x_input: Vec<f64>,
}

/// Integrated gradients of one input.
#[derive(Debug, Clone, PartialEq)]
pub struct IntegratedGradients {
    /// Attribution per token.
    pub attributions: Vec<f64>,
    /// f at the input (α = 1).
    pub f_x: f64,
    /// f at the baseline (α = 0).
    pub f_baseline: f64,
    /// Σ_t attribution_t − (f_x − f_baseline).
    pub completeness_gap: f64,
}

/// An activation of one input at a site, `[tokens, width]` row-major, on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteActivation {
    /// Tokens.
    pub tokens: usize,
    /// Width of the site.
    pub width: usize,
    /// Values.
    pub values: Vec<f32>,
}

impl SiteActivation {
    fn zeros(tokens: usize, width: usize) -> SiteActivation {
        SiteActivation {
            tokens,
            width,
            values: vec![0.0; tokens * width],
        }
    }
}

/// The activation of `ids` at `site`, and f there.
fn record(
    model: &LoadedModel,
    ids: &[u32],
    site: Site,
    objective: Objective,
) -> Result<(SiteActivation, f64), ProbeError> {
    let batch = model.batch(vec![ids.to_vec()]);
    let mut hooks = Interventions::recording([site]);
    let logits = model.transformer.forward(&batch, &mut hooks).logits;
    objective.check(logits.dims()[1])?;
    let f = to_f64(objective.of(logits))[0];
    let cache = hooks.into_recorded()?;
    let x = cache
        .stream(&site)
        .ok_or_else(|| ProbeError::NotRecorded(site.to_string()))?;
    let [_, tokens, width] = x.dims();
    let values = x.into_data().try_into_vec_as::<f32>().unwrap_or_default();
    Ok((
        SiteActivation {
            tokens,
            width,
            values,
        },
        f,
    ))
}

/// The input's activation at `site`.
pub fn site_activation(
    model: &LoadedModel,
    input: &AttributionInput,
    site: Site,
) -> Result<SiteActivation, ProbeError> {
    record(model, &input.ids, site, Objective::logit(0)).map(|(a, _)| a)
}

/// The baseline activation a' of an input at `site` (see the module notes).
pub fn baseline_activation(
    model: &LoadedModel,
    input: &AttributionInput,
    site: Site,
    baseline: Baseline,
) -> Result<SiteActivation, ProbeError> {
    match baseline {
        Baseline::Token(token) => {
            let ids = input.baseline_ids(token);
            record(model, &ids, site, Objective::logit(0)).map(|(a, _)| a)
        }
        Baseline::Zeros => {
            let a = site_activation(model, input, site)?;
            Ok(SiteActivation::zeros(a.tokens, a.width))
        }
    }
}

/// Runs `rows` copies of the input with the activation at `site` set to `values`
/// (`[rows, tokens, width]`), returning f per row and, when `gradient`, ∂f/∂(site) per row.
fn run_set(
    model: &LoadedModel,
    ids: &[u32],
    site: Site,
    objective: Objective,
    values: Vec<f32>,
    rows: usize,
    gradient: bool,
) -> Result<(Vec<f64>, Option<Vec<f32>>), ProbeError> {
    let tokens = ids.len();
    let width = values.len() / (rows * tokens).max(1);
    let device = model.transformer.device();
    let value: Tensor<3> =
        Tensor::from_data(TensorData::new(values, [rows, tokens, width]), &device);
    let batch = model.batch(vec![ids.to_vec(); rows]);
    let info = BatchInfo {
        lengths: vec![tokens; rows],
        seq_len: tokens,
    };
    let mut source = ActivationCache::default();
    source.insert(site, &info, Activation::Stream(value));
    let set = Intervention::new(
        site,
        Op::Set {
            source: SOURCE.into(),
        },
    );
    let mut hooks = Interventions::new(vec![set]).with_source(SOURCE, source);
    if gradient {
        hooks = hooks.with_gradient_tap(site);
    }
    let logits = model.transformer.forward(&batch, &mut hooks).logits;
    hooks.check()?;
    objective.check(logits.dims()[1])?;
    let f = objective.of(logits);
    let values = to_f64(f.clone());
    if !gradient {
        return Ok((values, None));
    }
    let grads = f.sum().backward();
    let g = hooks
        .stream_gradient(&site, &grads)
        .ok_or_else(|| ProbeError::NoGradient(site.to_string()))?;
    let g = g.into_data().try_into_vec_as::<f32>().unwrap_or_default();
    Ok((values, Some(g)))
}

fn to_f64(x: Tensor<1>) -> Vec<f64> {
    x.into_data().try_into_vec_as::<f64>().unwrap_or_default()
}

/// The gradient of f at one input's activation at a site.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteGradient {
    /// The activation a.
    pub activation: SiteActivation,
    /// f at the input.
    pub f_x: f64,
    /// ∂f/∂a, `[tokens, width]` row-major like the activation.
    pub gradient: Vec<f32>,
}

/// f and ∂f/∂a at one input's activation a at `site`: one forward and one backward pass.
pub fn site_gradient(
    model: &LoadedModel,
    input: &AttributionInput,
    site: Site,
    objective: Objective,
) -> Result<SiteGradient, ProbeError> {
    let a = site_activation(model, input, site)?;
    let (f, g) = run_set(
        model,
        &input.ids,
        site,
        objective,
        a.values.clone(),
        1,
        true,
    )?;
    Ok(SiteGradient {
        activation: a,
        f_x: f[0],
        gradient: g.unwrap_or_default(),
    })
}

/// Saliency and gradient × input of one input at `site`: one forward and one backward pass.
pub fn gradient_attributions(
    model: &LoadedModel,
    input: &AttributionInput,
    site: Site,
    objective: Objective,
) -> Result<GradientAttributions, ProbeError> {
    let SiteGradient {
        activation: a,
        f_x,
        gradient: g,
    } = site_gradient(model, input, site, objective)?;
    let w = a.width;
    let mut saliency = Vec::with_capacity(a.tokens);
    let mut gradient_x_input = Vec::with_capacity(a.tokens);
    for t in 0..a.tokens {
        let gt = &g[t * w..(t + 1) * w];
        let at = &a.values[t * w..(t + 1) * w];
        saliency.push(gt.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>().sqrt());
        gradient_x_input.push(
            gt.iter()
                .zip(at)
                .map(|(&gv, &av)| f64::from(gv) * f64::from(av))
                .sum(),
        );
    }
    Ok(GradientAttributions {
        f_x,
        saliency,
        gradient_x_input,
    })
}

/// Integrated gradients of one input at `site` from the baseline activation `base` (see
/// [`baseline_activation`]), with `steps` midpoint steps run `rows_per_pass` path points per
/// forward/backward pass (the two end points ride along in the first pass).
pub fn integrated_gradients(
    model: &LoadedModel,
    input: &AttributionInput,
    site: Site,
    objective: Objective,
    base: &SiteActivation,
    steps: usize,
    rows_per_pass: usize,
) -> Result<IntegratedGradients, ProbeError> {
    let a = site_activation(model, input, site)?;
    if a.values.len() != base.values.len() {
        return Err(ProbeError::Attribution(format!(
            "the baseline at {site} has shape [{}, {}], the input [{}, {}]",
            base.tokens, base.width, a.tokens, a.width
        )));
    }
    let steps = steps.max(1);
    let delta: Vec<f32> = a
        .values
        .iter()
        .zip(&base.values)
        .map(|(x, b)| x - b)
        .collect();
    let point = |alpha: f32| -> Vec<f32> {
        base.values
            .iter()
            .zip(&delta)
            .map(|(b, d)| b + alpha * d)
            .collect()
    };
    // The end points (α = 0 and 1) first, then the midpoints.
    let mut alphas: Vec<f32> = vec![0.0, 1.0];
    alphas.extend((0..steps).map(|k| (k as f32 + 0.5) / steps as f32));
    let size = a.values.len();
    let mut gradient_sum = vec![0.0f64; size];
    let mut ends = Vec::with_capacity(2);
    for (pass, chunk) in alphas.chunks(rows_per_pass.max(3)).enumerate() {
        let values: Vec<f32> = chunk.iter().flat_map(|&alpha| point(alpha)).collect();
        let (f, g) = run_set(
            model,
            &input.ids,
            site,
            objective,
            values,
            chunk.len(),
            true,
        )?;
        let g = g.unwrap_or_default();
        let skip = if pass == 0 { 2 } else { 0 };
        if pass == 0 {
            ends.extend_from_slice(&f[..2]);
        }
        for row in g.chunks_exact(size).skip(skip) {
            for (sum, &v) in gradient_sum.iter_mut().zip(row) {
                *sum += f64::from(v);
            }
        }
    }
    let w = a.width;
    let attributions: Vec<f64> = (0..a.tokens)
        .map(|t| {
            (t * w..(t + 1) * w)
                .map(|i| f64::from(delta[i]) * gradient_sum[i] / steps as f64)
                .sum()
        })
        .collect();
    let (f_baseline, f_x) = (ends[0], ends[1]);
    let completeness_gap = attributions.iter().sum::<f64>() - (f_x - f_baseline);
    Ok(IntegratedGradients {
        attributions,
        f_x,
        f_baseline,
        completeness_gap,
    })
}

/// f for each mask over the input's tokens (`true` = keep): the `embed` activation `a` with every
/// dropped token's row replaced by the baseline's (`base`), at most `rows_per_pass` masks per
/// forward pass.
pub(crate) fn masked_outputs(
    model: &LoadedModel,
    input: &AttributionInput,
    objective: Objective,
    a: &SiteActivation,
    base: &SiteActivation,
    masks: &[Vec<bool>],
    rows_per_pass: usize,
) -> Result<Vec<f64>, ProbeError> {
    if a.values.len() != base.values.len() {
        return Err(ProbeError::Attribution(format!(
            "the baseline at embed has shape [{}, {}], the input [{}, {}]",
            base.tokens, base.width, a.tokens, a.width
        )));
    }
    let w = a.width;
    let masked = |mask: &Vec<bool>| -> Vec<f32> {
        let mut v = a.values.clone();
        for (t, _) in mask.iter().enumerate().filter(|(_, keep)| !**keep) {
            v[t * w..(t + 1) * w].copy_from_slice(&base.values[t * w..(t + 1) * w]);
        }
        v
    };
    let site = Site::global(SitePoint::Embed);
    let mut f = Vec::with_capacity(masks.len());
    for chunk in masks.chunks(rows_per_pass.max(1)) {
        let values: Vec<f32> = chunk.iter().flat_map(masked).collect();
        let (fs, _) = run_set(
            model,
            &input.ids,
            site,
            objective,
            values,
            chunk.len(),
            false,
        )?;
        f.extend(fs);
    }
    Ok(f)
}

/// The windows `[start, start + window)` occlusion replaces: one per start position, or one
/// covering every token when the input is shorter than the window.
pub fn occlusion_windows(tokens: usize, window: usize) -> Vec<std::ops::Range<usize>> {
    let window = window.clamp(1, tokens.max(1));
    (0..=tokens.saturating_sub(window))
        .map(|start| start..start + window)
        .collect()
}

/// Occlusion of one input: per token, the mean over the windows covering it of
/// f(x) − f(x with the window's `embed` activation replaced by the baseline's). `base` is the
/// baseline activation at `embed`. All windows (and the unoccluded input) run as one batch of
/// at most `rows_per_pass` rows per pass.
pub fn occlusion(
    model: &LoadedModel,
    input: &AttributionInput,
    objective: Objective,
    base: &SiteActivation,
    window: usize,
    rows_per_pass: usize,
) -> Result<Vec<f64>, ProbeError> {
    let site = Site::global(SitePoint::Embed);
    let a = site_activation(model, input, site)?;
    let windows = occlusion_windows(input.len(), window);
    // Row 0 is the input itself.
    let mut masks = vec![vec![true; input.len()]];
    masks.extend(windows.iter().map(|range| {
        (0..input.len())
            .map(|t| !range.contains(&t))
            .collect::<Vec<bool>>()
    }));
    let f = masked_outputs(model, input, objective, &a, base, &masks, rows_per_pass)?;
    let f_x = f[0];
    let mut sums = vec![0.0f64; input.len()];
    let mut counts = vec![0usize; input.len()];
    for (range, f_occluded) in windows.iter().zip(&f[1..]) {
        for t in range.clone() {
            sums[t] += f_x - f_occluded;
            counts[t] += 1;
        }
    }
    Ok(sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| s / c.max(1) as f64)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_slide_by_one_and_cover_short_inputs() {
        assert_eq!(occlusion_windows(4, 1), vec![0..1, 1..2, 2..3, 3..4]);
        assert_eq!(occlusion_windows(4, 3), vec![0..3, 1..4]);
        assert_eq!(occlusion_windows(2, 5), vec![0..2]);
    }

    #[test]
    fn the_baseline_keeps_special_tokens() {
        let input = AttributionInput {
            ids: vec![101, 7, 8, 102],
            special: vec![true, false, false, true],
        };
        assert_eq!(input.baseline_ids(0), vec![101, 0, 0, 102]);
    }
}
