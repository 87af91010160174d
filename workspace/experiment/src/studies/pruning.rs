//! `[[pruning]]`: every head removed alone, head importance |∂m/∂ξₕ| (Michel et al. 2019) and
//! the pruning curve (see [`cavern_intervene::pruning`]).

use super::StudyError;
use super::patching::metric;
use crate::schema::{Ablation, PruningStudy};
use crate::table::{Table, TableError};
use cavern_intervene::pruning::{HeadId, HeadPruning, Removal, Score};
use cavern_model::LoadedModel;
use indicatif::ProgressBar;
use serde::Serialize;

/// One (study, layer, head) row of `pruning_heads`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrunedHead {
    pub study: usize,
    pub layer: usize,
    pub head: usize,
    /// |∂m/∂ξₕ| averaged over prompts.
    pub importance: f64,
    /// Mean metric with this head removed alone.
    pub metric: f64,
    /// That minus the intact model's mean metric.
    pub metric_change: f64,
    /// Top-1 accuracy with this head removed, when the metric names an answer.
    pub accuracy: Option<f64>,
}

/// One (study, step) row of `pruning_curve`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CurveRow {
    pub study: usize,
    pub step: usize,
    pub heads_removed: usize,
    pub fraction_removed: f64,
    pub metric: f64,
    pub accuracy: Option<f64>,
    /// The heads removed at this step, `layer.head`, space-separated.
    pub removed_now: String,
}

/// Everything the pruning studies of a run produce.
#[derive(Debug, Clone, Default)]
pub struct PruningOutput {
    pub heads: Vec<PrunedHead>,
    pub curve: Vec<CurveRow>,
}

impl PruningOutput {
    /// Appends another study's output.
    pub fn extend(&mut self, other: PruningOutput) {
        self.heads.extend(other.heads);
        self.curve.extend(other.curve);
    }
}

fn removal(method: Ablation) -> Removal {
    match method {
        Ablation::Zero => Removal::Zero,
        Ablation::Mean => Removal::Mean,
    }
}

/// Runs study `index`.
pub fn run(
    index: usize,
    study: &PruningStudy,
    model: &LoadedModel,
    progress: &ProgressBar,
) -> Result<PruningOutput, StudyError> {
    let texts: Vec<String> = study.prompts.iter().map(|p| p.clean.clone()).collect();
    let batch = model.encode(&texts)?;
    let transformer = &model.transformer;
    let metric = metric(model, study.metric, &study.prompts, || {
        transformer
            .forward(&batch, &mut cavern_model::NoHooks)
            .logits
    })?;
    let failed = |e: cavern_intervene::InterventionError| StudyError::Patching(e.to_string());
    let pruning =
        HeadPruning::new(transformer, &batch, &metric, removal(study.method)).map_err(failed)?;
    let intact = pruning.score(&[]).map_err(failed)?;
    let scores = pruning.importance(&study.layers, &[]).map_err(failed)?;
    let each = pruning.ablate_each(&study.layers).map_err(failed)?;
    progress.inc(1);
    let heads = each
        .iter()
        .map(|a| PrunedHead {
            study: index,
            layer: a.head.0,
            head: a.head.1,
            importance: scores
                .iter()
                .find(|(h, _)| *h == a.head)
                .map_or(f64::NAN, |(_, s)| *s),
            metric: a.score.metric,
            metric_change: a.score.metric - intact.metric,
            accuracy: a.score.accuracy,
        })
        .collect();
    let points = pruning
        .curve(
            &study.layers,
            study.curve_steps,
            study.rescore,
            intact,
            scores,
        )
        .map_err(failed)?;
    let total = (study.layers.len() * model.config().n_heads).max(1);
    let mut before = 0;
    let curve = points
        .iter()
        .enumerate()
        .map(|(step, p)| {
            let row = curve_row(index, step, &p.removed, before, total, p.score);
            before = p.removed.len();
            row
        })
        .collect();
    progress.inc(1);
    Ok(PruningOutput { heads, curve })
}

fn curve_row(
    study: usize,
    step: usize,
    removed: &[HeadId],
    before: usize,
    total: usize,
    score: Score,
) -> CurveRow {
    let now: Vec<String> = removed[before..]
        .iter()
        .map(|(l, h)| format!("{l}.{h}"))
        .collect();
    CurveRow {
        study,
        step,
        heads_removed: removed.len(),
        fraction_removed: removed.len() as f64 / total as f64,
        metric: score.metric,
        accuracy: score.accuracy,
        removed_now: now.join(" "),
    }
}

/// The `pruning_heads` table.
pub fn heads_table(rows: &[PrunedHead]) -> Result<Table, TableError> {
    let int = |f: fn(&PrunedHead) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    let num = |f: fn(&PrunedHead) -> f64| rows.iter().map(f).collect();
    Table::new("pruning_heads")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("layer", int(|r| r.layer))?
        .with_u64("head", int(|r| r.head))?
        .with_f64("importance", num(|r| r.importance))?
        .with_f64("metric", num(|r| r.metric))?
        .with_f64("metric_change", num(|r| r.metric_change))?
        .with_opt_f64("accuracy", rows.iter().map(|r| r.accuracy).collect())
}

/// The `pruning_curve` table.
pub fn curve_table(rows: &[CurveRow]) -> Result<Table, TableError> {
    let int = |f: fn(&CurveRow) -> usize| rows.iter().map(|r| f(r) as u64).collect();
    Table::new("pruning_curve")?
        .with_u64("study", int(|r| r.study))?
        .with_u64("step", int(|r| r.step))?
        .with_u64("heads_removed", int(|r| r.heads_removed))?
        .with_f64(
            "fraction_removed",
            rows.iter().map(|r| r.fraction_removed).collect(),
        )?
        .with_f64("metric", rows.iter().map(|r| r.metric).collect())?
        .with_opt_f64("accuracy", rows.iter().map(|r| r.accuracy).collect())?
        .with_str(
            "removed_now",
            rows.iter().map(|r| r.removed_now.clone()).collect(),
        )
}
