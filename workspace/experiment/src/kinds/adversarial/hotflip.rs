//! The model as the search's [`Oracle`]: exact outputs through the engine's batched forward
//! pass, and HotFlip's first-order scores (Ebrahimi et al. 2018) for substitutions.
//!
//! Substituting token w at position t changes the `embed` activation there from a_t to e_t(w),
//! the row w would have at t (its embedding plus the position's, normalised as the model does;
//! [`cavern_model::Transformer::embed`]), so to first order the decision margin m =
//! logit[decision] − logit[runner-up] changes by (e_t(w) − a_t) · ∂m/∂a_t. One forward and
//! backward pass gives ∂m/∂a; a matrix product gives every substitute's score at a position.

use super::search::Oracle;
use crate::engine::StudyError;
use crate::engine::forward::output_rows;
use crate::engine::outputs::OutputRow;
use burn::tensor::{Int, Tensor, TensorData};
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::attribution::{AttributionInput, Objective, site_gradient};
use std::collections::HashMap;

/// The model, the tokens substitutes are drawn from, and the rows run so far.
pub struct ModelOracle<'m> {
    model: &'m LoadedModel,
    batch_size: usize,
    substitutes: Vec<u32>,
    /// The word class of each substitute, when a token may only be replaced within its class.
    classes: Option<HashMap<u32, usize>>,
    /// Rows run through the model (forward passes of one text each; a gradient pass counts one).
    pub rows: usize,
}

impl<'m> ModelOracle<'m> {
    /// An oracle drawing substitutes from `substitutes` (only within a token's class when
    /// `classes` gives each substitute's), running `batch_size` texts a pass.
    pub fn new(
        model: &'m LoadedModel,
        batch_size: usize,
        substitutes: Vec<u32>,
        classes: Option<HashMap<u32, usize>>,
    ) -> Self {
        ModelOracle {
            model,
            batch_size,
            substitutes,
            classes,
            rows: 0,
        }
    }

    /// Whether `to` may replace `from`.
    fn allowed(&self, from: u32, to: u32) -> bool {
        to != from
            && self.classes.as_ref().is_none_or(|classes| {
                classes
                    .get(&from)
                    .is_some_and(|c| classes.get(&to) == Some(c))
            })
    }

    /// The first-order change of the margin for every substitute at position `t`:
    /// (e_t(w) − a_t) · g_t for each w.
    fn scores_at(&self, t: usize, a_t: &[f32], g_t: &[f32]) -> Vec<f32> {
        let (n, d) = (self.substitutes.len(), g_t.len());
        let device = self.model.transformer.device();
        let ids: Vec<i64> = self.substitutes.iter().map(|&id| i64::from(id)).collect();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [n, 1]), &device);
        let positions =
            Tensor::<2, Int>::from_data(TensorData::new(vec![t as i64; n], [n, 1]), &device);
        let rows: Tensor<2> = self.model.transformer.embed(ids, positions).reshape([n, d]);
        let g = Tensor::<2>::from_data(TensorData::new(g_t.to_vec(), [d, 1]), &device);
        let dots = rows.matmul(g).into_data();
        let dots = dots.try_into_vec_as::<f32>().unwrap_or_default();
        let base: f32 = a_t.iter().zip(g_t).map(|(a, g)| a * g).sum();
        dots.into_iter().map(|s| s - base).collect()
    }
}

impl Oracle for ModelOracle<'_> {
    fn outputs(&mut self, ids: &[Vec<u32>]) -> Result<Vec<OutputRow>, StudyError> {
        self.rows += ids.len();
        output_rows(self.model, ids, self.batch_size, &[])
    }

    fn swaps(
        &mut self,
        ids: &[u32],
        editable: &[usize],
        decision: usize,
        runner_up: usize,
        k: usize,
    ) -> Result<Vec<(usize, u32)>, StudyError> {
        if k == 0 || self.substitutes.is_empty() {
            return Ok(Vec::new());
        }
        let input = AttributionInput {
            ids: ids.to_vec(),
            special: vec![false; ids.len()],
        };
        let embed = Site::global(SitePoint::Embed);
        let objective = Objective::difference(decision, runner_up);
        let gradient = site_gradient(self.model, &input, embed, objective)?;
        self.rows += 1;
        let d = gradient.activation.width;
        let mut scored: Vec<(f32, usize, u32)> = Vec::new();
        for &t in editable {
            if !self.substitutes.iter().any(|&to| self.allowed(ids[t], to)) {
                continue;
            }
            let a_t = &gradient.activation.values[t * d..(t + 1) * d];
            let g_t = &gradient.gradient[t * d..(t + 1) * d];
            let scores = self.scores_at(t, a_t, g_t);
            for (&to, score) in self.substitutes.iter().zip(scores) {
                if self.allowed(ids[t], to) {
                    scored.push((score, t, to));
                }
            }
        }
        // The largest predicted drop first; ties by position, then token.
        scored.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
        Ok(scored
            .into_iter()
            .take(k)
            .map(|(_, t, to)| (t, to))
            .collect())
    }
}
