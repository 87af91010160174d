//! The GGUF Llama loader against PyTorch: tiny random Hugging Face Llamas converted the way
//! llama.cpp converts them (`tests/fixtures/llama/make_tiny_llama.py`), run through
//! [`Transformer::forward`] and compared, logits and every layer's residual stream, with what
//! `transformers` computes in float64. Also: the loader's errors on files it must refuse.

use std::collections::BTreeMap;
use std::path::PathBuf;

use burn::module::{Module, Param};
use burn::tensor::{Tensor, TensorData};
use cavern_model::config::{OutputHead, Positions, RopeConfig, RopeLayout, RopeScaling};
use cavern_model::gguf::{GgmlType, GgufFile, MetaValue};
use cavern_model::gguf_model::{config_from_gguf, load_gguf_weights};
use cavern_model::{ModelError, Site, SitePoint, TokenBatch, Transformer};
use serde::Deserialize;

mod common;
use common::{Recorder, argmax, relative_error, to_f64};

/// Relative L2 error allowed for f32 weights.
const F32_TOLERANCE: f64 = 1e-4;
/// Relative L2 error allowed for F16 weights (measured: 8e-4 on the logits).
const F16_TOLERANCE: f64 = 5e-3;

/// `tiny_llama.json`: PyTorch's answers for each model file.
#[derive(Deserialize)]
struct Fixture {
    models: BTreeMap<String, Vec<Case>>,
}

/// One token sequence and what PyTorch computes at its last position.
#[derive(Deserialize, Clone)]
struct Case {
    ids: Vec<u32>,
    logits: Vec<f64>,
    /// Output of every decoder layer.
    resid_post: Vec<Vec<f64>>,
    /// The last layer's output after the final RMSNorm.
    ln_final: Vec<f64>,
}

/// What cavern computes for one sequence, at its last position.
struct Got {
    logits: Vec<f64>,
    resid_post: Vec<Vec<f64>>,
    ln_final: Vec<f64>,
}

fn fixture_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/llama")
        .join(name)
}

fn gguf(name: &str) -> GgufFile {
    GgufFile::read(&fixture_path(name)).expect("fixture GGUF parses")
}

fn cases(model: &str) -> Vec<Case> {
    let text = std::fs::read_to_string(fixture_path("tiny_llama.json")).expect("json exists");
    let fixture: Fixture = serde_json::from_str(&text).expect("json parses");
    fixture.models[model].clone()
}

fn load(name: &str) -> Transformer {
    load_gguf_weights(&gguf(name), &common::device()).expect("fixture loads")
}

/// Runs `sequences` as one right-padded batch and reads each one's last position.
fn run(model: &Transformer, sequences: &[Vec<u32>]) -> Vec<Got> {
    let batch = TokenBatch {
        ids: sequences.to_vec(),
        pad_id: model.config.pad_id,
    };
    let mut recorder = Recorder::default();
    let logits = to_f64(model.forward(&batch, &mut recorder).logits);
    let (t, d, vocab) = (
        batch.max_len(),
        model.config.d_model,
        model.config.vocab_size,
    );
    let last = |site: Site, b: usize| {
        let x = to_f64(recorder.streams[&site].clone());
        let at = (b * t + sequences[b].len() - 1) * d;
        x[at..at + d].to_vec()
    };
    (0..sequences.len())
        .map(|b| Got {
            logits: logits[b * vocab..(b + 1) * vocab].to_vec(),
            resid_post: (0..model.config.n_layers)
                .map(|l| last(Site::new(SitePoint::ResidPost, l), b))
                .collect(),
            ln_final: last(Site::global(SitePoint::LnFinal), b),
        })
        .collect()
}

/// The largest relative errors over all cases: logits, per-layer residuals, final norm.
#[derive(Debug, Default)]
struct Errors {
    logits: f64,
    resid_post: Vec<f64>,
    ln_final: f64,
    argmax_agrees: bool,
}

fn compare(got: &[Got], want: &[Case]) -> Errors {
    let mut errors = Errors {
        argmax_agrees: true,
        resid_post: vec![0.0; want[0].resid_post.len()],
        ..Errors::default()
    };
    for (g, w) in got.iter().zip(want) {
        errors.logits = errors.logits.max(relative_error(&g.logits, &w.logits));
        errors.ln_final = errors
            .ln_final
            .max(relative_error(&g.ln_final, &w.ln_final));
        for (layer, (gl, wl)) in g.resid_post.iter().zip(&w.resid_post).enumerate() {
            errors.resid_post[layer] = errors.resid_post[layer].max(relative_error(gl, wl));
        }
        errors.argmax_agrees &= argmax(&g.logits) == argmax(&w.logits);
    }
    errors
}

/// Batched and one-at-a-time runs of every case, compared with PyTorch.
fn parity(model: &Transformer, want: &[Case]) -> [Errors; 2] {
    let ids: Vec<Vec<u32>> = want.iter().map(|c| c.ids.clone()).collect();
    let batched = run(model, &ids);
    let single: Vec<Got> = ids
        .iter()
        .flat_map(|s| run(model, std::slice::from_ref(s)))
        .collect();
    [compare(&batched, want), compare(&single, want)]
}

fn assert_within(errors: &Errors, tolerance: f64, what: &str) {
    eprintln!("{what}: {errors:?}");
    assert!(errors.argmax_agrees, "{what}: arg-max differs");
    assert!(errors.logits <= tolerance, "{what}: logits {errors:?}");
    assert!(errors.ln_final <= tolerance, "{what}: ln_final {errors:?}");
    for (layer, e) in errors.resid_post.iter().enumerate() {
        assert!(*e <= tolerance, "{what}: resid_post of layer {layer}: {e}");
    }
}

#[test]
fn config_comes_from_the_metadata() {
    let config = config_from_gguf(&gguf("tiny_llama.gguf")).expect("config");
    assert_eq!(
        (config.vocab_size, config.d_model, config.n_layers),
        (64, 32, 2)
    );
    assert_eq!(
        (
            config.n_heads,
            config.n_kv_heads,
            config.d_head,
            config.d_mlp
        ),
        (4, 2, 8, 48)
    );
    assert_eq!(
        config.positions,
        Positions::Rope(RopeConfig::new(10_000.0, RopeLayout::AdjacentPairs))
    );
    assert!((config.norm_eps - 1e-5).abs() < 1e-10);
    assert_eq!(config.head, OutputHead::LanguageModel { tied: true });
    assert_eq!(config.pad_id, 0);
    let untied = config_from_gguf(&gguf("tiny_llama_untied.gguf")).expect("config");
    assert_eq!(untied.head, OutputHead::LanguageModel { tied: false });
}

#[test]
fn loaded_model_has_the_structure_transformer_new_builds() {
    let model = load("tiny_llama_untied.gguf");
    let fresh = Transformer::new(model.config.clone(), &common::device());
    assert_eq!(model.num_params(), fresh.num_params());
}

#[test]
fn f32_tied_model_matches_pytorch() {
    let model = load("tiny_llama.gguf");
    let [batched, single] = parity(&model, &cases("tiny_llama.gguf"));
    assert_within(&batched, F32_TOLERANCE, "f32 tied, batched");
    assert_within(&single, F32_TOLERANCE, "f32 tied, one at a time");
}

#[test]
fn f32_untied_model_matches_pytorch() {
    let model = load("tiny_llama_untied.gguf");
    let [batched, single] = parity(&model, &cases("tiny_llama_untied.gguf"));
    assert_within(&batched, F32_TOLERANCE, "f32 untied, batched");
    assert_within(&single, F32_TOLERANCE, "f32 untied, one at a time");
}

#[test]
fn f16_model_is_close_to_the_f32_reference() {
    let file = gguf("tiny_llama_f16.gguf");
    assert_eq!(
        file.tensor("blk.0.attn_q.weight").unwrap().kind,
        GgmlType::F16
    );
    let model = load_gguf_weights(&file, &common::device()).expect("loads");
    let [batched, _] = parity(&model, &cases("tiny_llama.gguf"));
    assert_within(&batched, F16_TOLERANCE, "f16 tied, batched");
}

/// Rewrites every head of `linear`'s output features from llama.cpp's interleaved layout back
/// to Hugging Face's (the inverse of convert_hf_to_gguf.py's `permute`).
fn unpermute(weight: &Param<Tensor<2>>, d_head: usize) -> Param<Tensor<2>> {
    let tensor = weight.val();
    let [d_in, d_out] = tensor.dims();
    let stored = tensor.into_data().try_into_vec_as::<f32>().expect("floats");
    let half = d_head / 2;
    let mut hf = vec![0.0; stored.len()];
    for row in 0..d_in {
        for col in 0..d_out {
            // llama.cpp column 2i + j of a head holds Hugging Face column j * half + i.
            let (head, within) = (col / d_head, col % d_head);
            let hf_col = head * d_head + (within % 2) * half + within / 2;
            hf[row * d_out + hf_col] = stored[row * d_out + col];
        }
    }
    let device = common::device();
    Param::from_tensor(Tensor::from_data(
        TensorData::new(hf, [d_in, d_out]),
        &device,
    ))
}

/// The parity tests are sensitive to the RoPE layout: with the q/k rows put back in Hugging
/// Face's order, adjacent-pair RoPE no longer reproduces the reference.
#[test]
fn undoing_the_llama_cpp_permutation_breaks_parity() {
    let mut model = load("tiny_llama.gguf");
    let d_head = model.config.d_head;
    for block in &mut model.blocks {
        block.attn.q.weight = unpermute(&block.attn.q.weight, d_head);
        block.attn.k.weight = unpermute(&block.attn.k.weight, d_head);
    }
    let want = cases("tiny_llama.gguf");
    let ids: Vec<Vec<u32>> = want.iter().map(|c| c.ids.clone()).collect();
    let got = run(&model, &ids);
    // Position 0 has no rotation, and permuting q and k alike keeps their dot products.
    assert_eq!(want[0].ids.len(), 1);
    assert!(relative_error(&got[0].logits, &want[0].logits) <= F32_TOLERANCE);
    for (g, w) in got.iter().zip(&want).skip(1) {
        let e = relative_error(&g.logits, &w.logits);
        eprintln!("unpermuted, length {}: logits error {e}", w.ids.len());
        assert!(e > 1e-2, "length {}: error {e}", w.ids.len());
    }
}

fn load_error(file: &GgufFile) -> String {
    match load_gguf_weights(file, &common::device()) {
        Ok(_) => panic!("the file should be refused"),
        Err(e @ ModelError::Checkpoint { .. }) => e.to_string(),
        Err(other) => panic!("unexpected error kind: {other}"),
    }
}

fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} should mention {part:?}"
        );
    }
}

#[test]
fn a_missing_tensor_is_named() {
    let mut file = gguf("tiny_llama.gguf");
    file.tensors.retain(|t| t.name != "blk.1.ffn_up.weight");
    let message = load_error(&file);
    assert_mentions(&message, &["`blk.1.ffn_up.weight`", "missing"]);
}

#[test]
fn a_wrong_shape_is_named() {
    let mut file = gguf("tiny_llama.gguf");
    let info = file
        .tensors
        .iter_mut()
        .find(|t| t.name == "blk.0.attn_k.weight")
        .unwrap();
    info.dims = vec![16, 32];
    let message = load_error(&file);
    assert_mentions(&message, &["`blk.0.attn_k.weight`", "[16, 32]", "[32, 16]"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut file = gguf("tiny_llama.gguf");
    file.tensors.retain(|t| t.name != "output_norm.weight");
    let mut bias = file.tensor("blk.0.attn_norm.weight").unwrap().clone();
    bias.name = "blk.0.attn_q.bias".into();
    file.tensors.push(bias);
    let q = file
        .tensors
        .iter_mut()
        .find(|t| t.name == "blk.1.attn_q.weight")
        .unwrap();
    q.kind = GgmlType::Other(99);
    let message = load_error(&file);
    assert_mentions(
        &message,
        &[
            "`output_norm.weight` is missing",
            "blk.0.attn_q.bias",
            "`blk.1.attn_q.weight` has type",
        ],
    );
}

#[test]
fn a_vocabulary_disagreeing_with_the_embedding_is_named() {
    let mut file = gguf("tiny_llama.gguf");
    let tokens = vec![MetaValue::String("x".into()); 70];
    file.metadata
        .insert("tokenizer.ggml.tokens".into(), MetaValue::Array(tokens));
    let message = load_error(&file);
    assert_mentions(&message, &["`token_embd.weight`", "[32, 64]", "[32, 70]"]);
}

#[test]
fn another_architecture_is_refused() {
    let mut file = gguf("tiny_llama.gguf");
    file.metadata.insert(
        "general.architecture".into(),
        MetaValue::String("gpt2".into()),
    );
    let message = load_error(&file);
    assert_mentions(&message, &["general.architecture", "`gpt2`", "`llama`"]);
    file.metadata.remove("general.architecture");
    assert_mentions(&load_error(&file), &["`general.architecture` is missing"]);
}

#[test]
fn missing_or_mistyped_metadata_is_named() {
    let mut file = gguf("tiny_llama.gguf");
    file.metadata.remove("llama.block_count");
    assert_mentions(&load_error(&file), &["`llama.block_count` is missing"]);
    let mut file = gguf("tiny_llama.gguf");
    file.metadata.insert(
        "llama.attention.head_count".into(),
        MetaValue::String("4".into()),
    );
    assert_mentions(
        &load_error(&file),
        &["`llama.attention.head_count`", "string"],
    );
    let mut file = gguf("tiny_llama.gguf");
    file.metadata
        .insert("llama.attention.head_count".into(), MetaValue::U32(5));
    assert_mentions(&load_error(&file), &["not a multiple"]);
    let mut file = gguf("tiny_llama.gguf");
    file.metadata
        .insert("llama.attention.head_count".into(), MetaValue::U32(0));
    assert_mentions(&load_error(&file), &["`llama.attention.head_count` is 0"]);
}

#[test]
fn unsupported_llama_variants_are_refused() {
    let cases = [
        (
            "llama.rope.dimension_count",
            MetaValue::U32(4),
            "head width 8",
        ),
        (
            "llama.rope.scaling.type",
            MetaValue::String("yarn".into()),
            "RoPE scaling \"yarn\" is not supported",
        ),
        (
            "llama.attention.value_length",
            MetaValue::U32(4),
            "llama.attention.value_length is 4",
        ),
        (
            "llama.expert_count",
            MetaValue::U32(8),
            "mixtures of experts",
        ),
    ];
    for (key, value, expected) in cases {
        let mut file = gguf("tiny_llama.gguf");
        file.metadata.insert(key.into(), value);
        assert_mentions(&load_error(&file), &[expected]);
    }
}

#[test]
fn pad_id_falls_back_to_eos_then_zero() {
    let mut file = gguf("tiny_llama.gguf");
    file.metadata.remove("tokenizer.ggml.padding_token_id");
    assert_eq!(config_from_gguf(&file).unwrap().pad_id, 2);
    file.metadata.remove("tokenizer.ggml.eos_token_id");
    assert_eq!(config_from_gguf(&file).unwrap().pad_id, 0);
    file.metadata
        .insert("tokenizer.ggml.eos_token_id".into(), MetaValue::U32(64));
    assert_mentions(&load_error(&file), &["pad_id is outside the vocabulary"]);
}

#[test]
fn vocabulary_size_falls_back_to_the_embedding() {
    let mut file = gguf("tiny_llama.gguf");
    file.metadata.remove("tokenizer.ggml.tokens");
    file.metadata.remove("llama.vocab_size");
    assert_eq!(config_from_gguf(&file).unwrap().vocab_size, 64);
}

#[test]
fn a_non_finite_weight_is_named() {
    let mut bytes = std::fs::read(fixture_path("tiny_llama.gguf")).expect("fixture");
    let name = "blk.1.ffn_down.weight";
    // The tensor's first values, found in the file and replaced by an infinity.
    let first: Vec<u8> = gguf("tiny_llama.gguf").dequantize(name).expect("f32")[..4]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    let at = bytes
        .windows(first.len())
        .position(|w| w == first.as_slice())
        .expect("the tensor's bytes");
    bytes[at..at + 4].copy_from_slice(&f32::INFINITY.to_le_bytes());
    let file = GgufFile::parse(bytes).expect("still parses");
    assert_mentions(
        &load_error(&file),
        &["`blk.1.ffn_down.weight` holds 1 non-finite"],
    );
}

#[test]
fn linear_rope_scaling_is_read_with_its_factor() {
    let mut file = gguf("tiny_llama.gguf");
    file.metadata.insert(
        "llama.rope.scaling.type".into(),
        MetaValue::String("linear".into()),
    );
    assert_mentions(
        &load_error(&file),
        &["RoPE scaling needs `llama.rope.scaling.factor`"],
    );
    file.metadata
        .insert("llama.rope.scaling.factor".into(), MetaValue::F32(4.0));
    let Positions::Rope(rope) = config_from_gguf(&file).unwrap().positions else {
        panic!("rotary positions")
    };
    assert_eq!(rope.scaling, RopeScaling::Linear { factor: 4.0 });
    assert_eq!(rope.layout, RopeLayout::AdjacentPairs);
}
