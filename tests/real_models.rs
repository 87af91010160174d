//! The fetched real models end to end through the CLI: SmolLM2's and Gemma 3's next token and the
//! MiniLM sentiment TCAV experiment's findings. Needs `cavern models fetch minilm-l6 smollm2-135m
//! gemma3-270m` (the README's test command does it); fails, saying so, when they are absent.

mod common;

use common::{
    Csv, assert_exit, describe, extract_every_layer, max_difference, run_cavern, run_experiment,
    stdout,
};
use std::fs;
use std::path::Path;

#[track_caller]
fn require(name: &str) {
    let out = run_cavern(["models", "path", name]);
    assert!(
        out.status.success(),
        "model {name} is not fetched; run `cargo run --release -- models fetch {name}`\n{}",
        describe(&out)
    );
}

/// MiniLM's pooled activations of 50 reviews (9 to 60 tokens) from passes of 8 or 32 texts of
/// similar length are within 1e-6 of each text's alone: padding changes the length of the
/// attention-weighted sums and MiniLM's matrix products group such sums by shape (measured:
/// 7.2e-7 on values up to 3.9, a few units in the last place).
#[test]
fn minilm_extraction_barely_depends_on_the_batch_size() {
    require("minilm-l6");
    let dir = tempfile::tempdir().unwrap();
    let input = Path::new("concepts/minilm/mixed_inputs.txt");
    let pooled = ["--pooling", "mean"];
    let alone = extract_every_layer("minilm-l6", input, &pooled, 1, dir.path());
    for batch_size in [8, 32] {
        let bucketed = extract_every_layer("minilm-l6", input, &pooled, batch_size, dir.path());
        let diff = max_difference(&alone, &bucketed);
        assert!(diff <= 1e-6, "batch size {batch_size}: {diff:e}");
    }
}

#[test]
fn smollm2_puts_paris_first() {
    require("smollm2-135m");
    let out = run_cavern([
        "predict",
        "--json",
        "--model",
        "smollm2-135m",
        "The capital of France is",
    ]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(json[0]["top"][0]["token"], " Paris", "{json}");
}

/// `cavern predict` on Gemma 3 270M agrees with transformers' top token for the same prompt
/// (`workspace/model/tests/fixtures/real/gemma3.json`; the base model puts " the" first).
#[test]
fn gemma3_predicts_the_top_token_transformers_predicts() {
    require("gemma3-270m");
    let fixture: serde_json::Value = serde_json::from_str(
        &fs::read_to_string("workspace/model/tests/fixtures/real/gemma3.json").unwrap(),
    )
    .unwrap();
    let case = &fixture["prompts"][0];
    assert_eq!(case["prompt"], "The capital of France is");
    let out = run_cavern([
        "predict",
        "--json",
        "--model",
        "gemma3-270m",
        "The capital of France is",
    ]);
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(json[0]["top"][0]["token"], case["top5_tokens"][0], "{json}");
}

#[test]
fn minilm_sentiment_tcav_finds_praise_and_ignores_weather() {
    require("minilm-l6");
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new("experiments/minilm_sentiment_tcav.toml");
    let run = run_experiment(file, &dir.path().join("run"), &[]);
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let accuracy = manifest["model"]["head"]["heldout_accuracy"]
        .as_f64()
        .unwrap();
    assert!(
        accuracy >= 0.75,
        "sentiment head held-out accuracy {accuracy}"
    );

    let tcav = Csv::read(&run.join("tables/tcav.csv"));
    for row in &tcav.rows {
        if tcav.get(row, "concept") == "weather" {
            let layer = tcav.get(row, "layer");
            assert!(
                !tcav.bool(row, "significant"),
                "weather matters at layer {layer}"
            );
        }
    }
    let praise = tcav
        .rows
        .iter()
        .find(|r| tcav.get(r, "concept") == "praise" && tcav.get(r, "layer") == "5")
        .expect("a praise row at layer 5");
    assert!(
        tcav.bool(praise, "significant"),
        "praise at layer 5: {praise:?}"
    );
    let score = tcav.num(praise, "tcav_mean");
    assert!(score >= 0.9, "praise TCAV at layer 5 is {score}");
}

/// Indirect-object identification on SmolLM2, a smaller version of
/// `experiments/smollm2_ioi.toml`: the answer starts at the repeated name and reaches the final
/// position in the late layers.
#[test]
fn smollm2_ioi_patching_moves_the_answer_to_the_final_position() {
    require("smollm2-135m");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ioi.toml");
    fs::write(
        &file,
        "[experiment]\nname = \"ioi\"\nmodel = \"smollm2-135m\"\n\n[[patching]]\n\
         clean = \"When {{ a }} and {{ b }} went to the store, {{ b }} gave a drink to\"\n\
         corrupted = \"When {{ a }} and {{ b }} went to the store, {{ a }} gave a drink to\"\n\
         vars = { a = [\"Mary\", \"John\"], b = [\"Tom\", \"Anna\"] }\n\
         metric = { logit_diff = [\" {{ a }}\", \" {{ b }}\"] }\nlayers = [0, 12, 29]\n",
    )
    .unwrap();
    let out = run_experiment(&file, &dir.path().join("run"), &[]);
    let table = Csv::read(&out.join("tables/patching.csv"));
    let at = |layer: usize, token: &str| -> Vec<f64> {
        (table.rows.iter())
            .filter(|r| {
                table.get(r, "layer") == layer.to_string() && table.get(r, "token") == token
            })
            .map(|r| table.num(r, "recovered"))
            .collect()
    };
    // Positions: When, Mary, and, Tom, went, to, the, store, ",", Tom (9), gave, a, drink, to (13).
    assert_eq!(table.get(&table.rows[9], "token"), " Tom");
    let recovered = |layer: usize, position: usize| {
        let row = (table.rows.iter())
            .find(|r| {
                table.get(r, "layer") == layer.to_string()
                    && table.get(r, "position") == position.to_string()
            })
            .unwrap();
        table.num(row, "recovered")
    };
    assert!((recovered(0, 9) - 1.0).abs() < 0.05, "{}", recovered(0, 9));
    assert!(recovered(0, 13).abs() < 0.05);
    assert!(recovered(29, 13) > 0.8, "{}", recovered(29, 13));
    assert!(recovered(29, 9).abs() < 0.1, "{}", recovered(29, 9));
    assert!(
        at(12, " store").iter().all(|r| r.abs() < 1e-9),
        "identical prefix patches change nothing"
    );
}
