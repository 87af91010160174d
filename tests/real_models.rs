//! The fetched real models end to end through the CLI: SmolLM2's next token and the MiniLM
//! sentiment TCAV experiment's findings. Needs `cavern models fetch minilm-l6 smollm2-135m`
//! (the README's test command does it); fails, saying so, when they are absent.

mod common;

use common::{Csv, assert_exit, describe, run_cavern, run_experiment, stdout};
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
