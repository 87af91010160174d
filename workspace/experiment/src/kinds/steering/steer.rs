//! Forward passes with a steering vector added at one site (`Op::Add`): output rows, greedy
//! continuations, and the search for the α at which a prediction flips.

use super::per_row::PerRowSteering;
use super::spec::SteeringPositions;
use crate::engine::StudyError;
use crate::engine::forward::{Pass, forward_batches};
use crate::engine::outputs::{OutputRow, logit_rows};
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
    /// Inputs per forward pass.
    pub batch_size: usize,
}

impl Steerer<'_> {
    /// The output row of each input (token ids) with `α · step` added.
    pub fn outputs(&self, inputs: &[Vec<u32>], alpha: f64) -> Result<Vec<OutputRow>, StudyError> {
        self.outputs_each(inputs, &vec![alpha; inputs.len()])
    }

    /// The output row of each input with its own α: `alphas[i] · step` added to `inputs[i]`,
    /// `batch_size` inputs a pass, at every position or at each input's last token. (With
    /// `All`, padding follows the real tokens and is never attended to or pooled, so adding the
    /// vector there too changes nothing.)
    pub fn outputs_each(
        &self,
        inputs: &[Vec<u32>],
        alphas: &[f64],
    ) -> Result<Vec<OutputRow>, StudyError> {
        let hooks = |pass: &Pass| PerRowSteering {
            site: self.site,
            step: &self.step,
            alphas: pass.indices.iter().map(|&i| alphas[i] as f32).collect(),
            last_only: self.positions == SteeringPositions::Last,
            mismatch: None,
        };
        forward_batches(
            self.model,
            inputs,
            self.batch_size,
            hooks,
            |_, logits, hooks| {
                hooks.check()?;
                Ok(logit_rows(logits))
            },
        )
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
    /// Each step runs every input still searched in one set of passes, each at its own α.
    pub fn flip_alphas(
        &self,
        inputs: &[Vec<u32>],
        original: &[usize],
        bound: f64,
    ) -> Result<Vec<[Option<f64>; 2]>, StudyError> {
        let mut found = vec![[None, None]; inputs.len()];
        let step = bound / FLIP_GRID as f64;
        for (side, sign) in [1.0f64, -1.0].into_iter().enumerate() {
            // The first grid point at which each input flips.
            let mut first: Vec<Option<usize>> = vec![None; inputs.len()];
            for k in 1..=FLIP_GRID {
                let pending: Vec<usize> =
                    (0..inputs.len()).filter(|&i| first[i].is_none()).collect();
                if pending.is_empty() {
                    break;
                }
                let alpha = sign * bound * k as f64 / FLIP_GRID as f64;
                let flipped =
                    self.flipped(inputs, original, &pending, &vec![alpha; pending.len()])?;
                for (&i, flipped) in pending.iter().zip(flipped) {
                    if flipped {
                        first[i] = Some(k);
                    }
                }
            }
            // Per input that flips, `(kept, flipped)`: an |α| known to keep its prediction and
            // one known to flip it.
            let (searched, mut brackets): (Vec<usize>, Vec<(f64, f64)>) =
                (first.iter().enumerate())
                    .filter_map(|(i, k)| k.map(|k| (i, ((k - 1) as f64 * step, k as f64 * step))))
                    .unzip();
            for _ in 0..FLIP_BISECTIONS {
                let mids: Vec<f64> = (brackets.iter())
                    .map(|(kept, flipped)| (kept + flipped) / 2.0)
                    .collect();
                let alphas: Vec<f64> = mids.iter().map(|mid| sign * mid).collect();
                let flipped = self.flipped(inputs, original, &searched, &alphas)?;
                for ((bracket, mid), flipped) in brackets.iter_mut().zip(mids).zip(flipped) {
                    match flipped {
                        true => bracket.1 = mid,
                        false => bracket.0 = mid,
                    }
                }
            }
            for (&i, (_, flipped)) in searched.iter().zip(brackets) {
                found[i][side] = Some(sign * flipped);
            }
        }
        Ok(found)
    }

    /// Whether each input of `subset` (indices into `inputs`) predicts other than its
    /// `original` class when steered by its own α (`alphas[j]` for `subset[j]`).
    fn flipped(
        &self,
        inputs: &[Vec<u32>],
        original: &[usize],
        subset: &[usize],
        alphas: &[f64],
    ) -> Result<Vec<bool>, StudyError> {
        let batch: Vec<Vec<u32>> = subset.iter().map(|&i| inputs[i].clone()).collect();
        let rows = self.outputs_each(&batch, alphas)?;
        Ok((rows.iter().zip(subset))
            .map(|(row, &i)| row.predicted() != original[i])
            .collect())
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
    use crate::engine::forward::output_rows;
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
            let list = steerer.interventions(alpha, from, ids.len());
            let row = output_rows(steerer.model, std::slice::from_ref(&ids), 1, &list).unwrap();
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

    /// The flip search as it ran before passes were shared: every step one input alone, through
    /// the `Op::Add` intervention.
    fn flip_one_at_a_time(
        steerer: &Steerer<'_>,
        ids: &[u32],
        bound: f64,
        sign: f64,
    ) -> Option<f64> {
        let from = match steerer.positions {
            SteeringPositions::All => None,
            SteeringPositions::Last => Some(ids.len() - 1),
        };
        let predicted = |alpha: f64| {
            let list = steerer.interventions(alpha, from, ids.len());
            output_rows(steerer.model, &[ids.to_vec()], 1, &list).unwrap()[0].predicted()
        };
        let original = predicted(0.0);
        let step = bound / FLIP_GRID as f64;
        let k = (1..=FLIP_GRID)
            .find(|&k| predicted(sign * bound * k as f64 / FLIP_GRID as f64) != original)?;
        let (mut kept, mut flipped) = ((k - 1) as f64 * step, k as f64 * step);
        for _ in 0..FLIP_BISECTIONS {
            let mid = (kept + flipped) / 2.0;
            match predicted(sign * mid) != original {
                true => flipped = mid,
                false => kept = mid,
            }
        }
        Some(sign * flipped)
    }

    #[test]
    fn the_shared_flip_search_finds_what_one_input_at_a_time_finds() {
        let model = load_builtin("toy-sentiment", &Device::flex()).unwrap();
        let texts = [
            "the red film was bad",
            "a meal is not good",
            "the blue song was really awful",
            "a book was lovely",
            "the film is not really bad",
        ]
        .map(String::from);
        let inputs: Vec<Vec<u32>> = (model.encode_texts(&texts).unwrap().into_iter())
            .map(|e| e.ids)
            .collect();
        let width = model.config().d_model;
        let mut flips = 0;
        for positions in [SteeringPositions::All, SteeringPositions::Last] {
            let steerer = Steerer {
                model: &model,
                site: Site::new(SitePoint::ResidPre, 1),
                positions,
                step: (0..width)
                    .map(|i| ((i * 5 % 7) as f32 - 3.0) * 0.5)
                    .collect(),
                batch_size: 2,
            };
            let original: Vec<usize> = (steerer.outputs(&inputs, 0.0).unwrap().iter())
                .map(OutputRow::predicted)
                .collect();
            let found = steerer.flip_alphas(&inputs, &original, 4.0).unwrap();
            for (ids, [positive, negative]) in inputs.iter().zip(found) {
                assert_eq!(
                    positive,
                    flip_one_at_a_time(&steerer, ids, 4.0, 1.0),
                    "{positions:?}"
                );
                assert_eq!(
                    negative,
                    flip_one_at_a_time(&steerer, ids, 4.0, -1.0),
                    "{positions:?}"
                );
                flips += positive.is_some() as usize + negative.is_some() as usize;
            }
        }
        // The vector flips some predictions within the bound, so the search is exercised.
        assert!(flips > 0);
    }
}
