//! TCAV directional derivatives: S(x) = ⟨∇ₕ f(x), v⟩ with h the activation at a site summed over
//! real positions — the slope of the target when α·v is added at every position, at α = 0.

use crate::error::ProbeError;
use crate::pool::sum_real;
use cavern_intervene::Interventions;
use cavern_model::batch::{in_sequence_order, length_buckets};
use cavern_model::{LoadedModel, Site};

/// Per text, ∂f/∂h at `site` summed over real positions, where f is output logit `target`.
///
/// One forward and one backward pass per batch of `batch_size` texts of similar length
/// ([`length_buckets`]); the rows, in text order, can then be dotted with any number of
/// directions.
pub fn summed_gradients(
    model: &LoadedModel,
    texts: &[String],
    site: Site,
    target: usize,
    batch_size: usize,
) -> Result<Vec<Vec<f32>>, ProbeError> {
    let ids: Vec<Vec<u32>> = (model.encode_texts(texts)?.into_iter())
        .map(|e| e.ids)
        .collect();
    let lengths: Vec<usize> = ids.iter().map(Vec::len).collect();
    let passes = length_buckets(&lengths, batch_size);
    let mut rows = Vec::with_capacity(texts.len());
    for pass in &passes {
        let batch = model.batch(pass.iter().map(|&i| ids[i].clone()).collect());
        let mut hooks = Interventions::new(Vec::new()).with_gradient_tap(site);
        let logits = model.transformer.forward(&batch, &mut hooks).logits;
        hooks.check()?;
        let f = logits.narrow(1, target, 1).sum();
        let grads = f.backward();
        let g = hooks
            .stream_gradient(&site, &grads)
            .ok_or_else(|| ProbeError::NoGradient(site.to_string()))?;
        rows.extend(sum_real(g, &batch.info().lengths));
    }
    // `sum_real` gives one row a text of the pass, so the rows match the passes one to one.
    in_sequence_order(&passes, rows).ok_or_else(|| ProbeError::NoGradient(site.to_string()))
}

/// S(x) = ⟨g(x), v⟩ for each gradient row.
pub fn directional_derivatives(gradients: &[Vec<f32>], direction: &[f32]) -> Vec<f64> {
    gradients
        .iter()
        .map(|g| {
            g.iter()
                .zip(direction)
                .map(|(a, b)| (*a as f64) * (*b as f64))
                .sum()
        })
        .collect()
}

/// The TCAV score: the fraction of inputs whose directional derivative is positive.
pub fn tcav_score(derivatives: &[f64]) -> f64 {
    derivatives.iter().filter(|&&s| s > 0.0).count() as f64 / derivatives.len().max(1) as f64
}
