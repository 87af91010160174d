//! Head ablation, importance and the pruning curve on `toy-recall`, which copies the symbol at
//! position 1 to the final position.
//!
//! Its training pruned it to the heads the task needs (its model card lists the seven removed),
//! leaving head 1 of layer 1 as the only one that moves the answer.

use burn::tensor::Device;
use cavern_intervene::Metric;
use cavern_intervene::pruning::{HeadPruning, Removal};
use cavern_model::builtin::load_builtin;
use cavern_model::toy::recall::{ANSWER_POSITION, SYMBOLS};
use cavern_model::{LoadedModel, TokenBatch};

/// Chance accuracy: one of the 16 symbols.
const CHANCE: f64 = 1.0 / 16.0;

fn setup(n: usize) -> (LoadedModel, TokenBatch, Metric) {
    let model = load_builtin("toy-recall", &Device::flex()).expect("toy-recall");
    let mut ids = Vec::new();
    let mut answers = Vec::new();
    for i in 0..n {
        let symbols: Vec<&str> = (0..6)
            .map(|j| SYMBOLS[(i * 7 + j * 5 + i / 3) % 16])
            .collect();
        let text = format!("{} =", symbols.join(" "));
        ids.push(model.tokenizer().encode(&text).expect("encode").ids);
        let answer = symbols[ANSWER_POSITION];
        answers.push(model.tokenizer().single_token(answer).expect("symbol"));
    }
    let batch = model.batch(ids);
    (model, batch, Metric::Logprob(answers))
}

#[test]
fn batched_single_head_ablation_matches_one_full_forward_per_head() {
    let (model, batch, metric) = setup(12);
    let layers: Vec<usize> = (0..model.n_layers()).collect();
    for removal in [Removal::Zero, Removal::Mean] {
        let pruning = HeadPruning::new(&model.transformer, &batch, &metric, removal).unwrap();
        let each = pruning.ablate_each(&layers).unwrap();
        assert_eq!(each.len(), 8);
        for ablation in each {
            let full = pruning.score(&[ablation.head]).unwrap();
            assert!(
                (ablation.score.metric - full.metric).abs() < 1e-4,
                "{ablation:?} vs {full:?}"
            );
            assert_eq!(ablation.score.accuracy, full.accuracy, "{ablation:?}");
        }
    }
}

#[test]
fn the_costliest_head_to_remove_is_the_most_important_one() {
    let (model, batch, metric) = setup(48);
    let layers: Vec<usize> = (0..model.n_layers()).collect();
    for removal in [Removal::Zero, Removal::Mean] {
        let pruning = HeadPruning::new(&model.transformer, &batch, &metric, removal).unwrap();
        let intact = pruning.score(&[]).unwrap();
        assert!(intact.accuracy.unwrap() > 0.95, "{intact:?}");
        let mut each = pruning.ablate_each(&layers).unwrap();
        each.sort_by(|a, b| a.score.metric.total_cmp(&b.score.metric));
        let costliest = each[0];
        // Removing the copying head leaves the model guessing; removing any other costs little.
        assert_eq!(costliest.head, (1, 1), "{each:?}");
        let guessing = costliest.score.accuracy.unwrap();
        assert!(guessing < CHANCE + 0.1, "{costliest:?}");
        for other in &each[1..] {
            assert!(other.score.accuracy.unwrap() > 0.95, "{other:?}");
            assert!(intact.metric - other.score.metric < 0.01, "{other:?}");
        }
        let scores = pruning.importance(&layers, &[]).unwrap();
        let top = scores.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        assert_eq!(top.0, costliest.head, "{scores:?}");
    }
}

#[test]
fn the_pruning_curve_runs_from_the_intact_model_to_chance() {
    let (model, batch, metric) = setup(32);
    let layers: Vec<usize> = (0..model.n_layers()).collect();
    for rescore in [false, true] {
        let pruning = HeadPruning::new(&model.transformer, &batch, &metric, Removal::Zero).unwrap();
        let intact = pruning.score(&[]).unwrap();
        let importance = pruning.importance(&layers, &[]).unwrap();
        let points = pruning
            .curve(&layers, 4, rescore, intact, importance)
            .unwrap();
        let removed: Vec<usize> = points.iter().map(|p| p.removed.len()).collect();
        assert_eq!(removed, vec![0, 2, 4, 6, 8]);
        let accuracy: Vec<f64> = points.iter().map(|p| p.score.accuracy.unwrap()).collect();
        assert!(accuracy[0] > 0.95, "{accuracy:?}");
        // The least important quarter of the heads goes first and costs (almost) nothing.
        assert!(accuracy[1] > 0.9, "{accuracy:?}");
        assert!(accuracy[4] < CHANCE + 0.15, "{accuracy:?}");
    }
}
