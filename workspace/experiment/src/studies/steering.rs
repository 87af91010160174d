//! `[[steering]]`: add α·v at a site and sweep α; per input the tracked probability, the
//! logit margin, the KL divergence to the unsteered output, top-k changes and (decoders)
//! greedy continuations; per α the flip rate and mean shifts; per input the smallest |α| that
//! flips the prediction (the activation-space counterfactual).
//!
//! α is in units of the mean L2 norm of the unsteered activations at the site over the
//! inputs' real tokens: α = 1 adds a vector as long as a typical token's activation.

use super::outputs::{OutputRow, index_label, target_index, tracked_label};
use super::steer::{Steerer, continuation_text};
use super::steering_vector::{SteeringVector, steering_vector};
use super::{Activations, RandomSets, StudyError};
use crate::schema::{Experiment, SteeringSource, SteeringStudy};
use crate::table::{Table, TableError};
use cavern_intervene::Interventions;
use cavern_model::{LoadedModel, Site};
use cavern_probe::ProbeError;
use indicatif::ProgressBar;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// One (study, layer, input, α) row of the `steering` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteeringRow {
    pub study: usize,
    pub layer: usize,
    /// The site's short name (`resid_post`).
    pub site: String,
    /// `concept:NAME`, `contrast:A-B` or `file:NAME`.
    pub vector: String,
    pub input: usize,
    pub text: String,
    pub alpha: f64,
    /// Length of the added vector, α × the activation scale.
    pub added_norm: f64,
    /// What `p_target` tracks: a target's label, or `predicted` (the unsteered prediction).
    pub target: String,
    /// Probability of the tracked class or token.
    pub p_target: f64,
    /// `p_target` minus its value at α = 0.
    pub delta_p: f64,
    /// Tracked logit minus the largest other logit.
    pub logit_margin: f64,
    /// The predicted class or next token.
    pub predicted: String,
    /// Whether the prediction differs from the unsteered one.
    pub flipped: bool,
    /// KL(steered ‖ unsteered) of the output distribution, nats.
    pub kl: f64,
    /// The k most likely classes or tokens, most likely first, joined by ` | `.
    pub top_k: String,
    /// How many of them are not among the unsteered top k.
    pub top_k_changed: usize,
    /// Greedy continuation (decoders with `continue`), empty otherwise.
    pub continuation: String,
}

/// One (study, layer, α) row of the `steering_summary` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteeringSummary {
    pub study: usize,
    pub layer: usize,
    pub site: String,
    pub vector: String,
    pub target: String,
    pub alpha: f64,
    pub n_inputs: usize,
    /// Fraction of inputs whose prediction changed.
    pub flip_rate: f64,
    pub mean_p_target: f64,
    pub mean_delta_p: f64,
    pub mean_logit_margin: f64,
    pub mean_kl: f64,
    pub mean_top_k_changed: f64,
    /// The α unit: mean L2 norm of the unsteered activations at the site.
    pub activation_scale: f64,
    /// Length of the vector before normalising (1 for a CAV).
    pub vector_norm: f64,
    /// Held-out accuracy of the concept's CAV (NaN for other vectors).
    pub cav_accuracy: f64,
}

/// One (study, layer, input) row of the `steering_flips` table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SteeringFlip {
    pub study: usize,
    pub layer: usize,
    pub site: String,
    pub vector: String,
    pub input: usize,
    pub text: String,
    /// The unsteered prediction.
    pub predicted: String,
    /// Smallest α > 0 that changes it (NaN if none within the bound).
    pub flip_alpha_positive: f64,
    /// Largest α < 0 that changes it (NaN if none within the bound).
    pub flip_alpha_negative: f64,
    /// Whichever of the two is closer to 0 (NaN if neither).
    pub flip_alpha: f64,
    /// The search bound on |α|.
    pub bound: f64,
}

/// Everything steering studies produce.
#[derive(Debug, Clone, Default)]
pub struct SteeringOutput {
    pub rows: Vec<SteeringRow>,
    pub summary: Vec<SteeringSummary>,
    pub flips: Vec<SteeringFlip>,
}

impl SteeringOutput {
    /// Appends another study's rows.
    pub fn extend(&mut self, other: SteeringOutput) {
        self.rows.extend(other.rows);
        self.summary.extend(other.summary);
        self.flips.extend(other.flips);
    }
}

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

/// Runs the `index`-th steering study.
pub fn run(
    index: usize,
    study: &SteeringStudy,
    experiment: &Experiment,
    random: &RandomSets,
    activations: &mut Activations,
    rng: &mut ChaCha8Rng,
    progress: &ProgressBar,
) -> Result<SteeringOutput, StudyError> {
    let model = activations.model();
    let inputs: Vec<Vec<u32>> = (model
        .encode_texts(&study.inputs)
        .map_err(ProbeError::from)?)
    .into_iter()
    .map(|e| e.ids)
    .collect();
    let target = study
        .target
        .as_ref()
        .map(|t| target_index(model, t))
        .transpose()?;
    let label = source_label(&study.source);
    let target_name = tracked_label(study.target.as_ref());
    let mut out = SteeringOutput::default();
    for &layer in &study.layers {
        progress.set_message(format!("steering {label} L{layer}"));
        let site = Site::new(study.site, layer);
        let vector = steering_vector(
            &study.source,
            &experiment.concepts,
            site,
            study.pooling,
            random,
            activations,
            rng,
        )?;
        let scale = activation_scale(model, &inputs, site, activations.batch_size())?;
        let steerer = Steerer {
            model,
            site,
            positions: study.positions,
            step: vector.direction.iter().map(|&v| v * scale as f32).collect(),
            batch_size: activations.batch_size(),
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
            let mut measured = Vec::with_capacity(inputs.len());
            for (i, row) in rows.iter().enumerate() {
                let continuation = match study.continue_tokens {
                    0 => String::new(),
                    n => continuation_text(
                        model.tokenizer(),
                        &steerer.continuation(&inputs[i], alpha, n)?,
                    ),
                };
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
        progress.inc(1);
    }
    Ok(out)
}

/// Mean L2 norm of the activation at `site` over every real token of `inputs`.
pub fn activation_scale(
    model: &LoadedModel,
    inputs: &[Vec<u32>],
    site: Site,
    batch_size: usize,
) -> Result<f64, StudyError> {
    let (mut total, mut count) = (0.0f64, 0usize);
    for chunk in inputs.chunks(batch_size.max(1)) {
        let batch = model.batch(chunk.to_vec());
        let mut hooks = Interventions::recording([site]);
        model.transformer.forward(&batch, &mut hooks);
        let cache = hooks.into_recorded().map_err(ProbeError::from)?;
        let x = cache
            .stream(&site)
            .ok_or_else(|| ProbeError::NotRecorded(site.to_string()))?;
        let [_, t, w] = x.dims();
        let values = x.into_data().try_into_vec_as::<f32>().unwrap_or_default();
        for (b, ids) in chunk.iter().enumerate() {
            for p in 0..ids.len() {
                let token = &values[(b * t + p) * w..(b * t + p + 1) * w];
                total += token
                    .iter()
                    .map(|&v| (v as f64).powi(2))
                    .sum::<f64>()
                    .sqrt();
                count += 1;
            }
        }
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

/// The `steering` table.
pub fn rows_table(rows: &[SteeringRow]) -> Result<Table, TableError> {
    let text = |f: fn(&SteeringRow) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&SteeringRow) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let int = |f: fn(&SteeringRow) -> usize| rows.iter().map(|r| f(r) as u64).collect::<Vec<_>>();
    Table::new("steering")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("layer", int(|r| r.layer))?
        .with_str("site", text(|r| r.site.clone()))?
        .with_str("vector", text(|r| r.vector.clone()))?
        .with_u64("input", int(|r| r.input))?
        .with_str("text", text(|r| r.text.clone()))?
        .with_f64("alpha", num(|r| r.alpha))?
        .with_f64("added_norm", num(|r| r.added_norm))?
        .with_str("target", text(|r| r.target.clone()))?
        .with_f64("p_target", num(|r| r.p_target))?
        .with_f64("delta_p", num(|r| r.delta_p))?
        .with_f64("logit_margin", num(|r| r.logit_margin))?
        .with_str("predicted", text(|r| r.predicted.clone()))?
        .with_bool("flipped", rows.iter().map(|r| r.flipped).collect())?
        .with_f64("kl", num(|r| r.kl))?
        .with_str("top_k", text(|r| r.top_k.clone()))?
        .with_u64("top_k_changed", int(|r| r.top_k_changed))?
        .with_str("continuation", text(|r| r.continuation.clone()))
}

/// The `steering_summary` table.
pub fn summary_table(rows: &[SteeringSummary]) -> Result<Table, TableError> {
    let text = |f: fn(&SteeringSummary) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&SteeringSummary) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let int =
        |f: fn(&SteeringSummary) -> usize| rows.iter().map(|r| f(r) as u64).collect::<Vec<_>>();
    Table::new("steering_summary")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("layer", int(|r| r.layer))?
        .with_str("site", text(|r| r.site.clone()))?
        .with_str("vector", text(|r| r.vector.clone()))?
        .with_str("target", text(|r| r.target.clone()))?
        .with_f64("alpha", num(|r| r.alpha))?
        .with_u64("n_inputs", int(|r| r.n_inputs))?
        .with_f64("flip_rate", num(|r| r.flip_rate))?
        .with_f64("mean_p_target", num(|r| r.mean_p_target))?
        .with_f64("mean_delta_p", num(|r| r.mean_delta_p))?
        .with_f64("mean_logit_margin", num(|r| r.mean_logit_margin))?
        .with_f64("mean_kl", num(|r| r.mean_kl))?
        .with_f64("mean_top_k_changed", num(|r| r.mean_top_k_changed))?
        .with_f64("activation_scale", num(|r| r.activation_scale))?
        .with_f64("vector_norm", num(|r| r.vector_norm))?
        .with_f64("cav_accuracy", num(|r| r.cav_accuracy))
}

/// The `steering_flips` table.
pub fn flips_table(rows: &[SteeringFlip]) -> Result<Table, TableError> {
    let text = |f: fn(&SteeringFlip) -> String| rows.iter().map(f).collect::<Vec<_>>();
    let num = |f: fn(&SteeringFlip) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let int = |f: fn(&SteeringFlip) -> usize| rows.iter().map(|r| f(r) as u64).collect::<Vec<_>>();
    Table::new("steering_flips")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("layer", int(|r| r.layer))?
        .with_str("site", text(|r| r.site.clone()))?
        .with_str("vector", text(|r| r.vector.clone()))?
        .with_u64("input", int(|r| r.input))?
        .with_str("text", text(|r| r.text.clone()))?
        .with_str("predicted", text(|r| r.predicted.clone()))?
        .with_f64("flip_alpha_positive", num(|r| r.flip_alpha_positive))?
        .with_f64("flip_alpha_negative", num(|r| r.flip_alpha_negative))?
        .with_f64("flip_alpha", num(|r| r.flip_alpha))?
        .with_f64("bound", num(|r| r.bound))
}
