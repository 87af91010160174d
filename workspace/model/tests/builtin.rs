//! The built-in models load, keep their held-out accuracy, ignore padding and refuse bad files.

use burn::tensor::{Device, Tensor};
use cavern_model::builtin::{ModelCard, load_builtin, load_checkpoint};
use cavern_model::tokenizer::Tokenizer;
use cavern_model::toy::{self, train};
use cavern_model::{LoadedModel, ModelError, NoHooks};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

fn model(name: &str) -> LoadedModel {
    load_builtin(name, &Device::flex()).expect("built-in model loads")
}

fn logits(model: &LoadedModel, texts: &[String]) -> Vec<f32> {
    let batch = model.encode(texts).expect("texts encode");
    let out: Tensor<2> = model.transformer.forward(&batch, &mut NoHooks).logits;
    out.into_data()
        .try_into_vec_as::<f32>()
        .expect("f32 logits")
}

#[test]
fn built_in_models_are_accurate_on_fresh_examples() {
    for name in toy::TOY_NAMES {
        let model = model(name);
        let task = toy::task(name).expect("task exists");
        let Tokenizer::Word(words) = model.tokenizer() else {
            panic!("{name}: toy models use word tokenizers");
        };
        let mut rng = ChaCha8Rng::seed_from_u64(12345);
        let examples: Vec<_> = (0..1000).map(|_| task.sample(&mut rng, words)).collect();
        let accuracy = train::accuracy(&model.transformer, words, &examples);
        assert!(accuracy >= 0.99, "{name}: accuracy {accuracy}");
        assert!(
            model.heldout_accuracy.is_some_and(|a| a >= 0.99),
            "{name}: recorded accuracy"
        );
    }
}

#[test]
fn recall_copies_the_second_symbol() {
    let model = model("toy-recall");
    let texts = vec!["a k c d e f =".to_string(), "p o n m l k =".to_string()];
    let out = logits(&model, &texts);
    let vocab = model.tokenizer().vocab_size();
    let argmax = |row: &[f32]| {
        (0..row.len())
            .max_by(|&a, &b| row[a].total_cmp(&row[b]))
            .unwrap_or(0)
    };
    let token = |i: usize| model.tokenizer().token_text(i as u32);
    assert_eq!(token(argmax(&out[..vocab])), "k");
    assert_eq!(token(argmax(&out[vocab..])), "o");
}

#[test]
fn recall_was_pruned_to_one_head_and_its_card_says_which() {
    let (card, _) = checkpoint_bytes("toy-recall");
    let card: ModelCard = serde_json::from_slice(&card).expect("card parses");
    let pruned = card.training.pruned_heads;
    assert_eq!(pruned.len(), 7, "{pruned:?}");
    let model = model("toy-recall");
    let d_head = model.config().d_head;
    for layer in 0..model.n_layers() {
        let w_o = model.transformer.blocks[layer].attn.o.weight.val();
        for head in 0..model.config().n_heads {
            let rows = w_o.clone().narrow(0, head * d_head, d_head);
            let largest: f32 = rows.abs().max().into_scalar();
            assert_eq!(
                largest == 0.0,
                pruned.contains(&[layer, head]),
                "head {layer}.{head}: largest output weight {largest}"
            );
        }
    }
}

#[test]
fn padding_never_changes_a_result() {
    for (name, short, long) in [
        (
            "toy-sentiment",
            "it was good",
            "the red blue film was not very bad in green",
        ),
        ("toy-recall", "a b c d e f =", "a b c d e f ="),
    ] {
        let model = model(name);
        let alone = logits(&model, &[short.to_string()]);
        let padded = logits(
            &model,
            &[short.to_string(), format!("{long} {long}")].map(|t| {
                // Keep the second text within the model's length limit.
                t.split(' ').take(14).collect::<Vec<_>>().join(" ")
            }),
        );
        let n = alone.len();
        for (a, b) in alone.iter().zip(&padded[..n]) {
            assert!((a - b).abs() < 1e-5, "{name}: {a} vs {b}");
        }
    }
}

#[test]
fn sentiment_ignores_colours() {
    let model = model("toy-sentiment");
    let plain = logits(&model, &["the film was not bad".to_string()]);
    let coloured = logits(
        &model,
        &["the red grey film was not bad in blue".to_string()],
    );
    assert!(plain[1] > plain[0], "`not bad` is positive");
    assert!(
        (plain[1] - coloured[1]).abs() < 0.1,
        "{plain:?} vs {coloured:?}"
    );
}

fn checkpoint_bytes(name: &str) -> (Vec<u8>, Vec<u8>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/checkpoints");
    let read = |ext: &str| std::fs::read(format!("{dir}/{name}.{ext}")).expect("checkpoint file");
    (read("json"), read("safetensors"))
}

fn load_error(card: &[u8], weights: &[u8]) -> String {
    match load_checkpoint("toy-sentiment", card, weights, "test", &Device::flex()) {
        Err(e @ ModelError::Checkpoint { .. }) => e.to_string(),
        Err(other) => panic!("unexpected error kind: {other}"),
        Ok(_) => panic!("a damaged checkpoint loaded"),
    }
}

#[test]
fn truncated_or_corrupt_weights_are_errors_naming_the_file() {
    let (card, weights) = checkpoint_bytes("toy-sentiment");
    let truncated = load_error(&card, &weights[..weights.len() / 2]);
    assert!(
        truncated.contains("toy-sentiment.safetensors"),
        "{truncated}"
    );
    let mut garbage = weights.clone();
    garbage[..8].copy_from_slice(&u64::MAX.to_le_bytes());
    let corrupt = load_error(&card, &garbage);
    assert!(corrupt.contains("toy-sentiment.safetensors"), "{corrupt}");
    let (_, other_weights) = checkpoint_bytes("toy-recall");
    let mismatch = load_error(&card, &other_weights);
    assert!(mismatch.contains("toy-sentiment.safetensors"), "{mismatch}");
}

#[test]
fn bad_cards_and_empty_checkpoints_are_errors() {
    let (card, weights) = checkpoint_bytes("toy-sentiment");
    let bad_json = load_error(&card[..card.len() / 2], &weights);
    assert!(
        bad_json.contains("toy-sentiment.json") && bad_json.contains("invalid model card"),
        "{bad_json}"
    );
    let empty = load_error(&[], &[]);
    assert!(empty.contains("cavern train-toy toy-sentiment"), "{empty}");
    assert!(matches!(
        load_builtin("toy-nonexistent", &Device::flex()),
        Err(ModelError::UnknownModel { .. })
    ));
}

#[test]
fn texts_without_tokens_or_too_long_are_refused() {
    let model = model("toy-sentiment");
    assert!(matches!(
        model.encode(&["...".to_string()]),
        Err(ModelError::EmptyText { .. })
    ));
    let long = vec!["good"; 40].join(" ");
    assert!(matches!(
        model.encode(&[long]),
        Err(ModelError::TooLong {
            len: 40,
            max: 16,
            ..
        })
    ));
}
