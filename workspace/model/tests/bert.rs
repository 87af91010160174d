//! The BERT loader against PyTorch on a tiny random BERT folder
//! (`tests/fixtures/bert/make_tiny_bert.py`): token ids, every layer's hidden states and the
//! attention probabilities, one text at a time and as one padded batch. Also: the loader's
//! errors on damaged folders, each naming the file and what is wrong.

use cavern_model::Family;
use cavern_model::load::{ModelRef, load_model};
use cavern_model::{LoadedModel, ModelError, Site, SitePoint};
use serde::Deserialize;
use std::path::{Path, PathBuf};

mod common;
use common::{Recorder, max_abs_error, max_relative_error, sequence, to_f64};

/// Largest error of a hidden state, relative to its largest entry (f32 against float64;
/// measured: 2.7e-6).
const HIDDEN_TOLERANCE: f64 = 1e-4;
/// Largest absolute error of an attention probability (measured: 2.6e-6).
const ATTENTION_TOLERANCE: f64 = 1e-5;

#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    /// `[layers + 1][pos][width]`: the normed embeddings, then each layer's output.
    hidden: Vec<Vec<Vec<f64>>>,
    /// `[layers][heads][query][key]`.
    attention: Vec<Vec<Vec<Vec<f64>>>>,
}

fn folder() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bert/tiny_bert")
}

fn bert(path: &Path) -> ModelRef {
    ModelRef::Local {
        family: Some(Family::Bert),
        path: path.to_path_buf(),
    }
}

fn load(path: &Path) -> Result<LoadedModel, ModelError> {
    load_model(&bert(path), &common::device())
}

fn fixture() -> Fixture {
    let text = std::fs::read_to_string(folder().join("expected.json")).expect("fixture");
    serde_json::from_str(&text).expect("fixture parses")
}

/// The worst hidden-state and attention errors over `cases`, run together as one batch.
fn worst_errors(model: &LoadedModel, cases: &[&Case]) -> (f64, f64) {
    let texts: Vec<String> = cases.iter().map(|c| c.text.clone()).collect();
    let batch = model.encode(&texts).expect("texts encode");
    let mut recorder = Recorder::default();
    model.transformer.forward(&batch, &mut recorder);
    let (t, d, heads) = (
        batch.max_len(),
        model.config().d_model,
        model.config().n_heads,
    );
    let (mut hidden, mut attention) = (0.0f64, 0.0f64);
    for (b, case) in cases.iter().enumerate() {
        assert_eq!(batch.ids[b], case.ids, "token ids of {:?}", case.text);
        let len = case.ids.len();
        for (index, want) in case.hidden.iter().enumerate() {
            let site = match index {
                0 => Site::global(SitePoint::Embed),
                l => Site::new(SitePoint::ResidPost, l - 1),
            };
            let got = sequence(&to_f64(recorder.streams[&site].clone()), b, t, d, len);
            let want: Vec<f64> = want.iter().flatten().copied().collect();
            hidden = hidden.max(max_relative_error(&got, &want));
        }
        for (layer, want) in case.attention.iter().enumerate() {
            let pattern = to_f64(recorder.heads[&Site::new(SitePoint::Pattern, layer)].clone());
            for (h, want) in want.iter().enumerate() {
                for (q, want) in want.iter().enumerate() {
                    let at = ((b * heads + h) * t + q) * t;
                    attention = attention.max(max_abs_error(&pattern[at..at + len], want));
                }
            }
        }
    }
    (hidden, attention)
}

#[test]
fn tiny_bert_matches_pytorch_one_at_a_time_and_batched() {
    let model = load(&folder()).expect("tiny BERT loads");
    let fixture = fixture();
    let cases: Vec<&Case> = fixture.cases.iter().collect();
    let batched = worst_errors(&model, &cases);
    let single = cases
        .iter()
        .map(|c| worst_errors(&model, std::slice::from_ref(c)))
        .fold((0.0f64, 0.0f64), |(h, a), (h2, a2)| (h.max(h2), a.max(a2)));
    eprintln!("batched (hidden, attention): {batched:?}; one at a time: {single:?}");
    for (hidden, attention) in [batched, single] {
        assert!(hidden <= HIDDEN_TOLERANCE, "hidden states off by {hidden}");
        assert!(
            attention <= ATTENTION_TOLERANCE,
            "attention off by {attention}"
        );
    }
}

#[test]
fn the_special_mask_flags_cls_and_sep_only() {
    let model = load(&folder()).expect("tiny BERT loads");
    let text = "The film was good.";
    let encoding = model.tokenizer().encode(text).expect("encodes");
    let mask = model.tokenizer().special_mask(text).expect("mask");
    assert_eq!(encoding.tokens.first().map(String::as_str), Some("[CLS]"));
    assert_eq!(encoding.tokens.last().map(String::as_str), Some("[SEP]"));
    let expected: Vec<bool> = encoding
        .tokens
        .iter()
        .map(|t| t == "[CLS]" || t == "[SEP]")
        .collect();
    assert_eq!(mask, expected);
    assert_eq!(mask.iter().filter(|s| **s).count(), 2);
}

#[test]
fn the_output_is_the_unit_length_mean_of_the_last_hidden_states() {
    let model = load(&folder()).expect("tiny BERT loads");
    let fixture = fixture();
    let case = &fixture.cases[0];
    let batch = model
        .encode(std::slice::from_ref(&case.text))
        .expect("encodes");
    let got = to_f64(
        model
            .transformer
            .forward(&batch, &mut cavern_model::NoHooks)
            .logits,
    );
    let last = case.hidden.last().expect("hidden states");
    let mut mean = vec![0.0f64; got.len()];
    for row in last {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, v)| *m += v / last.len() as f64);
    }
    let norm = mean.iter().map(|m| m * m).sum::<f64>().sqrt();
    let want: Vec<f64> = mean.iter().map(|m| m / norm).collect();
    assert!(max_abs_error(&got, &want) < 1e-5, "{got:?} vs {want:?}");
}

/// A copy of the tiny BERT folder in which `damage` has been done to one file.
fn damaged(damage: impl FnOnce(&Path)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("bert");
    std::fs::create_dir(&copy).expect("mkdir");
    for file in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(folder().join(file), copy.join(file)).expect("copy");
    }
    damage(&copy);
    (dir, copy)
}

#[track_caller]
fn error_of(path: &Path) -> String {
    match load(path) {
        Ok(_) => panic!("{} loaded although damaged", path.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn damaged_folders_are_clear_errors_naming_the_file() {
    let (_dir, path) = damaged(|dir| {
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).expect("read");
        std::fs::write(&weights, &bytes[..bytes.len() / 2]).expect("truncate");
    });
    let message = error_of(&path);
    assert!(message.contains("model.safetensors"), "{message}");
    assert!(message.contains("corrupt or truncated"), "{message}");

    let (_dir, path) = damaged(|dir| {
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).expect("read");
        let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("parses");
        let kept: Vec<_> = tensors
            .tensors()
            .into_iter()
            .filter(|(name, _)| name != "encoder.layer.1.output.dense.weight")
            .collect();
        let bytes = safetensors::serialize(kept, None).expect("serializes");
        std::fs::write(&weights, bytes).expect("write");
    });
    let message = error_of(&path);
    assert!(
        message.contains("tensor `encoder.layer.1.output.dense.weight` is missing"),
        "{message}"
    );

    let (_dir, path) = damaged(|dir| {
        let config = dir.join("config.json");
        let text = std::fs::read_to_string(&config).expect("read");
        std::fs::write(&config, text.replace("\"gelu\"", "\"swish\"")).expect("write");
    });
    let message = error_of(&path);
    assert!(message.contains("config.json"), "{message}");
    assert!(
        message.contains("hidden_act \"swish\" is not supported"),
        "{message}"
    );

    let (_dir, path) = damaged(|dir| {
        let config = dir.join("config.json");
        let text = std::fs::read_to_string(&config).expect("read");
        std::fs::write(
            &config,
            text.replace("\"hidden_size\": 16", "\"hidden_size\": 32"),
        )
        .expect("write");
    });
    let message = error_of(&path);
    assert!(
        message.contains("has shape [35, 16] where the config implies [35, 32]"),
        "{message}"
    );

    let (_dir, path) = damaged(|dir| {
        std::fs::write(dir.join("tokenizer.json"), "{\"not\": \"a tokenizer\"}").expect("write");
    });
    let message = error_of(&path);
    assert!(message.contains("tokenizer.json"), "{message}");
    assert!(message.contains("not a valid tokenizer.json"), "{message}");

    let (_dir, path) = damaged(|dir| std::fs::remove_file(dir.join("config.json")).expect("rm"));
    let message = error_of(&path);
    assert!(message.contains("config.json"), "{message}");

    let message = error_of(&folder().join("model.safetensors"));
    assert!(
        message.contains("is not a folder holding config.json"),
        "{message}"
    );
}

#[test]
fn a_huge_vocabulary_in_config_json_is_refused_before_allocating() {
    let (_dir, path) = damaged(|dir| {
        let config = dir.join("config.json");
        let text = std::fs::read_to_string(&config).expect("read");
        let text = text.replace("\"vocab_size\": 35", "\"vocab_size\": 1000000000000");
        std::fs::write(&config, text).expect("write");
    });
    let message = error_of(&path);
    assert!(
        message.contains("has shape [35, 16] where the config implies [1000000000000, 16]"),
        "{message}"
    );
}

#[test]
fn a_nan_weight_is_an_error_naming_the_tensor() {
    let (_dir, path) = damaged(|dir| {
        let weights = dir.join("model.safetensors");
        let bytes = std::fs::read(&weights).expect("read");
        let tensors = safetensors::SafeTensors::deserialize(&bytes).expect("parses");
        let name = "encoder.layer.0.attention.self.key.weight";
        let mut data = tensors.tensor(name).expect("tensor").data().to_vec();
        data[..4].copy_from_slice(&f32::NAN.to_le_bytes());
        let mut views = tensors.tensors();
        let view = views.iter_mut().find(|(n, _)| n == name).expect("listed");
        view.1 =
            safetensors::tensor::TensorView::new(view.1.dtype(), view.1.shape().to_vec(), &data)
                .expect("view");
        std::fs::write(
            &weights,
            safetensors::serialize(views, None).expect("serializes"),
        )
        .expect("write");
    });
    let message = error_of(&path);
    assert!(
        message.contains("`encoder.layer.0.attention.self.key.weight` holds 1 non-finite"),
        "{message}"
    );
}
