//! Recording the inputs' attention patterns, which the statistics and rollout/flow both read.

use crate::engine::StudyError;
use crate::engine::forward::{Pass, forward_passes};
use cavern_intervene::Interventions;
use cavern_model::tokenizer::Encoding;
use cavern_model::{LoadedModel, Site};
use cavern_probe::ProbeError;
use cavern_probe::attention::head_block;

/// One input's pattern at each recorded site: per head, its `[n, n]` block of real tokens.
pub(super) type Patterns = Vec<Vec<Vec<f32>>>;

/// The inputs' encodings and, per input, which tokens are special (`[CLS]`, `[SEP]`).
pub(super) fn encode_inputs(
    model: &LoadedModel,
    inputs: &[String],
) -> Result<(Vec<Encoding>, Vec<Vec<bool>>), StudyError> {
    let encodings = model.encode_texts(inputs).map_err(ProbeError::from)?;
    let special = inputs
        .iter()
        .map(|text| model.tokenizer().special_mask(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(ProbeError::from)?;
    Ok((encodings, special))
}

/// Records the attention pattern at `sites` for every input, `batch_size` inputs a pass, and
/// hands each input's [`Patterns`] to `visit` with the input's index, in input order. Inputs
/// longer than `max_tokens` are skipped.
///
/// Passes take consecutive inputs rather than length buckets: the visitors sum floats in visit
/// order, and putting bucketed passes back in input order would hold every input's patterns.
pub(super) fn each_pattern(
    model: &LoadedModel,
    encodings: &[Encoding],
    sites: &[Site],
    batch_size: usize,
    max_tokens: Option<usize>,
    mut visit: impl FnMut(usize, Patterns) -> Result<(), StudyError>,
) -> Result<(), StudyError> {
    let ids: Vec<Vec<u32>> = encodings.iter().map(|e| e.ids.clone()).collect();
    let recording = |_: &Pass| Interventions::recording(sites.iter().copied());
    let indices: Vec<usize> = (0..ids.len()).collect();
    let passes: Vec<Vec<usize>> = indices
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect();
    forward_passes(model, &ids, &passes, recording, |pass, _, hooks| {
        let cache = hooks.into_recorded().map_err(ProbeError::from)?;
        let mut recorded = Vec::with_capacity(sites.len());
        for site in sites {
            let pattern = cache
                .heads(site)
                .ok_or_else(|| ProbeError::NotRecorded(site.to_string()))?;
            let dims = pattern.dims();
            let flat = pattern
                .into_data()
                .try_into_vec_as::<f32>()
                .unwrap_or_default();
            recorded.push((flat, dims));
        }
        for (b, (&input, ids)) in pass.indices.iter().zip(&pass.inputs).enumerate() {
            let n = ids.len();
            if max_tokens.is_some_and(|max| n > max) {
                continue;
            }
            let patterns = (recorded.iter())
                .map(|(flat, dims)| {
                    (0..dims[1])
                        .map(|h| head_block(flat, *dims, b, h, n))
                        .collect::<Result<Vec<_>, _>>()
                })
                .collect::<Result<Patterns, _>>()?;
            visit(input, patterns)?;
        }
        Ok(vec![(); pass.inputs.len()])
    })?;
    Ok(())
}
