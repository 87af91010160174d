//! Batched activation extraction: pooled activations at many sites in one pass per batch.

use crate::error::ProbeError;
use crate::pool::{Pooling, pool};
use cavern_intervene::Interventions;
use cavern_model::{LoadedModel, Site};
use std::collections::BTreeMap;

/// Pooled activations of `texts` at each of `sites`: per site, one row per text.
pub fn pooled_activations(
    model: &LoadedModel,
    texts: &[String],
    sites: &[Site],
    pooling: Pooling,
    batch_size: usize,
) -> Result<BTreeMap<Site, Vec<Vec<f32>>>, ProbeError> {
    let mut out: BTreeMap<Site, Vec<Vec<f32>>> = sites.iter().map(|s| (*s, Vec::new())).collect();
    for chunk in texts.chunks(batch_size.max(1)) {
        let batch = model.encode(chunk)?;
        let mut hooks = Interventions::recording(sites.iter().copied());
        model.transformer.forward(&batch, &mut hooks);
        let cache = hooks.into_recorded()?;
        let lengths = batch.info().lengths;
        for site in sites {
            let x = cache
                .stream(site)
                .ok_or_else(|| ProbeError::NotRecorded(site.to_string()))?;
            out.entry(*site)
                .or_default()
                .extend(pool(x, &lengths, pooling));
        }
    }
    Ok(out)
}
