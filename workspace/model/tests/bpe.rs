//! The GGUF byte-level BPE tokenizer against Hugging Face on the real SmolLM2-135M-Instruct file:
//! `tests/fixtures/bpe/smollm2_ids.json` holds the ids SmolLM2's `tokenizer.json` pipeline gives
//! (`tests/fixtures/bpe/make_ids.py`). The model must have been fetched
//! (`cavern models fetch smollm2-135m`); the test fails, saying so, when it is not.

use std::path::PathBuf;

use cavern_model::bpe::{BpeTokenizer, PreTokenizer};
use cavern_model::fetch::{cavern_home, local_path};
use cavern_model::gguf::{GgufFile, MetaValue};
use serde::Deserialize;

/// `smollm2_ids.json`.
#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

/// One text and its reference ids.
#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
}

/// The fetched SmolLM2 GGUF file; panics with the fetch command when it is absent.
fn smollm2_gguf() -> GgufFile {
    let dir = local_path("smollm2-135m", &cavern_home())
        .unwrap_or_else(|e| panic!("SmolLM2 is needed for this test: {e}"));
    let path = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "gguf"))
        .unwrap_or_else(|| panic!("no .gguf file in {}", dir.display()));
    GgufFile::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture() -> Fixture {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/bpe/smollm2_ids.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn smollm2_matches_hugging_face() {
    let file = smollm2_gguf();
    let tok = BpeTokenizer::from_gguf(&file).unwrap();
    assert_eq!(tok.pre_tokenizer(), PreTokenizer::DigitsThenGpt2);
    assert_eq!(tok.vocab_size(), 49152);
    assert_eq!(
        (tok.bos_id(), tok.eos_id(), tok.pad_id()),
        (Some(1), Some(2), Some(2))
    );
    assert_eq!(tok.id("<|im_start|>"), Some(1));
    assert_eq!(
        tok.encode("The capital of France is"),
        [504, 3575, 282, 4649, 314]
    );
    let cases = fixture().cases;
    assert!(cases.len() >= 20);
    let mut failures = Vec::new();
    for case in &cases {
        let ids = tok.encode(&case.text);
        if ids != case.ids {
            failures.push(format!(
                "{:?}: got {ids:?}, expected {:?}",
                case.text, case.ids
            ));
        }
        assert_eq!(tok.decode(&ids), case.text, "decode(encode(t)) != t");
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn smollm2_token_texts_are_readable() {
    let tok = BpeTokenizer::from_gguf(&smollm2_gguf()).unwrap();
    let (ids, texts) = tok.encode_with_tokens("<|im_start|>user\nThe capital");
    assert_eq!(ids.len(), texts.len());
    assert_eq!(texts, ["<|im_start|>", "user", "\n", "The", " capital"]);
}

#[test]
fn non_bpe_or_unknown_pre_tokenizer_is_refused() {
    let file = smollm2_gguf();
    let mut llama = file.clone();
    llama.metadata.insert(
        "tokenizer.ggml.model".to_string(),
        MetaValue::String("llama".to_string()),
    );
    let err = BpeTokenizer::from_gguf(&llama).unwrap_err().to_string();
    assert!(err.contains("\"llama\"") && err.contains("gpt2"), "{err}");
    let mut other = file;
    other.metadata.insert(
        "tokenizer.ggml.pre".to_string(),
        MetaValue::String("qwen2".to_string()),
    );
    let err = BpeTokenizer::from_gguf(&other).unwrap_err().to_string();
    assert!(err.contains("qwen2"), "{err}");
}
