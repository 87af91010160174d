//! The model's forward pass over many inputs: `batch_size` inputs a pass, in input order, each
//! pass with hooks made for its inputs. Studies (and `cavern extract`) run their texts through the
//! model here (or through the activation cache), so that how inputs are batched is decided in one
//! place.

use super::StudyError;
use super::outputs::{OutputRow, logit_rows};
use burn::tensor::Tensor;
use cavern_intervene::{Intervention, Interventions};
use cavern_model::{Hooks, LoadedModel, Site};
use cavern_probe::ProbeError;
use cavern_probe::pool::{Pooling, pool};
use std::collections::BTreeMap;

/// Token ids of each text.
pub fn encode(model: &LoadedModel, texts: &[String]) -> Result<Vec<Vec<u32>>, StudyError> {
    let encodings = model.encode_texts(texts).map_err(ProbeError::from)?;
    Ok(encodings.into_iter().map(|e| e.ids).collect())
}

/// The inputs of one forward pass: their indices among all inputs, and their token ids.
pub struct Pass<'i> {
    /// Index of each input of the pass among all the inputs.
    pub indices: Vec<usize>,
    /// Token ids of each input of the pass.
    pub inputs: &'i [Vec<u32>],
}

/// Runs `inputs` (token ids) through `model`, `batch_size` a pass, in order. `hooks` makes a
/// pass's hooks from its inputs; `read` takes the pass, its logits and its hooks (with what they
/// recorded) and returns one item per input of the pass. Returns the items in input order.
pub fn forward_batches<H: Hooks, T>(
    model: &LoadedModel,
    inputs: &[Vec<u32>],
    batch_size: usize,
    mut hooks: impl FnMut(&[Vec<u32>]) -> H,
    mut read: impl FnMut(&Pass<'_>, Tensor<2>, H) -> Result<Vec<T>, StudyError>,
) -> Result<Vec<T>, StudyError> {
    let size = batch_size.max(1);
    let mut out = Vec::with_capacity(inputs.len());
    for (n, chunk) in inputs.chunks(size).enumerate() {
        let pass = Pass {
            indices: (n * size..n * size + chunk.len()).collect(),
            inputs: chunk,
        };
        let batch = model.batch(chunk.to_vec());
        let mut pass_hooks = hooks(chunk);
        let logits = model.transformer.forward(&batch, &mut pass_hooks).logits;
        out.extend(read(&pass, logits, pass_hooks)?);
    }
    Ok(out)
}

/// The output row of each input, `batch_size` inputs a pass, with `interventions` applied at
/// every pass (none: the plain model).
pub fn output_rows(
    model: &LoadedModel,
    inputs: &[Vec<u32>],
    batch_size: usize,
    interventions: &[Intervention],
) -> Result<Vec<OutputRow>, StudyError> {
    forward_batches(
        model,
        inputs,
        batch_size,
        |_| Interventions::new(interventions.to_vec()),
        |_, logits, hooks| {
            hooks.check().map_err(ProbeError::from)?;
            Ok(logit_rows(logits))
        },
    )
}

/// Pooled activations of `texts` at each of `sites`, `batch_size` texts a pass: per site, one
/// row per text (padding never enters a pool).
pub fn pooled(
    model: &LoadedModel,
    texts: &[String],
    sites: &[Site],
    pooling: Pooling,
    batch_size: usize,
) -> Result<BTreeMap<Site, Vec<Vec<f32>>>, StudyError> {
    let recording = |_: &[Vec<u32>]| Interventions::recording(sites.iter().copied());
    let ids = encode(model, texts)?;
    // Per text, its row at each site.
    let rows = forward_batches(model, &ids, batch_size, recording, |pass, _, hooks| {
        let cache = hooks.into_recorded().map_err(ProbeError::from)?;
        let lengths: Vec<usize> = pass.inputs.iter().map(Vec::len).collect();
        let mut per_site = Vec::with_capacity(sites.len());
        for site in sites {
            let x = cache
                .stream(site)
                .ok_or_else(|| ProbeError::NotRecorded(site.to_string()))?;
            per_site.push(pool(x, &lengths, pooling).into_iter());
        }
        Ok((0..pass.inputs.len())
            .map(|_| {
                per_site
                    .iter_mut()
                    .filter_map(Iterator::next)
                    .collect::<Vec<_>>()
            })
            .collect())
    })?;
    let mut out: BTreeMap<Site, Vec<Vec<f32>>> = sites
        .iter()
        .map(|s| (*s, Vec::with_capacity(texts.len())))
        .collect();
    for text in rows {
        for (site, row) in sites.iter().zip(text) {
            out.entry(*site).or_default().push(row);
        }
    }
    Ok(out)
}

/// The logits of all `inputs` in one pass: the reference a metric compares runs with, computed
/// in the same batch the runs compared with it use.
pub fn logits_in_one_pass(model: &LoadedModel, inputs: &[Vec<u32>]) -> Tensor<2> {
    let batch = model.batch(inputs.to_vec());
    model
        .transformer
        .forward(&batch, &mut cavern_model::NoHooks)
        .logits
}
