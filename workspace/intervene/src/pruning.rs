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
use burn::tensor::Tensor;
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

/// Removes each head of `layers` alone, batching the variants and starting each from the
/// cached residual entering its layer.
pub fn ablate_each(
    model: &Transformer,
    batch: &TokenBatch,
    metric: &Metric,
    layers: &[usize],
    removal: Removal,
) -> Result<Vec<HeadAblation>, InterventionError> {
    let plan = PatchPlan {
        kinds: vec![PatchKind::Head],
        layers: layers.to_vec(),
        skip_unchanged: false,
        max_batch_tokens: 2048,
    };
    let base = record(model, batch, &recorded_sites(&plan), metric)?;
    let info = batch.info();
    let mut source = ActivationCache::default();
    for &layer in layers {
        let z = Site::new(SitePoint::Z, layer);
        let Some(x) = base.cache.heads(&z) else {
            continue;
        };
        let replaced = match removal {
            Removal::Zero => x.zeros_like(),
            Removal::Mean => x.zeros_like() + head_mean(x, &info.lengths),
        };
        source.insert(z, &info, Activation::Heads(replaced));
    }
    let recorded = Recorded {
        base: &base,
        source: &source,
        info,
    };
    let (values, _) = sweep_recorded(model, &recorded, metric, &plan)?;
    let n = batch.len() as f64;
    let mut out: Vec<HeadAblation> = Vec::new();
    for &layer in layers {
        for head in 0..model.config.n_heads {
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

/// Mean of `z` (`[batch, pos, heads, d_head]`) over real tokens, as `[1, 1, heads, d_head]`.
fn head_mean(z: Tensor<4>, lengths: &[usize]) -> Tensor<4> {
    let [_, t, h, d] = z.dims();
    let info = cavern_model::BatchInfo {
        lengths: lengths.to_vec(),
        seq_len: t,
    };
    let mask = cavern_model::batch::token_mask(&info, &z.device());
    let total = lengths.iter().sum::<usize>().max(1) as f64;
    let summed = (z * mask.unsqueeze_dim::<3>(2).unsqueeze_dim::<4>(3))
        .sum_dim(1)
        .sum_dim(0);
    summed.reshape([1, 1, h, d]).div_scalar(total)
}

/// The score with `removed` heads removed (one full forward pass).
pub fn score_without(
    model: &Transformer,
    batch: &TokenBatch,
    metric: &Metric,
    removed: &[HeadId],
    removal: Removal,
) -> Result<Score, InterventionError> {
    let reference = reference(model, batch, removal)?;
    score(model, batch, metric, removed, removal, reference)
}

fn score(
    model: &Transformer,
    batch: &TokenBatch,
    metric: &Metric,
    removed: &[HeadId],
    removal: Removal,
    reference: Option<ActivationCache>,
) -> Result<Score, InterventionError> {
    let mut hooks = Interventions::new(removal_list(removed, removal));
    if let Some(reference) = reference {
        hooks = hooks.with_source(REFERENCE, reference);
    }
    let logits = model.forward(batch, &mut hooks).logits;
    hooks.check()?;
    let rows: Vec<usize> = (0..batch.len()).collect();
    let values = to_f64(metric.eval(logits.clone(), &rows));
    let accuracy = top1_correct(metric, logits, &rows)
        .map(|c| c.iter().filter(|&&x| x).count() as f64 / c.len().max(1) as f64);
    Ok(Score {
        metric: values.iter().sum::<f64>() / values.len().max(1) as f64,
        accuracy,
    })
}

/// The prompts' `z` at every layer, which `mean` removal reads; nothing for `zero`.
fn reference(
    model: &Transformer,
    batch: &TokenBatch,
    removal: Removal,
) -> Result<Option<ActivationCache>, InterventionError> {
    if removal == Removal::Zero {
        return Ok(None);
    }
    let sites = (0..model.config.n_layers).map(|l| Site::new(SitePoint::Z, l));
    let mut hooks = Interventions::recording(sites);
    model.forward(batch, &mut hooks);
    hooks.into_recorded().map(Some)
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

/// Importance of every head of `layers` with `removed` heads already removed: the mean over
/// prompts of |Σ_{t,d} z·∂m/∂z| for the head, which is |∂m/∂ξₕ| for a gate ξₕ = 1 on its output.
pub fn importance(
    model: &Transformer,
    batch: &TokenBatch,
    metric: &Metric,
    layers: &[usize],
    removed: &[HeadId],
    removal: Removal,
) -> Result<Vec<(HeadId, f64)>, InterventionError> {
    let reference = reference(model, batch, removal)?;
    let mut list = removal_list(removed, removal);
    list.extend(
        layers
            .iter()
            .map(|&l| Intervention::new(Site::new(SitePoint::Z, l), Op::Record)),
    );
    let mut hooks = Interventions::new(list);
    if let Some(reference) = reference {
        hooks = hooks.with_source(REFERENCE, reference);
    }
    for &l in layers {
        hooks = hooks.with_gradient_tap(Site::new(SitePoint::Z, l));
    }
    let logits = model.forward(batch, &mut hooks).logits;
    hooks.check()?;
    let rows: Vec<usize> = (0..batch.len()).collect();
    let grads = metric.eval(logits, &rows).sum().backward();
    let mut out = Vec::new();
    for &layer in layers {
        let site = Site::new(SitePoint::Z, layer);
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

/// One point of the pruning curve.
#[derive(Debug, Clone, PartialEq)]
pub struct CurvePoint {
    /// Heads removed so far, in removal order.
    pub removed: Vec<HeadId>,
    /// The run without them.
    pub score: Score,
}

/// The pruning curve: heads of `layers` removed in order of increasing importance, `steps`
/// points after the unpruned one (the last removes every head); with `rescore`, importance is
/// recomputed with the removed heads gone after each step.
pub fn curve(
    model: &Transformer,
    batch: &TokenBatch,
    metric: &Metric,
    layers: &[usize],
    removal: Removal,
    steps: usize,
    rescore: bool,
) -> Result<Vec<CurvePoint>, InterventionError> {
    let total = layers.len() * model.config.n_heads;
    let mut removed: Vec<HeadId> = Vec::new();
    let mut order = least_important_first(importance(model, batch, metric, layers, &[], removal)?);
    let mut points = vec![CurvePoint {
        removed: Vec::new(),
        score: score_without(model, batch, metric, &[], removal)?,
    }];
    for step in 1..=steps {
        let target = (step * total).div_ceil(steps);
        while removed.len() < target {
            let Some(next) = order.first().copied() else {
                break;
            };
            order.remove(0);
            removed.push(next);
        }
        points.push(CurvePoint {
            removed: removed.clone(),
            score: score_without(model, batch, metric, &removed, removal)?,
        });
        if rescore && removed.len() < total {
            let scores = importance(model, batch, metric, layers, &removed, removal)?;
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

/// Heads sorted by importance, smallest first (ties by layer and head).
fn least_important_first(mut scores: Vec<(HeadId, f64)>) -> Vec<HeadId> {
    scores.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
    scores.into_iter().map(|(h, _)| h).collect()
}
