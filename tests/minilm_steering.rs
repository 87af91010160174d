//! `experiments/minilm_steering.toml` end to end on all-MiniLM-L6-v2 with its trained sentiment
//! head: steering negative reviews along the praise CAV raises p(positive) and flips them,
//! LEACE of praise leaves a fresh probe near chance, and word swaps move the head as expected.
//! Needs `cavern models fetch minilm-l6`; fails, saying so, when it is absent.

mod common;

use common::{Csv, describe, run_cavern, run_experiment};
use std::path::Path;

#[test]
fn minilm_steering_moves_sentiment_along_praise_and_leace_erases_it() {
    let out = run_cavern(["models", "path", "minilm-l6"]);
    assert!(
        out.status.success(),
        "minilm-l6 is not fetched; run `cargo run --release -- models fetch minilm-l6`\n{}",
        describe(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = Path::new("experiments/minilm_steering.toml");
    let run = run_experiment(file, &dir.path().join("run"), &[]);

    let summary = Csv::read(&run.join("tables/steering_summary.csv"));
    for layer in ["2", "4"] {
        // Study 0 (the praise CAV) at this layer, α ascending.
        let rows: Vec<&Vec<String>> = (summary.rows.iter())
            .filter(|r| summary.get(r, "study") == "0" && summary.get(r, "layer") == layer)
            .collect();
        let at = |alpha: f64| {
            let row = rows.iter().find(|r| summary.num(r, "alpha") == alpha);
            *row.unwrap_or_else(|| panic!("no α = {alpha} at layer {layer}"))
        };
        let base = summary.num(at(0.0), "mean_p_target");
        assert_eq!(summary.num(at(0.0), "flip_rate"), 0.0);
        let rising: Vec<f64> = (rows.iter())
            .filter(|r| summary.num(r, "alpha") >= 0.0)
            .map(|r| summary.num(r, "mean_p_target"))
            .collect();
        assert!(
            rising.windows(2).all(|w| w[1] >= w[0] - 1e-9),
            "layer {layer}: p(positive) does not rise with α: {rising:?}"
        );
        assert!(summary.num(at(1.5), "mean_p_target") > 0.9, "layer {layer}");
        assert!(summary.num(at(1.5), "flip_rate") >= 0.75, "layer {layer}");
        assert!(
            summary.num(at(-1.0), "mean_p_target") <= base,
            "layer {layer}"
        );
    }
    let flips = Csv::read(&run.join("tables/steering_flips.csv"));
    for row in &flips.rows {
        if flips.get(row, "predicted") == "negative" {
            let alpha = flips.num(row, "flip_alpha_positive");
            assert!(alpha > 0.0 && alpha <= 1.5, "{row:?}");
        }
    }

    let erasure = Csv::read(&run.join("tables/erasure.csv"));
    let leace = (erasure.rows.iter())
        .find(|r| erasure.get(r, "method") == "leace")
        .expect("a leace row");
    assert!(erasure.num(leace, "probe_before") >= 0.9, "{leace:?}");
    // 29 held-out examples per class: chance is 0.5 ± about 0.09.
    assert!(erasure.num(leace, "probe_after") <= 0.65, "{leace:?}");
    assert!(
        erasure.num(leace, "task_accuracy_before") >= 0.95,
        "{leace:?}"
    );

    let swaps = Csv::read(&run.join("tables/counterfactual_summary.csv"));
    for row in &swaps.rows {
        let delta = swaps.num(row, "mean_delta_p").abs();
        match swaps.get(row, "slot") {
            "noun" => assert!(delta < 0.1, "{row:?}"),
            "negation" => assert!(delta > 0.3, "{row:?}"),
            _ => {}
        }
    }
}
