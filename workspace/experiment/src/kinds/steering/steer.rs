//! Forward passes with a steering vector added at one site (`Op::Add`): output rows, greedy
//! continuations, and the search for the α at which a prediction flips.

use super::spec::SteeringPositions;
use crate::engine::StudyError;
use crate::engine::forward::output_rows;
use crate::engine::outputs::OutputRow;
use cavern_intervene::{Intervention, Interventions, Op};
use cavern_model::batch::{in_sequence_order, length_buckets};
use cavern_model::generate::generate;
use cavern_model::{LoadedModel, Site};
use cavern_probe::ProbeError;

/// Points of the flip search's scan over `(0, bound]`.
pub const FLIP_GRID: usize = 16;
/// Bisection steps after the scan: the flip α is then known to `bound / 16 / 2¹²`.
pub const FLIP_BISECTIONS: usize = 12;

/// Adds `α · step` at `site` (every real token, or the last one) while running `model`.
pub struct Steerer<'m> {
    /// The model.
    pub model: &'m LoadedModel,
    /// Where the vector is added.
    pub site: Site,
    /// Which tokens get it.
    pub positions: SteeringPositions,
    /// One unit of α: the unit direction times the activation scale.
    pub step: Vec<f32>,
    /// Inputs per forward pass (with `All`; `Last` runs one input at a time).
    pub batch_size: usize,
}

impl Steerer<'_> {
    /// The output row of each input (token ids) with `α · step` added.
    pub fn outputs(&self, inputs: &[Vec<u32>], alpha: f64) -> Result<Vec<OutputRow>, StudyError> {
        match self.positions {
            // Padding follows the real tokens and is never attended to or pooled, so adding
            // the vector there too changes nothing.
            SteeringPositions::All => self.forward(inputs, self.batch_size, alpha, None),
            SteeringPositions::Last => {
                let mut rows = Vec::with_capacity(inputs.len());
                for ids in inputs {
                    let last = ids.len().saturating_sub(1);
                    rows.extend(self.forward(std::slice::from_ref(ids), 1, alpha, Some(last))?);
                }
                Ok(rows)
            }
        }
    }

    /// Per prompt, `n` tokens continuing it greedily, steered at every position (`All`) or at
    /// the prompt's last token and every generated one (`Last`), with a key/value cache (each
    /// generated token's pass runs that token only). With `All`, prompts of similar length run
    /// `batch_size` together; with `Last`, where the steered position differs, one at a time.
    pub fn continuations(
        &self,
        prompts: &[Vec<u32>],
        alpha: f64,
        n: usize,
    ) -> Result<Vec<Vec<u32>>, StudyError> {
        let lengths: Vec<usize> = prompts.iter().map(Vec::len).collect();
        let size = match self.positions {
            SteeringPositions::All => self.batch_size,
            SteeringPositions::Last => 1,
        };
        let passes = length_buckets(&lengths, size);
        let mut out = Vec::with_capacity(prompts.len());
        for pass in &passes {
            let batch = self
                .model
                .batch(pass.iter().map(|&i| prompts[i].clone()).collect());
            // The prompt pass steers the last prompt token (`Last`) or all; later passes hold
            // only generated tokens, all steered.
            let first = match self.positions {
                SteeringPositions::All => None,
                SteeringPositions::Last => Some(batch.max_len().saturating_sub(1)),
            };
            let hooks = |step: usize| {
                let from = if step == 0 { first } else { None };
                Interventions::new(self.interventions(alpha, from, batch.max_len()))
            };
            let check = |hooks: Interventions| -> Result<(), StudyError> {
                Ok(hooks.check().map_err(ProbeError::from)?)
            };
            out.extend(generate(&self.model.transformer, &batch, n, hooks, check)?.tokens);
        }
        let items = out.len();
        in_sequence_order(&passes, out).ok_or(StudyError::PassItems {
            inputs: prompts.len(),
            items,
        })
    }

    /// Per input, the α closest to 0 on each side (`[positive, negative]`, within `bound`) at
    /// which the prediction is no longer `original[i]`: a scan of [`FLIP_GRID`] points, then
    /// [`FLIP_BISECTIONS`] bisection steps between the last unflipped and the first flipped.
    pub fn flip_alphas(
        &self,
        inputs: &[Vec<u32>],
        original: &[usize],
        bound: f64,
    ) -> Result<Vec<[Option<f64>; 2]>, StudyError> {
        let mut found = vec![[None, None]; inputs.len()];
        for (side, sign) in [1.0f64, -1.0].into_iter().enumerate() {
            // The first grid point at which each input flips.
            let mut first: Vec<Option<usize>> = vec![None; inputs.len()];
            for k in 1..=FLIP_GRID {
                let alpha = sign * bound * k as f64 / FLIP_GRID as f64;
                let pending: Vec<usize> =
                    (0..inputs.len()).filter(|&i| first[i].is_none()).collect();
                if pending.is_empty() {
                    break;
                }
                let batch: Vec<Vec<u32>> = pending.iter().map(|&i| inputs[i].clone()).collect();
                for (row, &i) in self.outputs(&batch, alpha)?.iter().zip(&pending) {
                    if row.predicted() != original[i] {
                        first[i] = Some(k);
                    }
                }
            }
            for (i, k) in first.into_iter().enumerate() {
                let Some(k) = k else { continue };
                let step = bound / FLIP_GRID as f64;
                let (mut kept, mut flipped) = ((k - 1) as f64 * step, k as f64 * step);
                for _ in 0..FLIP_BISECTIONS {
                    let mid = (kept + flipped) / 2.0;
                    let row = self.outputs(std::slice::from_ref(&inputs[i]), sign * mid)?;
                    if row[0].predicted() != original[i] {
                        flipped = mid;
                    } else {
                        kept = mid;
                    }
                }
                found[i][side] = Some(sign * flipped);
            }
        }
        Ok(found)
    }

    /// The output rows of `inputs`, `batch_size` a pass, adding `α · step` at every position,
    /// or from `from` on (then one pass holds the inputs of one length).
    fn forward(
        &self,
        inputs: &[Vec<u32>],
        batch_size: usize,
        alpha: f64,
        from: Option<usize>,
    ) -> Result<Vec<OutputRow>, StudyError> {
        let len = inputs.iter().map(Vec::len).max().unwrap_or(0);
        let list = self.interventions(alpha, from, len);
        output_rows(self.model, inputs, batch_size, &list)
    }

    /// Adding `α · step` at every position of a pass, or at positions `from..len` (none when
    /// α = 0).
    fn interventions(&self, alpha: f64, from: Option<usize>, len: usize) -> Vec<Intervention> {
        if alpha == 0.0 {
            return Vec::new();
        }
        let op = Op::Add {
            alpha: alpha as f32,
            vector: self.step.clone(),
        };
        let intervention = Intervention::new(self.site, op);
        vec![match from {
            Some(start) => intervention.at_positions((start..len).collect()),
            None => intervention,
        }]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;
    use cavern_model::SitePoint;
    use cavern_model::builtin::load_builtin;

    /// The continuations as they were computed before the key/value cache: the whole sequence
    /// re-run for every token, one prompt at a time, steered at every position or from the
    /// prompt's last token on.
    fn uncached(steerer: &Steerer<'_>, prompt: &[u32], alpha: f64, n: usize) -> Vec<u32> {
        let from = match steerer.positions {
            SteeringPositions::All => None,
            SteeringPositions::Last => Some(prompt.len() - 1),
        };
        let mut ids = prompt.to_vec();
        for _ in 0..n {
            let row = steerer
                .forward(std::slice::from_ref(&ids), 1, alpha, from)
                .unwrap();
            ids.push(row[0].predicted() as u32);
        }
        ids[prompt.len()..].to_vec()
    }

    #[test]
    fn cached_continuations_are_the_uncached_ones() {
        let model = load_builtin("toy-recall", &Device::flex()).unwrap();
        let texts = ["c g a d b i =", "a b =", "h e f =", "p ="].map(String::from);
        let prompts: Vec<Vec<u32>> = (model.encode_texts(&texts).unwrap().into_iter())
            .map(|e| e.ids)
            .collect();
        let width = model.config().d_model;
        let mut changed = 0;
        for positions in [SteeringPositions::All, SteeringPositions::Last] {
            let steerer = Steerer {
                model: &model,
                site: Site::new(SitePoint::ResidPost, 0),
                positions,
                step: (0..width)
                    .map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.4)
                    .collect(),
                batch_size: 3,
            };
            let plain = steerer.continuations(&prompts, 0.0, 5).unwrap();
            for alpha in [0.0, 1.0, -2.5] {
                let cached = steerer.continuations(&prompts, alpha, 5).unwrap();
                for (prompt, got) in prompts.iter().zip(&cached) {
                    assert_eq!(
                        got,
                        &uncached(&steerer, prompt, alpha, 5),
                        "{positions:?} α {alpha}"
                    );
                }
                changed += cached.iter().zip(&plain).filter(|(a, b)| a != b).count();
            }
        }
        // The vector moves some continuations, so steering reaches the cached passes.
        assert!(changed > 0);
    }
}
