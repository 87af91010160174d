//! Greedy generation with the key/value cache against uncached decoding (every token re-runs
//! the whole sequence): the same tokens and logits within 1e-5, prompts of mixed length run
//! together or one at a time, on toy-recall and on the tiny random checkpoint of every decoder
//! family (learned positions, partial rotary, grouped-query attention, sliding windows of 4
//! tokens, soft-capping, head norms). SmolLM2's check is in real_parity.rs.

use cavern_model::builtin::load_builtin;
use cavern_model::{Family, LoadedModel, ModelError, ModelRef, NoHooks, load_model};
use std::path::PathBuf;

mod common;
use common::assert_cached_generation_matches;

/// Largest absolute logit difference allowed between cached and uncached decoding: the two
/// multiply matrices of different shapes, whose sums round differently, and the fixtures'
/// logits reach ±32, where `f32` values lie 3.8e-6 apart, so this is eight units in the last
/// place (measured: at most 1.6e-5, Qwen2).
const TOLERANCE: f64 = 3e-5;

/// Prompts of 1 to 9 tokens (ids below 288, every fixture's vocabulary).
fn prompts() -> Vec<Vec<u32>> {
    [5usize, 1, 9, 3]
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            (0..len)
                .map(|k| ((i * 101 + k * 37 + 11) % 287) as u32 + 1)
                .collect()
        })
        .collect()
}

#[test]
fn every_family_generates_the_uncached_tokens() {
    // Every decoder family (BERT is the one encoder).
    for family in Family::ALL.into_iter().filter(|&f| f != Family::Bert) {
        let model = fixture(family);
        // 9 + 12 tokens: well past the sliding windows (4), within GPT-2's 32 positions.
        let (worst, largest) =
            assert_cached_generation_matches(&model.transformer, 0, &prompts(), 12, TOLERANCE);
        eprintln!("{family}: largest logit difference {worst:e} (largest |logit| {largest:.1})");
    }
}

#[test]
fn toy_recall_generates_the_uncached_tokens() {
    let model = load_builtin("toy-recall", &common::device()).unwrap();
    let prompt = |text: &str| model.tokenizer.encode(text).unwrap().ids;
    let prompts = vec![prompt("c g a d b i ="), prompt("a b ="), prompt("h =")];
    let pad = model.config().pad_id;
    assert_cached_generation_matches(&model.transformer, pad, &prompts, 4, TOLERANCE);
}

/// A family's fixture model.
fn fixture(family: Family) -> LoadedModel {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/families")
        .join(family.as_str());
    load_model(&ModelRef::Local { family: None, path }, &common::device())
        .unwrap_or_else(|e| panic!("{family} loads: {e}"))
}

#[test]
fn generation_refuses_what_it_cannot_do() {
    let generate = |model: &LoadedModel, prompt: Vec<u32>, n: usize| {
        cavern_model::generate::generate::<_, ModelError>(
            &model.transformer,
            &model.batch(vec![prompt]),
            n,
            |_| NoHooks,
            |_| Ok(()),
        )
        .map(|g| g.tokens)
        .map_err(|e| e.to_string())
    };
    let sentiment = load_builtin("toy-sentiment", &common::device()).unwrap();
    let err = generate(&sentiment, vec![1, 2, 3], 2).unwrap_err();
    assert!(err.contains("only language models generate"), "{err}");
    // GPT-2's fixture has 32 learned positions: 9 prompt tokens leave room for 24.
    let gpt2 = fixture(Family::Gpt2);
    let prompt = prompts()[2].clone();
    assert_eq!(generate(&gpt2, prompt.clone(), 24).unwrap()[0].len(), 24);
    let err = generate(&gpt2, prompt.clone(), 25).unwrap_err();
    assert!(err.contains("ask for at most 24 tokens"), "{err}");
    assert_eq!(generate(&gpt2, prompt, 0).unwrap(), [Vec::<u32>::new()]);
}
