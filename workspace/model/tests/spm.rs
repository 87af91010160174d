//! The GGUF SentencePiece tokenizer against transformers on the real Gemma 3 270M file:
//! `tests/fixtures/real/gemma3_ids.json` holds the ids transformers' GGUF tokenizer gives
//! (`tests/fixtures/real/make_gemma3_fixtures.py`) for the SmolLM2 fixture's tricky texts and
//! Gemma's own markers. The model must have been fetched (`cavern models fetch gemma3-270m`);
//! the test fails, saying so, when it is not.

use std::path::PathBuf;

use cavern_model::fetch::{cavern_home, local_path, lookup};
use cavern_model::gguf::{GgufFile, MetaValue};
use cavern_model::tokenizer::Tokenizer;
use serde::Deserialize;

/// `gemma3_ids.json`.
#[derive(Deserialize)]
struct Fixture {
    cases: Vec<Case>,
}

/// One text, its reference ids and each token's decoded text.
#[derive(Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
    tokens: Vec<String>,
}

/// The fetched Gemma 3 GGUF file; panics with the fetch command when it is absent.
fn gemma3_gguf() -> GgufFile {
    let dir = local_path("gemma3-270m", &cavern_home())
        .unwrap_or_else(|e| panic!("Gemma 3 270M is needed for this test: {e}"));
    let path = dir.join(lookup("gemma3-270m").unwrap().files[0].file);
    GgufFile::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn fixture() -> Fixture {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real/gemma3_ids.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

#[test]
fn gemma3_matches_transformers() {
    let file = gemma3_gguf();
    let tok = Tokenizer::from_gguf(&file).unwrap();
    assert!(matches!(tok, Tokenizer::HuggingFace(_)));
    assert_eq!(tok.vocab_size(), 262_144);
    let cases = fixture().cases;
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for case in &cases {
        let encoding = tok.encode(&case.text).unwrap();
        if encoding.ids != case.ids || encoding.tokens != case.tokens {
            failures.push(format!(
                "{:?}: got {:?} {:?}, expected {:?} {:?}",
                case.text, encoding.ids, encoding.tokens, case.ids, case.tokens
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // BOS comes from the file's add_bos_token; a lone token is looked up without it.
    assert_eq!(tok.single_token(" Paris"), Some(9079));
    assert_eq!(tok.token_text(9079), " Paris");
    assert!(
        tok.special_mask("<start_of_turn>user").unwrap()[0],
        "<bos> is special"
    );
}

#[test]
fn flags_and_bad_metadata_are_honoured_or_refused() {
    let file = gemma3_gguf();
    let mut no_bos = file.clone();
    no_bos.metadata.insert(
        "tokenizer.ggml.add_bos_token".into(),
        MetaValue::Bool(false),
    );
    let tok = Tokenizer::from_gguf(&no_bos).unwrap();
    assert_eq!(tok.encode("The capital").unwrap().ids, [818, 5279]);

    let mut with_eos = file.clone();
    with_eos
        .metadata
        .insert("tokenizer.ggml.add_eos_token".into(), MetaValue::Bool(true));
    let tok = Tokenizer::from_gguf(&with_eos).unwrap();
    assert_eq!(tok.encode("The capital").unwrap().ids, [2, 818, 5279, 1]);

    let mut short_scores = file.clone();
    short_scores.metadata.insert(
        "tokenizer.ggml.scores".into(),
        MetaValue::Array(vec![MetaValue::F32(0.0)]),
    );
    let err = Tokenizer::from_gguf(&short_scores).unwrap_err().to_string();
    assert!(
        err.contains("tokenizer.ggml.scores has 1 entries but there are 262144 tokens"),
        "{err}"
    );

    let mut unknown = file;
    unknown.metadata.insert(
        "tokenizer.ggml.model".into(),
        MetaValue::String("bert".into()),
    );
    let err = Tokenizer::from_gguf(&unknown).unwrap_err().to_string();
    assert!(
        err.contains("\"bert\"") && err.contains("\"llama\""),
        "{err}"
    );
}
