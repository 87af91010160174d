//! Head ablation, importance and the pruning curve on `toy-recall`, which copies the symbol at
//! position 1 to the final position.
//!
//! Its checkpoint spreads that copy over several heads: layer 0's head 1 carries most of it, but
//! removing it alone still leaves most answers right (see the module notes of the test below).

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
        // Layer 0's head 1 moves most of the answer: zeroing it costs far more than any other.
        assert_eq!(costliest.head, (0, 1), "{each:?}");
        if removal == Removal::Zero {
            let drop = intact.metric - costliest.score.metric;
            for other in &each[1..] {
                let cost = intact.metric - other.score.metric;
                assert!(cost < drop / 4.0, "{other:?} vs {costliest:?}");
            }
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
