//! Head ablation and pruning: remove one head at a time and read the metric; score every head's
//! importance as |∂m/∂ξₕ| for a gate ξₕ = 1 on its output (Michel et al. 2019) from one
//! forward and one backward pass; and trace the pruning curve as heads are removed in order of
//! importance.

use crate::cache::{Activation, ActivationCache};
use crate::error::InterventionError;
use crate::hooks::Interventions;
use crate::metric::{Metric, to_f64, top1_correct};
use crate::op::{Intervention, Op};
use crate::patching::{
    PatchKind, PatchPlan, PatchValue, Recorded, record, recorded_sites, sweep_recorded,
};
use cavern_model::{Site, SitePoint, TokenBatch, Transformer};

/// What a removed head's output becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Zeros.
    Zero,
    /// Its mean over every real token of the prompts.
    Mean,
}

/// A head, by layer and index.
pub type HeadId = (usize, usize);

/// The metric (mean over prompts) and top-1 accuracy of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    /// Mean metric over prompts.
    pub metric: f64,
    /// Fraction of prompts whose top-1 output is the answer, when the metric has one.
    pub accuracy: Option<f64>,
}

/// One head removed alone.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeadAblation {
    /// The head.
    pub head: HeadId,
    /// The run without it.
    pub score: Score,
}

/// Name of the cache `mean` removal reads.
const REFERENCE: &str = "reference";

/// Prompts, a metric and a way of removing heads: what every pruning measure shares. For
/// `mean` removal it holds the prompts' `z` at every layer, recorded once.
pub struct HeadPruning<'a> {
    model: &'a Transformer,
    batch: &'a TokenBatch,
    metric: &'a Metric,
    removal: Removal,
    reference: Option<ActivationCache>,
}

impl<'a> HeadPruning<'a> {
    /// Prepares pruning of `model` on `batch` (recording the reference for `mean` removal).
    pub fn new(
        model: &'a Transformer,
        batch: &'a TokenBatch,
        metric: &'a Metric,
        removal: Removal,
    ) -> Result<HeadPruning<'a>, InterventionError> {
        let reference = match removal {
            Removal::Zero => None,
            Removal::Mean => {
                let sites = (0..model.config.n_layers).map(|l| Site::new(SitePoint::Z, l));
                let mut hooks = Interventions::recording(sites);
                model.forward(batch, &mut hooks);
                Some(hooks.into_recorded()?)
            }
        };
        Ok(HeadPruning {
            model,
            batch,
            metric,
            removal,
            reference,
        })
    }

    /// Hooks that remove `removed` and apply `more` after, reading the reference if needed.
    fn hooks(&self, removed: &[HeadId], more: Vec<Intervention>) -> Interventions {
        let mut list = removal_list(removed, self.removal);
        list.extend(more);
        let hooks = Interventions::new(list);
        match &self.reference {
            Some(reference) => hooks.with_source(REFERENCE, reference.clone()),
            None => hooks,
        }
    }

    /// The score with `removed` heads removed (one full forward pass).
    pub fn score(&self, removed: &[HeadId]) -> Result<Score, InterventionError> {
        let mut hooks = self.hooks(removed, Vec::new());
        let logits = self.model.forward(self.batch, &mut hooks).logits;
        hooks.check()?;
        let rows: Vec<usize> = (0..self.batch.len()).collect();
        let values = to_f64(self.metric.eval(logits.clone(), &rows));
        let accuracy = top1_correct(self.metric, logits, &rows)
            .map(|c| c.iter().filter(|&&x| x).count() as f64 / c.len().max(1) as f64);
        Ok(Score {
            metric: values.iter().sum::<f64>() / values.len().max(1) as f64,
            accuracy,
        })
    }

    /// Removes each head of `layers` alone, batching the variants and starting each from the
    /// cached residual entering its layer.
    pub fn ablate_each(&self, layers: &[usize]) -> Result<Vec<HeadAblation>, InterventionError> {
        let plan = PatchPlan {
            kinds: vec![PatchKind::Head],
            layers: layers.to_vec(),
            skip_unchanged: false,
            max_batch_tokens: 2048,
        };
        let base = record(self.model, self.batch, &recorded_sites(&plan), self.metric)?;
        let info = self.batch.info();
        let mut source = ActivationCache::default();
        for &layer in layers {
            let z = Site::new(SitePoint::Z, layer);
            let Some(x) = base.cache.heads(&z) else {
                continue;
            };
            let [_, _, h, d] = x.dims();
            let replaced = match self.removal {
                Removal::Zero => x.zeros_like(),
                Removal::Mean => {
                    let mean = Activation::Heads(x.clone()).token_mean(&info.lengths);
                    x.zeros_like() + mean.reshape([1, 1, h, d])
                }
            };
            source.insert(z, &info, Activation::Heads(replaced));
        }
        let recorded = Recorded {
            base: &base,
            source: &source,
            info,
            align_last: None,
        };
        let (values, _) = sweep_recorded(self.model, &recorded, self.metric, &plan)?;
        let n = self.batch.len() as f64;
        let mut out: Vec<HeadAblation> = Vec::new();
        for &layer in layers {
            for head in 0..self.model.config.n_heads {
                let picked: Vec<&PatchValue> = values
                    .iter()
                    .filter(|v| v.layer == layer && v.variant.head == Some(head))
                    .collect();
                let correct: Option<Vec<bool>> = picked.iter().map(|v| v.correct).collect();
                out.push(HeadAblation {
                    head: (layer, head),
                    score: Score {
                        metric: picked.iter().map(|v| v.metric).sum::<f64>() / n,
                        accuracy: correct.map(|c| c.iter().filter(|&&x| x).count() as f64 / n),
                    },
                });
            }
        }
        Ok(out)
    }

    /// Importance of every head of `layers` with `removed` heads already removed: the mean
    /// over prompts of |Σ_{t,d} z·∂m/∂z| for the head, which is |∂m/∂ξₕ| for a gate ξₕ = 1 on
    /// its output.
    pub fn importance(
        &self,
        layers: &[usize],
        removed: &[HeadId],
    ) -> Result<Vec<(HeadId, f64)>, InterventionError> {
        let z = |l| Site::new(SitePoint::Z, l);
        let record = layers
            .iter()
            .map(|&l| Intervention::new(z(l), Op::Record))
            .collect();
        let mut hooks = self.hooks(removed, record);
        for &l in layers {
            hooks = hooks.with_gradient_tap(z(l));
        }
        let logits = self.model.forward(self.batch, &mut hooks).logits;
        hooks.check()?;
        let rows: Vec<usize> = (0..self.batch.len()).collect();
        let grads = self.metric.eval(logits, &rows).sum().backward();
        let mut out = Vec::new();
        for &layer in layers {
            let site = z(layer);
            let missing = |what: &str| InterventionError::MissingSite {
                site: site.to_string(),
                source_name: what.into(),
            };
            let gradient = hooks
                .heads_gradient(&site, &grads)
                .ok_or_else(|| missing("gradient"))?;
            let recorded = hooks
                .recorded_heads(&site)
                .ok_or_else(|| missing("record"))?;
            let [b, _, h, _] = recorded.dims();
            // Per prompt and head: Σ over positions and head width of z · ∂m/∂z.
            let gate = (recorded * gradient).sum_dim(3).sum_dim(1).reshape([b, h]);
            let per_head = gate.abs().mean_dim(0).reshape([h]);
            for (head, value) in to_f64(per_head).into_iter().enumerate() {
                out.push(((layer, head), value));
            }
        }
        Ok(out)
    }

    /// The pruning curve from the intact model's `intact` score and the heads' `importance`
    /// (as [`Self::importance`] gives it): heads of `layers` removed in order of increasing
    /// importance, `steps` points after the intact one (the last removes every head); with
    /// `rescore`, importance is recomputed with the removed heads gone after each step.
    pub fn curve(
        &self,
        layers: &[usize],
        steps: usize,
        rescore: bool,
        intact: Score,
        importance: Vec<(HeadId, f64)>,
    ) -> Result<Vec<CurvePoint>, InterventionError> {
        let total = layers.len() * self.model.config.n_heads;
        let mut removed: Vec<HeadId> = Vec::new();
        let mut order = least_important_first(importance);
        let mut points = vec![CurvePoint {
            removed: Vec::new(),
            score: intact,
        }];
        for step in 1..=steps {
            let target = (step * total).div_ceil(steps);
            while removed.len() < target && !order.is_empty() {
                removed.push(order.remove(0));
            }
            points.push(CurvePoint {
                removed: removed.clone(),
                score: self.score(&removed)?,
            });
            if rescore && removed.len() < total {
                let scores = self.importance(layers, &removed)?;
                order = least_important_first(
                    scores
                        .into_iter()
                        .filter(|(h, _)| !removed.contains(h))
                        .collect(),
                );
            }
        }
        Ok(points)
    }
}

/// One intervention per layer removing the listed heads.
fn removal_list(removed: &[HeadId], removal: Removal) -> Vec<Intervention> {
    let mut layers: Vec<usize> = removed.iter().map(|&(l, _)| l).collect();
    layers.sort();
    layers.dedup();
    layers
        .into_iter()
        .map(|layer| {
            let heads = removed
                .iter()
                .filter(|&&(l, _)| l == layer)
                .map(|&(_, h)| h)
                .collect();
            let op = match removal {
                Removal::Zero => Op::Zero,
                Removal::Mean => Op::Mean {
                    source: REFERENCE.into(),
                },
            };
            Intervention::new(Site::new(SitePoint::Z, layer), op).at_heads(heads)
        })
        .collect()
}

/// One point of the pruning curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    /// Heads removed so far, in removal order.
    pub removed: Vec<HeadId>,
    /// The run without them.
    pub score: Score,
}

/// Heads sorted by importance, smallest first (ties by layer and head).
fn least_important_first(mut scores: Vec<(HeadId, f64)>) -> Vec<HeadId> {
    scores.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    scores.into_iter().map(|(h, _)| h).collect()
}
