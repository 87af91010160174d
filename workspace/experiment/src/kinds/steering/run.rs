//! Running a `[[steering]]`: add α·v at a site and sweep α; per input the tracked probability, the
//! logit margin, the KL divergence to the unsteered output, top-k changes and (decoders)
//! greedy continuations; per α the flip rate and mean shifts; per input the smallest |α| that
//! flips the prediction (the activation-space counterfactual).
//!
//! α is in units of the mean L2 norm of the unsteered activations at the site over the
//! inputs' real tokens: α = 1 adds a vector as long as a typical token's activation.

use super::spec::{SteeringSource, SteeringSpec};
use super::steer::Steerer;
use super::tables::{SteeringFlip, SteeringOutput, SteeringRow, SteeringSummary};
use super::vector::{SteeringVector, steering_vector};
use crate::engine::forward::{Pass, encode, forward_batches};
use crate::engine::outputs::{OutputRow, index_label, target_index, tracked_label};
use crate::engine::{StudyContext, StudyError};
use cavern_intervene::Interventions;
use cavern_model::{LoadedModel, Site};
use cavern_probe::ProbeError;

/// The name of a steering vector's source in tables.
pub fn source_label(source: &SteeringSource) -> String {
    match source {
        SteeringSource::Concept(name) => format!("concept:{name}"),
        SteeringSource::Contrast { label, .. } => label.clone(),
        SteeringSource::File(path) => format!(
            "file:{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        ),
    }
}

/// Runs a steering study.
pub(super) fn run(
    study: &SteeringSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<SteeringOutput, StudyError> {
    let (index, model, batch_size) = (cx.index, cx.model, cx.batch_size());
    let inputs = encode(model, &study.inputs)?;
    let target = study
        .target
        .as_ref()
        .map(|t| target_index(model, t))
        .transpose()?;
    let label = source_label(&study.source);
    let target_name = tracked_label(study.target.as_ref());
    let mut out = SteeringOutput::default();
    for &layer in &study.layers {
        cx.progress
            .set_message(format!("steering {label} L{layer}"));
        let site = Site::new(study.site, layer);
        let vector = steering_vector(&study.source, site, study.pooling, cx)?;
        let scale = activation_scale(model, &inputs, site, batch_size)?;
        let steerer = Steerer {
            model,
            site,
            positions: study.positions,
            step: vector.direction.iter().map(|&v| v * scale as f32).collect(),
            batch_size,
        };
        let base = steerer.outputs(&inputs, 0.0)?;
        let tracked: Vec<usize> = base
            .iter()
            .map(|row| target.unwrap_or_else(|| row.predicted()))
            .collect();
        let cell = Cell {
            study: index,
            layer,
            site: study.site.as_str().to_owned(),
            vector: label.clone(),
            target: target_name.clone(),
        };
        for &alpha in &study.alphas {
            let rows = if alpha == 0.0 {
                base.clone()
            } else {
                steerer.outputs(&inputs, alpha)?
            };
            let continuations = match study.continue_tokens {
                0 => vec![Vec::new(); inputs.len()],
                n => steerer.continuations(&inputs, alpha, n)?,
            };
            let mut measured = Vec::with_capacity(inputs.len());
            for ((i, row), continuation) in rows.iter().enumerate().zip(&continuations) {
                let continuation = model.tokenizer().generated_text(continuation);
                let measure = Measure {
                    row,
                    base: &base[i],
                    tracked: tracked[i],
                    top_k: study.top_k,
                };
                measured.push(cell.row(
                    model,
                    (i, &study.inputs[i]),
                    alpha,
                    alpha * scale,
                    measure,
                    continuation,
                ));
            }
            out.summary
                .push(cell.summary(alpha, &measured, scale, &vector));
            out.rows.extend(measured);
        }
        if study.flip_bound > 0.0 {
            let original: Vec<usize> = base.iter().map(OutputRow::predicted).collect();
            let found = steerer.flip_alphas(&inputs, &original, study.flip_bound)?;
            for (i, [positive, negative]) in found.into_iter().enumerate() {
                let nearest = match (positive, negative) {
                    (Some(p), Some(n)) => Some(if p <= -n { p } else { n }),
                    (p, n) => p.or(n),
                };
                out.flips.push(SteeringFlip {
                    study: index,
                    layer,
                    site: cell.site.clone(),
                    vector: label.clone(),
                    input: i,
                    text: study.inputs[i].clone(),
                    predicted: index_label(model, original[i]),
                    flip_alpha_positive: positive.unwrap_or(f64::NAN),
                    flip_alpha_negative: negative.unwrap_or(f64::NAN),
                    flip_alpha: nearest.unwrap_or(f64::NAN),
                    bound: study.flip_bound,
                });
            }
        }
        cx.progress.inc(1);
    }
    Ok(out)
}

/// Mean L2 norm of the activation at `site` over every real token of `inputs`.
fn activation_scale(
    model: &LoadedModel,
    inputs: &[Vec<u32>],
    site: Site,
    batch_size: usize,
) -> Result<f64, StudyError> {
    let recording = |_: &Pass| Interventions::recording([site]);
    // Per input, the norm of each of its tokens' activations.
    let norms = forward_batches(model, inputs, batch_size, recording, |pass, _, hooks| {
        let cache = hooks.into_recorded().map_err(ProbeError::from)?;
        let x = cache
            .stream(&site)
            .ok_or_else(|| ProbeError::NotRecorded(site.to_string()))?;
        let [_, t, w] = x.dims();
        let values = x.into_data().try_into_vec_as::<f32>().unwrap_or_default();
        Ok((pass.inputs.iter().enumerate())
            .map(|(b, ids)| {
                (0..ids.len())
                    .map(|p| {
                        let token = &values[(b * t + p) * w..(b * t + p + 1) * w];
                        token
                            .iter()
                            .map(|&v| (v as f64).powi(2))
                            .sum::<f64>()
                            .sqrt()
                    })
                    .collect::<Vec<f64>>()
            })
            .collect())
    })?;
    // Summed in input and token order.
    let (mut total, mut count) = (0.0f64, 0usize);
    for norm in norms.iter().flatten() {
        total += norm;
        count += 1;
    }
    Ok(total / count.max(1) as f64)
}

/// What every row of one (study, layer) shares.
struct Cell {
    study: usize,
    layer: usize,
    site: String,
    vector: String,
    target: String,
}

/// One steered output beside the unsteered one.
struct Measure<'a> {
    row: &'a OutputRow,
    base: &'a OutputRow,
    tracked: usize,
    top_k: usize,
}

impl Cell {
    fn row(
        &self,
        model: &LoadedModel,
        (input, text): (usize, &str),
        alpha: f64,
        added_norm: f64,
        m: Measure<'_>,
        continuation: String,
    ) -> SteeringRow {
        let top = m.row.top(m.top_k);
        let base_top = m.base.top(m.top_k);
        SteeringRow {
            study: self.study,
            layer: self.layer,
            site: self.site.clone(),
            vector: self.vector.clone(),
            input,
            text: text.to_owned(),
            alpha,
            added_norm,
            target: self.target.clone(),
            p_target: m.row.probs[m.tracked],
            delta_p: m.row.probs[m.tracked] - m.base.probs[m.tracked],
            logit_margin: m.row.logit_margin(m.tracked),
            predicted: index_label(model, m.row.predicted()),
            flipped: m.row.predicted() != m.base.predicted(),
            kl: m.row.kl_from(m.base),
            top_k_changed: top.iter().filter(|i| !base_top.contains(i)).count(),
            top_k: (top.into_iter())
                .map(|i| index_label(model, i))
                .collect::<Vec<_>>()
                .join(" | "),
            continuation,
        }
    }

    fn summary(
        &self,
        alpha: f64,
        rows: &[SteeringRow],
        scale: f64,
        vector: &SteeringVector,
    ) -> SteeringSummary {
        let mean =
            |f: fn(&SteeringRow) -> f64| rows.iter().map(f).sum::<f64>() / rows.len().max(1) as f64;
        SteeringSummary {
            study: self.study,
            layer: self.layer,
            site: self.site.clone(),
            vector: self.vector.clone(),
            target: self.target.clone(),
            alpha,
            n_inputs: rows.len(),
            flip_rate: mean(|r| f64::from(u8::from(r.flipped))),
            mean_p_target: mean(|r| r.p_target),
            mean_delta_p: mean(|r| r.delta_p),
            mean_logit_margin: mean(|r| r.logit_margin),
            mean_kl: mean(|r| r.kl),
            mean_top_k_changed: mean(|r| r.top_k_changed as f64),
            activation_scale: scale,
            vector_norm: vector.norm,
            cav_accuracy: vector.cav_accuracy.unwrap_or(f64::NAN),
        }
    }
}
