//! The Hugging Face folder loaders against PyTorch: a tiny random checkpoint of each decoder
//! family (`tests/fixtures/families/make_families.py`), loaded from its folder with the family
//! read from `config.json`, run one sequence at a time and as one padded batch, and compared
//! with what transformers computes in float64: last-position logits and every layer's residual
//! stream (relative L2 error ≤ 1e-4), attention probabilities (≤ 1e-5 absolute), token ids.
//!
//! The families llama.cpp stores under their own architecture (qwen2, qwen3, gemma2, gemma3)
//! are checked the same way from GGUF files written as its converter writes them
//! (`tests/fixtures/families/gguf/`), tokenizer included.
//!
//! Each family also has a negative control: the layout mistake its loader must avoid, made
//! on purpose, breaks parity well beyond the tolerance.

use burn::module::Param;
use burn::tensor::{Tensor, TensorData};
use cavern_model::config::{Positions, RopeLayout};
use cavern_model::{Family, LoadedModel, ModelRef, Site, SitePoint, TokenBatch, load_model};
use safetensors::SafeTensors;
use std::path::PathBuf;

mod common;
use common::{Recorder, argmax, max_abs_error, relative_error, sequence, to_f64};

/// Relative L2 error allowed for logits and residual streams.
const TOLERANCE: f64 = 1e-4;
/// Absolute error allowed for an attention probability.
const PATTERN_TOLERANCE: f64 = 1e-5;
/// The logits error a deliberate layout mistake must exceed.
const BROKEN: f64 = 1e-2;

fn folder(family: Family) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/families")
        .join(family.as_str())
}

/// `family`'s GGUF fixture; its reference is the `.safetensors` file beside it.
fn gguf_file(family: Family) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/families/gguf")
        .join(format!("{family}.gguf"))
}

/// Loads a fixture folder or GGUF file, its family read from it.
fn load(path: PathBuf) -> LoadedModel {
    let reference = ModelRef::Local { family: None, path };
    load_model(&reference, &common::device())
        .unwrap_or_else(|e| panic!("{} loads: {e}", reference.label()))
}

/// The reference file of a loaded fixture: `expected.safetensors` in its folder, or the
/// `.safetensors` file beside its GGUF file.
fn reference_file(model: &LoadedModel) -> PathBuf {
    let source = PathBuf::from(&model.source);
    match source.extension().is_some_and(|e| e == "gguf") {
        true => source.with_extension("safetensors"),
        false => source.join("expected.safetensors"),
    }
}

/// One reference case: ids, last-position logits, `[layers, t, d]` residuals and
/// `[layers, heads, t, t]` attention probabilities.
struct Case {
    ids: Vec<u32>,
    logits: Vec<f64>,
    resid: Vec<f64>,
    pattern: Vec<f64>,
}

/// The texts and the reference cases in `file`.
fn expected(file: &std::path::Path) -> (Vec<String>, Vec<Case>) {
    let bytes = std::fs::read(file).expect("fixture");
    let (_, metadata) = SafeTensors::read_metadata(&bytes).expect("header");
    let texts: Vec<String> =
        serde_json::from_str(&metadata.metadata().as_ref().expect("metadata")["texts"])
            .expect("texts");
    let tensors = SafeTensors::deserialize(&bytes).expect("fixture parses");
    let floats = |name: String| -> Vec<f64> {
        let view = tensors.tensor(&name).expect("tensor");
        view.data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes(b.try_into().unwrap()) as f64)
            .collect()
    };
    let cases = (0..texts.len())
        .map(|i| Case {
            ids: tensors
                .tensor(&format!("c{i}.ids"))
                .expect("ids")
                .data()
                .chunks_exact(8)
                .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as u32)
                .collect(),
            logits: floats(format!("c{i}.logits")),
            resid: floats(format!("c{i}.resid")),
            pattern: floats(format!("c{i}.pattern")),
        })
        .collect();
    (texts, cases)
}

/// The worst errors over a set of runs.
#[derive(Debug, Default)]
struct Errors {
    logits: f64,
    resid: f64,
    pattern: f64,
    argmax_agrees: bool,
}

/// Runs `cases` through `model` as one padded batch and compares each with its reference.
fn compare(model: &LoadedModel, cases: &[&Case]) -> Errors {
    let batch = TokenBatch {
        ids: cases.iter().map(|c| c.ids.clone()).collect(),
        pad_id: model.config().pad_id,
    };
    let mut recorder = Recorder::default();
    let logits = to_f64(model.transformer.forward(&batch, &mut recorder).logits);
    let c = model.config();
    let (t, d, vocab, heads) = (batch.max_len(), c.d_model, c.vocab_size, c.n_heads);
    let mut errors = Errors {
        argmax_agrees: true,
        ..Errors::default()
    };
    for (b, case) in cases.iter().enumerate() {
        let len = case.ids.len();
        let got = &logits[b * vocab..(b + 1) * vocab];
        errors.logits = errors.logits.max(relative_error(got, &case.logits));
        errors.argmax_agrees &= argmax(got) == argmax(&case.logits);
        for layer in 0..c.n_layers {
            let resid = to_f64(recorder.streams[&Site::new(SitePoint::ResidPost, layer)].clone());
            let want = &case.resid[layer * len * d..(layer + 1) * len * d];
            let got = sequence(&resid, b, t, d, len);
            errors.resid = errors.resid.max(relative_error(&got, want));
            let pattern = to_f64(recorder.heads[&Site::new(SitePoint::Pattern, layer)].clone());
            for h in 0..heads {
                for q in 0..len {
                    let at = ((b * heads + h) * t + q) * t;
                    let want = ((layer * heads + h) * len + q) * len;
                    let error =
                        max_abs_error(&pattern[at..at + len], &case.pattern[want..want + len]);
                    errors.pattern = errors.pattern.max(error);
                }
            }
        }
    }
    errors
}

/// Loads `family`'s fixture folder and checks it against PyTorch.
fn assert_parity(family: Family) -> LoadedModel {
    check_parity(family, load(folder(family)))
}

/// Loads `family`'s GGUF fixture and checks it against PyTorch.
fn assert_gguf_parity(family: Family) -> LoadedModel {
    let model = load(gguf_file(family));
    assert!(model.description.starts_with(&format!("{family} decoder")));
    check_parity(family, model)
}

/// Checks `model` of `family` against its reference, one case at a time and batched.
fn check_parity(family: Family, model: LoadedModel) -> LoadedModel {
    let (texts, cases) = expected(&reference_file(&model));
    for (text, case) in texts.iter().zip(&cases) {
        let encoding = model.tokenizer().encode(text).expect("encodes");
        assert_eq!(encoding.ids, case.ids, "{family}: token ids of {text:?}");
    }
    let all: Vec<&Case> = cases.iter().collect();
    let runs: Vec<Vec<&Case>> = all.iter().map(|c| vec![*c]).chain([all.clone()]).collect();
    for run in runs {
        let errors = compare(&model, &run);
        let what = format!("{family}, {} sequence(s)", run.len());
        eprintln!("{what}: {errors:?}");
        assert!(errors.argmax_agrees, "{what}: arg-max differs");
        assert!(errors.logits <= TOLERANCE, "{what}: logits {errors:?}");
        assert!(
            errors.resid <= TOLERANCE,
            "{what}: residual stream {errors:?}"
        );
        assert!(
            errors.pattern <= PATTERN_TOLERANCE,
            "{what}: pattern {errors:?}"
        );
    }
    model
}

/// The deliberately broken `model` misses the reference logits by more than [`BROKEN`].
fn assert_broken(family: Family, model: &LoadedModel, mistake: &str) {
    let (_, cases) = expected(&reference_file(model));
    let worst = cases
        .iter()
        .map(|case| compare(model, &[case]).logits)
        .fold(0.0f64, f64::max);
    eprintln!("{family} with {mistake}: logits error {worst}");
    assert!(
        worst > BROKEN,
        "{family} with {mistake}: error only {worst}"
    );
}

fn values(param: &Param<Tensor<2>>) -> (Vec<f32>, [usize; 2]) {
    let tensor = param.val();
    let dims = tensor.dims();
    (
        tensor.into_data().try_into_vec_as::<f32>().expect("floats"),
        dims,
    )
}

fn matrix(values: Vec<f32>, dims: [usize; 2]) -> Param<Tensor<2>> {
    Param::from_tensor(Tensor::from_data(
        TensorData::new(values, dims),
        &common::device(),
    ))
}

#[test]
fn gpt2_matches_pytorch() {
    let mut model = assert_parity(Family::Gpt2);
    // Reading the square Conv1D `c_proj` as a PyTorch Linear (out, in) transposes it.
    for block in &mut model.transformer.blocks {
        let (w, [rows, cols]) = values(&block.attn.o.weight);
        let mut t = vec![0.0; w.len()];
        for r in 0..rows {
            for c in 0..cols {
                t[c * rows + r] = w[r * cols + c];
            }
        }
        block.attn.o.weight = matrix(t, [cols, rows]);
    }
    assert_broken(Family::Gpt2, &model, "c_proj read as (out, in)");
}

#[test]
fn gpt_neox_matches_pytorch() {
    let mut model = assert_parity(Family::GptNeox);
    let dh = model.config().d_head;
    // Splitting the fused QKV into contiguous thirds instead of per head.
    for block in &mut model.transformer.blocks {
        let attn = &mut block.attn;
        let parts = [&attn.q.weight, &attn.k.weight, &attn.v.weight].map(values);
        let [d_in, d_out] = parts[0].1;
        // The fused (3·d, d) rows, per head: q, k, v of head 0, then of head 1, ...
        let column = |w: &[f32], c: usize| (0..d_in).map(|r| w[r * d_out + c]).collect::<Vec<_>>();
        let mut fused = Vec::new();
        for head in 0..d_out / dh {
            for (w, _) in &parts {
                for c in head * dh..(head + 1) * dh {
                    fused.push(column(w, c));
                }
            }
        }
        let naive: Vec<Vec<f32>> = fused
            .chunks(d_out)
            .map(|rows| {
                let mut burn = vec![0.0; d_in * d_out];
                for (c, row) in rows.iter().enumerate() {
                    for (r, v) in row.iter().enumerate() {
                        burn[r * d_out + c] = *v;
                    }
                }
                burn
            })
            .collect();
        attn.q.weight = matrix(naive[0].clone(), [d_in, d_out]);
        attn.k.weight = matrix(naive[1].clone(), [d_in, d_out]);
        attn.v.weight = matrix(naive[2].clone(), [d_in, d_out]);
    }
    assert_broken(Family::GptNeox, &model, "QKV split in thirds");
}

/// Switches a RoPE model to llama.cpp's adjacent-pair layout.
fn adjacent_pairs(model: &mut LoadedModel) {
    let Positions::Rope(rope) = &mut model.transformer.config.positions else {
        panic!("a RoPE model")
    };
    assert_eq!(rope.layout, RopeLayout::RotateHalf);
    rope.layout = RopeLayout::AdjacentPairs;
}

#[test]
fn llama_matches_pytorch() {
    let mut model = assert_parity(Family::Llama);
    let c = model.config();
    assert_eq!((c.n_heads, c.n_kv_heads), (4, 2), "grouped-query attention");
    adjacent_pairs(&mut model);
    assert_broken(Family::Llama, &model, "GGUF's adjacent-pair RoPE");
}

#[test]
fn mistral_matches_pytorch() {
    let mut model = assert_parity(Family::Mistral);
    assert_eq!(model.config().window(1), Some(4));
    model.transformer.config.options.sliding_window = None;
    assert_broken(Family::Mistral, &model, "no sliding window");
}

#[test]
fn qwen2_from_shards_matches_pytorch() {
    let shards = std::fs::read_dir(folder(Family::Qwen2))
        .expect("folder")
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("model-")
        })
        .count();
    assert!(shards > 1, "the qwen2 fixture is sharded");
    let mut model = assert_parity(Family::Qwen2);
    for block in &mut model.transformer.blocks {
        for linear in [&mut block.attn.q, &mut block.attn.k, &mut block.attn.v] {
            linear.bias = None;
        }
    }
    assert_broken(Family::Qwen2, &model, "no q/k/v biases");
}

#[test]
fn qwen3_matches_pytorch() {
    let mut model = assert_parity(Family::Qwen3);
    assert_eq!(model.config().d_head, 16);
    for block in &mut model.transformer.blocks {
        block.attn.q_norm = None;
        block.attn.k_norm = None;
    }
    assert_broken(Family::Qwen3, &model, "no q/k norms");
}

/// Undoes the `1 + w` of every Gemma RMSNorm.
fn plain_rms_norms(model: &mut LoadedModel) {
    let minus_one = |norm: &mut cavern_model::norm::Norm| {
        norm.weight = Param::from_tensor(norm.weight.val().sub_scalar(1.0));
    };
    for block in &mut model.transformer.blocks {
        minus_one(&mut block.norm1);
        minus_one(&mut block.norm2);
        minus_one(block.post_attn_norm.as_mut().expect("post norm"));
        minus_one(block.post_mlp_norm.as_mut().expect("post norm"));
    }
}

#[test]
fn gemma2_matches_pytorch() {
    let mut model = assert_parity(Family::Gemma2);
    let c = model.config();
    assert_eq!((c.window(0), c.window(1)), (Some(4), None));
    assert!(c.options.attn_softcap.is_some() && c.options.final_softcap.is_some());
    plain_rms_norms(&mut model);
    assert_broken(Family::Gemma2, &model, "norms scaled by w instead of 1 + w");
}

#[test]
fn gemma3_matches_pytorch() {
    let mut model = assert_parity(Family::Gemma3);
    let Positions::Rope(rope) = &mut model.transformer.config.positions else {
        panic!("rope")
    };
    assert_eq!((rope.base, rope.local_base), (1e6, Some(1e4)));
    rope.local_base = None;
    assert_broken(
        Family::Gemma3,
        &model,
        "the global RoPE base on local layers",
    );
}

/// Adds 1 to every norm scale of a Gemma model loaded from GGUF, whose scales hold it already.
fn norms_shifted_twice(model: &mut LoadedModel) {
    let plus_one = |norm: &mut cavern_model::norm::Norm| {
        norm.weight = Param::from_tensor(norm.weight.val().add_scalar(1.0));
    };
    for block in &mut model.transformer.blocks {
        plus_one(&mut block.norm1);
        plus_one(&mut block.norm2);
        plus_one(block.post_attn_norm.as_mut().expect("post norm"));
        plus_one(block.post_mlp_norm.as_mut().expect("post norm"));
    }
}

#[test]
fn qwen2_from_gguf_matches_pytorch() {
    let mut model = assert_gguf_parity(Family::Qwen2);
    assert_eq!(
        model.config().attention_bias,
        cavern_model::config::AttentionBias::Qkv
    );
    adjacent_pairs(&mut model);
    assert_broken(Family::Qwen2, &model, "llama's adjacent-pair RoPE");
}

#[test]
fn qwen3_from_gguf_matches_pytorch() {
    let mut model = assert_gguf_parity(Family::Qwen3);
    let c = model.config();
    assert_eq!(c.d_head, 16);
    assert_eq!(
        c.head,
        cavern_model::config::OutputHead::LanguageModel { tied: false }
    );
    adjacent_pairs(&mut model);
    assert_broken(Family::Qwen3, &model, "llama's adjacent-pair RoPE");
}

#[test]
fn gemma2_from_gguf_matches_pytorch() {
    let mut model = assert_gguf_parity(Family::Gemma2);
    let c = model.config();
    assert_eq!((c.window(0), c.window(1)), (Some(4), None));
    assert!(c.options.attn_softcap.is_some() && c.options.final_softcap.is_some());
    norms_shifted_twice(&mut model);
    assert_broken(Family::Gemma2, &model, "the 1 of 1 + w added again");
}

#[test]
fn gemma3_from_gguf_matches_pytorch() {
    let mut model = assert_gguf_parity(Family::Gemma3);
    let c = model.config();
    let local: Vec<bool> = (0..c.n_layers).map(|l| c.window(l).is_some()).collect();
    assert_eq!(local, [true, true, true, true, true, false]);
    let Positions::Rope(rope) = c.positions else {
        panic!("rope")
    };
    assert_eq!((rope.base, rope.local_base), (1e6, Some(1e4)));
    assert_eq!(
        rope.scaling,
        cavern_model::config::RopeScaling::Linear { factor: 2.0 }
    );
    norms_shifted_twice(&mut model);
    assert_broken(Family::Gemma3, &model, "the 1 of 1 + w added again");
}

#[test]
fn a_named_family_must_agree_with_the_gguf_file() {
    let reference = ModelRef::Local {
        family: Some(Family::Gemma2),
        path: gguf_file(Family::Gemma3),
    };
    let error = load_model(&reference, &common::device())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`gemma3`") && error.contains("`gemma2`"),
        "{error}"
    );
}

#[test]
fn a_named_family_must_agree_with_the_config() {
    let reference = ModelRef::Local {
        family: Some(Family::Llama),
        path: folder(Family::Gpt2),
    };
    let error = load_model(&reference, &common::device())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("`gpt2`") && error.contains("`llama`"),
        "{error}"
    );
}

/// A copy of `family`'s fixture folder with `damage` done to it.
fn damaged(family: Family, damage: impl FnOnce(&std::path::Path)) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join(family.as_str());
    std::fs::create_dir(&copy).expect("mkdir");
    for entry in std::fs::read_dir(folder(family)).expect("fixture folder") {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, copy.join(path.file_name().unwrap())).expect("copy");
    }
    damage(&copy);
    (dir, copy)
}

/// The error loading `path` gives; panics if it loads.
#[track_caller]
fn error_of(path: &std::path::Path) -> String {
    let reference = ModelRef::Local {
        family: None,
        path: path.to_path_buf(),
    };
    match load_model(&reference, &common::device()) {
        Ok(_) => panic!("{} loaded although damaged", path.display()),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn assert_mentions(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(
            message.contains(part),
            "{message:?} should mention {part:?}"
        );
    }
}

/// Rewrites `file` with `edit` applied to its tensors (name, dtype, shape, bytes).
fn rewrite(file: &std::path::Path, edit: impl Fn(&str, &mut Vec<u8>)) {
    let bytes = std::fs::read(file).expect("read");
    let tensors = SafeTensors::deserialize(&bytes).expect("parses");
    let owned: Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> = tensors
        .tensors()
        .into_iter()
        .map(|(name, view)| {
            let mut data = view.data().to_vec();
            edit(&name, &mut data);
            (name, view.dtype(), view.shape().to_vec(), data)
        })
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(file, safetensors::serialize(views, None).unwrap()).expect("write");
}

#[test]
fn a_config_promising_more_than_the_file_holds_is_refused_before_allocating() {
    let (_dir, path) = damaged(Family::Llama, |dir| {
        let config = dir.join("config.json");
        let text = std::fs::read_to_string(&config).unwrap();
        let text = text.replace("\"vocab_size\": 288", "\"vocab_size\": 1000000000000");
        std::fs::write(&config, text).unwrap();
    });
    assert_mentions(
        &error_of(&path),
        &[
            "model.safetensors",
            "`model.embed_tokens.weight` has shape [288, 32]",
            "[1000000000000, 32]",
        ],
    );
    let (_dir, path) = damaged(Family::Gemma2, |dir| {
        let config = dir.join("config.json");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(
            &config,
            text.replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"),
        )
        .unwrap();
    });
    assert_mentions(
        &error_of(&path),
        &["config.json", "`num_key_value_heads` (3)"],
    );
}

#[test]
fn non_finite_weights_are_an_error_naming_the_tensor() {
    let (_dir, path) = damaged(Family::Mistral, |dir| {
        rewrite(&dir.join("model.safetensors"), |name, data| {
            if name == "model.layers.1.mlp.up_proj.weight" {
                // bfloat16 NaN.
                data[2..4].copy_from_slice(&[0xc0, 0x7f]);
            }
        });
    });
    assert_mentions(
        &error_of(&path),
        &[
            "`model.layers.1.mlp.up_proj.weight` holds 1 non-finite value",
            "damaged",
        ],
    );
}

#[test]
fn damaged_folders_are_clear_errors() {
    // A truncated shard.
    let (_dir, path) = damaged(Family::Qwen2, |dir| {
        let shard = dir.join("model-00002-of-00003.safetensors");
        let bytes = std::fs::read(&shard).unwrap();
        std::fs::write(&shard, &bytes[..bytes.len() / 2]).unwrap();
    });
    assert_mentions(
        &error_of(&path),
        &["model-00002-of-00003.safetensors", "corrupt or truncated"],
    );
    // An index naming a shard that is not there, or a path outside the folder.
    let (_dir, path) = damaged(Family::Qwen2, |dir| {
        std::fs::remove_file(dir.join("model-00003-of-00003.safetensors")).unwrap();
    });
    assert_mentions(&error_of(&path), &["model-00003-of-00003.safetensors"]);
    let (_dir, path) = damaged(Family::Qwen2, |dir| {
        let index = dir.join("model.safetensors.index.json");
        let text = std::fs::read_to_string(&index).unwrap();
        std::fs::write(
            &index,
            text.replace("model-00001-of-00003", "../model-00001-of-00003"),
        )
        .unwrap();
    });
    assert_mentions(
        &error_of(&path),
        &["model.safetensors.index.json", "not a file name"],
    );
    // A tensor the architecture does not use.
    let (_dir, path) = damaged(Family::Gpt2, |dir| {
        let file = dir.join("model.safetensors");
        let bytes = std::fs::read(&file).unwrap();
        let tensors = SafeTensors::deserialize(&bytes).unwrap();
        let mut views = tensors.tensors();
        let (_, norm) = views
            .iter()
            .find(|(n, _)| n.ends_with("ln_f.bias"))
            .unwrap()
            .clone();
        views.push(("h.0.attn.c_attn.extra".to_string(), norm));
        std::fs::write(&file, safetensors::serialize(views, None).unwrap()).unwrap();
    });
    assert_mentions(&error_of(&path), &["does not use", "h.0.attn.c_attn.extra"]);
    // A config.json of an unknown family, and one that is not JSON.
    let (_dir, path) = damaged(Family::Qwen3, |dir| {
        let config = dir.join("config.json");
        let text = std::fs::read_to_string(&config).unwrap();
        std::fs::write(&config, text.replace("\"qwen3\"", "\"t5\"")).unwrap();
    });
    assert_mentions(
        &error_of(&path),
        &["config.json", "\"t5\" is not a family", "gemma3"],
    );
    let (_dir, path) = damaged(Family::Qwen3, |dir| {
        std::fs::write(dir.join("config.json"), "{ not json").unwrap();
    });
    assert_mentions(&error_of(&path), &["config.json", "not valid JSON"]);
}

#[test]
fn byte_level_tokens_read_as_the_text_they_stand_for() {
    let model = load(folder(Family::Gpt2));
    let tokens = model.tokenizer().single_tokens();
    assert!(
        tokens.iter().any(|t| t.starts_with(' ') && t.len() > 1),
        "{tokens:?}"
    );
    assert!(!tokens.iter().any(|t| t.contains('Ġ')), "{tokens:?}");
    for token in &tokens {
        let id = model.tokenizer().single_token(token).expect("one token");
        assert_eq!(&model.tokenizer().token_text(id), token);
    }
}
