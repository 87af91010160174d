//! TCAV directional derivatives: S(x) = ⟨∇ₕ f(x), v⟩ with h the activation at a site summed over
//! real positions — the slope of the target when α·v is added at every position, at α = 0.

use crate::error::ProbeError;
use crate::pool::sum_real;
use cavern_intervene::Interventions;
use cavern_model::{LoadedModel, Site};

/// Per text, ∂f/∂h at `site` summed over real positions, where f is output logit `target`.
///
/// One forward and one backward pass per batch; the rows can then be dotted with any number of
/// directions.
pub fn summed_gradients(
    model: &LoadedModel,
    texts: &[String],
    site: Site,
    target: usize,
    batch_size: usize,
) -> Result<Vec<Vec<f32>>, ProbeError> {
    let mut rows = Vec::with_capacity(texts.len());
    for chunk in texts.chunks(batch_size.max(1)) {
        let batch = model.encode(chunk)?;
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
    Ok(rows)
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
