//! Running a `[[pruning]]`: every head removed alone, head importance |∂m/∂ξₕ| (Michel et al.
//! 2019) and the pruning curve (see [`cavern_intervene::pruning`]).

use super::spec::{Ablation, PruningSpec};
use super::tables::{CurveRow, PrunedHead, PruningOutput};
use crate::engine::forward::{encode, logits_in_one_pass};
use crate::engine::metric::metric;
use crate::engine::{StudyContext, StudyError};
use cavern_intervene::pruning::{HeadId, HeadPruning, Removal, Score};

fn removal(method: Ablation) -> Removal {
    match method {
        Ablation::Zero => Removal::Zero,
        Ablation::Mean => Removal::Mean,
    }
}

/// Runs a pruning study.
pub(super) fn run(
    study: &PruningSpec,
    cx: &mut StudyContext<'_, '_>,
) -> Result<PruningOutput, StudyError> {
    let (index, model) = (cx.index, cx.model);
    let texts: Vec<String> = study.prompts.iter().map(|p| p.clean.clone()).collect();
    let ids = encode(model, &texts)?;
    let metric = metric(model, study.metric, &study.prompts, || {
        logits_in_one_pass(model, &ids)
    })?;
    let batch = model.batch(ids);
    let pruning = HeadPruning::new(&model.transformer, &batch, &metric, removal(study.method))?;
    let intact = pruning.score(&[])?;
    let scores = pruning.importance(&study.layers, &[])?;
    let each = pruning.ablate_each(&study.layers)?;
    cx.progress.inc(1);
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
    let points = pruning.curve(
        &study.layers,
        study.curve_steps,
        study.rescore,
        intact,
        scores,
    )?;
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
    cx.progress.inc(1);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_curve_row_names_the_heads_removed_at_its_step() {
        let removed = [(0, 1), (1, 3), (0, 0)];
        let score = Score {
            metric: 0.5,
            accuracy: Some(0.75),
        };
        let row = curve_row(2, 3, &removed, 1, 8, score);
        assert_eq!((row.study, row.step, row.heads_removed), (2, 3, 3));
        assert_eq!(row.fraction_removed, 3.0 / 8.0);
        assert_eq!(row.removed_now, "1.3 0.0");
        assert_eq!((row.metric, row.accuracy), (0.5, Some(0.75)));
    }
}
