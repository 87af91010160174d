//! The fetched real models end to end through the CLI: SmolLM2's next token and the MiniLM
//! sentiment TCAV experiment's findings. Needs `cavern models fetch minilm-l6 smollm2-135m`
//! (the README's test command does it); fails, saying so, when they are absent.

mod common;

use common::{assert_exit, describe, run_cavern, stdout};
use std::fs;

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
    let run = dir.path().join("run");
    let out = run_cavern([
        "run".as_ref(),
        "experiments/minilm_sentiment_tcav.toml".as_ref(),
        "--quiet".as_ref(),
        "--out".as_ref(),
        run.as_os_str(),
    ]);
    assert_exit(&out, 0);
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let accuracy = manifest["model"]["head"]["heldout_accuracy"]
        .as_f64()
        .unwrap();
    assert!(
        accuracy >= 0.75,
        "sentiment head held-out accuracy {accuracy}"
    );

    let tcav = fs::read_to_string(run.join("tables/tcav.csv")).unwrap();
    let mut lines = tcav.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let column = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (concept, layer, score, significant) = (
        column("concept"),
        column("layer"),
        column("tcav_mean"),
        column("significant"),
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    for row in &rows {
        if row[concept] == "weather" {
            assert_eq!(
                row[significant], "false",
                "weather matters at layer {}",
                row[layer]
            );
        }
        if row[concept] == "praise" && row[layer] == "5" {
            assert_eq!(row[significant], "true", "{tcav}");
            let score: f64 = row[score].parse().unwrap();
            assert!(score >= 0.9, "praise TCAV at layer 5 is {score}");
        }
    }
}
