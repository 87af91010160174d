//! `cavern predict`, `cavern extract` and experiments with a `[head]`, on the built-in models
//! (no download).

mod common;

use common::{assert_exit, assert_no_panic, describe, run_cavern, run_experiment, stderr, stdout};
use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Output;

#[test]
fn predict_gives_the_toy_models_known_answers() {
    let out = run_cavern([
        "predict",
        "--model",
        "toy-recall",
        "--top-k",
        "3",
        "c g a d b i =",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let first = text.lines().nth(2).unwrap_or_default();
    assert!(first.trim_start().starts_with("\"g\""), "{text}");

    let out = run_cavern([
        "predict",
        "--json",
        "--model",
        "toy-sentiment",
        "the film was not wonderful",
    ]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let classes = &json[0]["classes"];
    assert_eq!(json[0]["kind"], "classes");
    assert_eq!(classes[0]["class"], "negative");
    assert!(classes[0]["probability"].as_f64().unwrap() > 0.9, "{json}");

    let out = run_cavern(["predict", "--model", "toy-sentimnt", "x"]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("unknown model `toy-sentimnt`"),
        "{}",
        describe(&out)
    );
}

#[test]
fn predict_generates_greedy_continuations_for_decoders_only() {
    let out = run_cavern([
        "predict",
        "--model",
        "toy-recall",
        "--generate",
        "3",
        "c g a d b i =",
    ]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    // The continuation starts with the top next token, the recalled `g`.
    let line = text
        .lines()
        .find(|l| l.contains("greedy continuation (3 tokens)"))
        .unwrap_or_else(|| panic!("{text}"));
    let shown = line.rsplit(": ").next().unwrap().trim_matches('"');
    assert!(shown.starts_with("g "), "{line}");
    assert_eq!(shown.split(' ').count(), 3, "{line}");

    let out = run_cavern([
        "predict",
        "--model",
        "toy-sentiment",
        "--generate",
        "2",
        "the film was good",
    ]);
    assert_exit(&out, 2);
    assert_no_panic(&out);
    assert!(
        stderr(&out).contains("only language models generate"),
        "{}",
        describe(&out)
    );
}

/// Runs `cavern extract` on toy-sentiment with `input`, `out` and `extra` arguments.
fn extract(input: &Path, out: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<OsString> = ["extract", "--model", "toy-sentiment", "--input"]
        .map(OsString::from)
        .to_vec();
    args.extend([input.into(), "--out".into(), out.into()]);
    args.extend(extra.iter().map(OsString::from));
    run_cavern(args)
}

#[test]
fn extract_writes_one_row_per_token_or_text() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("texts.txt");
    fs::write(
        &input,
        "# reviews\nthe film was good\n\nthe meal was not bad\n",
    )
    .unwrap();
    let out_file = dir.path().join("acts.safetensors");
    let out = extract(
        &input,
        &out_file,
        &["--sites", "embed,resid_post", "--layers", "1"],
    );
    assert_exit(&out, 0);
    let bytes = fs::read(&out_file).unwrap();
    let tensors = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    // 4 + 5 tokens; d_model 32.
    let shape = |name: &str| tensors.tensor(name).unwrap().shape().to_vec();
    assert_eq!(shape("blocks.1.hook_resid_post"), [9, 32]);
    assert_eq!(shape("embed"), [9, 32]);
    let examples: Vec<i64> = tensors
        .tensor("example")
        .unwrap()
        .data()
        .chunks_exact(8)
        .map(|b| i64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    assert_eq!(examples, [0, 0, 0, 0, 1, 1, 1, 1, 1]);
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&metadata.metadata().as_ref().unwrap()["cavern"]).unwrap();
    assert_eq!(meta["texts"][1], "the meal was not bad");
    assert_eq!(meta["tokens"][7], "not");

    let npy = dir.path().join("pooled.npy");
    let out = extract(&input, &npy, &["--layers", "0", "--pooling", "mean"]);
    assert_exit(&out, 0);
    // NPY v1 header padded to 64 bytes, then 2 rows x 32 f32.
    assert_eq!(fs::read(&npy).unwrap().len(), 128 + 2 * 32 * 4);

    let bad = dir.path().join("bad.npy");
    for (args, message) in [
        (&["--layers", "0,1"][..], "a .npy file holds one array"),
        (&["--sites", "pattern"][..], "per-head site"),
        (
            &["--layers", "7"][..],
            "\"7\" is not a layer of this model (0 to 1)",
        ),
    ] {
        let out = extract(&input, &bad, args);
        assert_exit(&out, 2);
        assert_no_panic(&out);
        assert!(stderr(&out).contains(message), "{}", describe(&out));
        assert!(!bad.exists(), "a failed extract left {}", bad.display());
    }
    let out = extract(&input, &npy, &[]);
    assert_exit(&out, 2);
    assert!(
        stderr(&out).contains("already exists"),
        "{}",
        describe(&out)
    );
}

#[test]
fn a_head_trained_by_the_experiment_reads_sentiment_off_the_toy_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let experiment = dir.path().join("head.toml");
    fs::write(
        &experiment,
        r#"
[experiment]
name = "head"
seed = 3
model = "toy-sentiment"

[concepts.bad]
template = "the {{ noun }} was {{ adj }}"
vars = { noun = ["film", "meal", "book", "song", "hotel"], adj = ["bad", "awful", "terrible", "dull", "poor", "boring"] }

[concepts.good]
template = "the {{ noun }} was {{ adj }}"
vars = { noun = ["film", "meal", "book", "song", "hotel"], adj = ["good", "great", "wonderful", "superb", "lovely", "brilliant"] }

[head]
classes = ["bad", "good"]
holdout = 0.3

[random]
template = "a {{ colour }} {{ noun }}"
vars = { colour = ["red", "blue", "green", "grey", "brown"], noun = ["film", "meal", "book", "song", "hotel", "game", "play", "show"] }
sets = 4
size = 10

[[tcav]]
target = { class = "good" }
inputs = { examples = ["the show was great", "the game was superb", "a red film was lovely"] }
concepts = ["good"]
layers = [1]
"#,
    )
    .unwrap();
    let run = run_experiment(&experiment, &dir.path().join("run"), &[]);
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let head = &manifest["model"]["head"];
    assert_eq!(head["classes"], serde_json::json!(["bad", "good"]));
    assert_eq!(head["n_test"], serde_json::json!([9, 9]));
    assert_eq!(head["heldout_accuracy"], 1.0, "{head}");
    let table = fs::read_to_string(run.join("tables/head.csv")).unwrap();
    assert!(
        table.starts_with("class,n_train,n_test,heldout_accuracy\nbad,21,9,1.0\n"),
        "{table}"
    );
    let tcav = fs::read_to_string(run.join("tables/tcav.csv")).unwrap();
    assert!(tcav.contains("class:good"), "{tcav}");
    let report = fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        report.contains("held-out accuracy 1.000"),
        "report lacks the head"
    );
}
