//! The model's forward pass over many inputs: `batch_size` inputs a pass, in input order, each
//! pass with hooks made for its inputs. Studies (and `cavern extract`) run their texts through the
//! model here (or through the activation cache), so that how inputs are batched is decided in one
//! place.

use super::StudyError;
use super::outputs::{OutputRow, logit_rows};
use burn::tensor::Tensor;
use cavern_intervene::{Intervention, Interventions};
use cavern_model::batch::{in_sequence_order, length_buckets};
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
pub struct Pass {
    /// Index of each input of the pass among all the inputs.
    pub indices: Vec<usize>,
    /// Token ids of each input of the pass, in pass order (`indices[k]` is `inputs[k]`'s).
    pub inputs: Vec<Vec<u32>>,
}

/// Runs `inputs` (token ids) through `model`, `batch_size` a pass, inputs of similar length
/// together ([`length_buckets`]: sorted by length, ties in input order), so that a pass pads
/// little. `hooks` makes a pass's hooks from the pass; `read` takes the pass,
/// its logits and its hooks (with what they recorded) and returns one item per input of the
/// pass, in pass order. Returns the items in input order.
///
/// A text's numbers do not depend on which texts share its pass beyond float rounding: padding
/// is masked out of attention and pools, but a pass's padded length changes the shapes the
/// matrix products run at (see the `bucketing` tests for the bound).
pub fn forward_batches<H: Hooks, T>(
    model: &LoadedModel,
    inputs: &[Vec<u32>],
    batch_size: usize,
    hooks: impl FnMut(&Pass) -> H,
    read: impl FnMut(&Pass, Tensor<2>, H) -> Result<Vec<T>, StudyError>,
) -> Result<Vec<T>, StudyError> {
    let lengths: Vec<usize> = inputs.iter().map(Vec::len).collect();
    let passes = length_buckets(&lengths, batch_size);
    let items = forward_passes(model, inputs, &passes, hooks, read)?;
    let count = items.len();
    in_sequence_order(&passes, items).ok_or(StudyError::PassItems {
        inputs: inputs.len(),
        items: count,
    })
}

/// Runs `inputs` through `model` in the given `passes` (each a list of input indices), in
/// order, and returns `read`'s items pass by pass.
pub fn forward_passes<H: Hooks, T>(
    model: &LoadedModel,
    inputs: &[Vec<u32>],
    passes: &[Vec<usize>],
    mut hooks: impl FnMut(&Pass) -> H,
    mut read: impl FnMut(&Pass, Tensor<2>, H) -> Result<Vec<T>, StudyError>,
) -> Result<Vec<T>, StudyError> {
    let mut out = Vec::with_capacity(inputs.len());
    for indices in passes {
        let pass = Pass {
            inputs: indices.iter().map(|&i| inputs[i].clone()).collect(),
            indices: indices.clone(),
        };
        let batch = model.batch(pass.inputs.clone());
        let mut pass_hooks = hooks(&pass);
        let logits = model.transformer.forward(&batch, &mut pass_hooks).logits;
        let items = read(&pass, logits, pass_hooks)?;
        if items.len() != indices.len() {
            return Err(StudyError::PassItems {
                inputs: indices.len(),
                items: items.len(),
            });
        }
        out.extend(items);
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
    let recording = |_: &Pass| Interventions::recording(sites.iter().copied());
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

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use cavern_model::SitePoint;
    use cavern_model::builtin::load_builtin;
    use cavern_model::toy::recall::SYMBOLS;
    use cavern_model::toy::sentiment::{COLOURS, NOUNS, POSITIVE};

    /// Toy-sentiment texts of 4 to 16 tokens (the model takes 16), lengths shuffled so that consecutive passes mix them.
    fn sentiment_texts() -> Vec<String> {
        (0..23)
            .map(|i| {
                let words = (i * 5) % 7;
                let mut text = format!("the {} was {}", NOUNS[i % 8], POSITIVE[(i / 3) % 8]);
                for w in 0..words {
                    text.push_str(&format!(" and {}", COLOURS[(i + w) % 8]));
                }
                text
            })
            .collect()
    }

    /// The passes of the engine before length bucketing: consecutive inputs.
    fn in_order(n: usize, batch_size: usize) -> Vec<Vec<usize>> {
        let all: Vec<usize> = (0..n).collect();
        all.chunks(batch_size).map(<[usize]>::to_vec).collect()
    }

    /// Largest |a − b| over two lists of rows.
    fn max_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .flat_map(|(x, y)| {
                assert_eq!(x.len(), y.len());
                x.iter().zip(y).map(|(p, q)| (p - q).abs())
            })
            .fold(0.0, f32::max)
    }

    /// Toy-recall prompts of 3 to 15 tokens.
    fn recall_texts() -> Vec<String> {
        (0..19)
            .map(|i| {
                let n = 2 + (i * 5) % 13;
                let symbols: Vec<&str> = (0..n).map(|k| SYMBOLS[(i + 3 * k) % 16]).collect();
                format!("{} =", symbols.join(" "))
            })
            .collect()
    }

    /// Per input, its logits then its mean-pooled `resid_post` at every layer, from bucketed
    /// passes and from the consecutive passes the engine ran before.
    fn bucketed_and_in_order(model: &str, texts: &[String]) -> [Vec<Vec<f32>>; 2] {
        let model = load_builtin(model, &Device::flex()).unwrap();
        let ids = encode(&model, texts).unwrap();
        let sites: Vec<Site> = (0..model.n_layers())
            .map(|layer| Site::new(SitePoint::ResidPost, layer))
            .collect();
        let read = |pass: &Pass, logits: Tensor<2>, hooks: Interventions| {
            let cache = hooks.into_recorded().map_err(ProbeError::from)?;
            let lengths: Vec<usize> = pass.inputs.iter().map(Vec::len).collect();
            let mut rows: Vec<Vec<f32>> =
                logit_rows(logits).into_iter().map(|r| r.logits).collect();
            for site in &sites {
                let x = cache.stream(site).expect("recorded");
                for (row, pooled) in rows.iter_mut().zip(pool(x, &lengths, Pooling::Mean)) {
                    row.extend(pooled);
                }
            }
            Ok(rows)
        };
        let recording = |_: &Pass| Interventions::recording(sites.iter().copied());
        let bucketed = forward_batches(&model, &ids, 4, recording, read).unwrap();
        let passes = in_order(ids.len(), 4);
        let plain = forward_passes(&model, &ids, &passes, recording, read).unwrap();
        let plain = in_sequence_order(&passes, plain).unwrap();
        // The same inputs give the same passes: a repeated run is bit-identical.
        let again = forward_batches(&model, &ids, 4, recording, read).unwrap();
        assert_eq!(bucketed, again);
        [bucketed, plain]
    }

    /// On the toy models a text's numbers are bit-identical however its pass is padded: masked
    /// keys get softmax weight exactly 0 and add exactly 0, and these small matrix products
    /// sum each entry in the same order at every padded length. (Larger models' products may
    /// block their sums by shape; tests/bucketing.rs and the MiniLM check in tests/real_models.rs state the bounds.)
    #[test]
    fn bucketed_passes_give_the_unbucketed_numbers() {
        for (model, texts) in [
            ("toy-sentiment", sentiment_texts()),
            ("toy-recall", recall_texts()),
        ] {
            let [bucketed, plain] = bucketed_and_in_order(model, &texts);
            assert_eq!(bucketed.len(), texts.len());
            assert!(
                bucketed == plain,
                "{model}: bucketed rows differ by up to {:e}",
                max_diff(&bucketed, &plain)
            );
        }
    }

    #[test]
    fn a_reader_with_the_wrong_number_of_items_is_an_error() {
        let model = load_builtin("toy-recall", &Device::flex()).unwrap();
        let ids = encode(&model, &recall_texts()[..3]).unwrap();
        let err = forward_batches(
            &model,
            &ids,
            2,
            |_| cavern_model::NoHooks,
            |_, _, _| Ok(vec![()]),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                StudyError::PassItems {
                    inputs: 2,
                    items: 1
                }
            ),
            "{err}"
        );
    }
}
