//! experiments/toy_explanations.toml end to end on `toy-sentiment`, whose answers are known:
//! SHAP puts the negative word and the negation first, is exact and efficient on these short
//! inputs and gives colours nothing; the adversarial search flips every input with one edit of
//! the sentiment word or the negation, never a colour; the report shows both and
//! `cavern report` rebuilds it from the tables.

mod common;

use cavern_model::toy::sentiment::{COLOURS, NEGATIONS, NEGATIVE, POSITIVE};
use common::{Csv, assert_exit, repo_root, run_cavern, run_experiment};
use std::fs;

/// Whether `word` carries the sentiment: a sentiment word or a negation.
fn is_sentiment(word: &str) -> bool {
    [&POSITIVE[..], &NEGATIVE, &NEGATIONS]
        .concat()
        .contains(&word)
}

#[test]
fn shap_and_adversarial_edits_find_the_planted_words() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo_root().join("experiments/toy_explanations.toml");
    let out = run_experiment(&file, &dir.path().join("run"), &[]);
    let tables = out.join("tables");

    // SHAP: per input, the tokens that move f from the positive default come first.
    let attributions = Csv::read(&tables.join("attributions.csv"));
    let expected: [&[&str]; 7] = [
        &["dreadful"],
        &["boring"],
        &["not", "awful"],
        &["never", "terrible"],
        &["not"],
        &["never"],
        &["never", "terrible"],
    ];
    for (input, first) in expected.iter().enumerate() {
        let mut rows: Vec<&Vec<String>> = (attributions.rows.iter())
            .filter(|r| {
                attributions.get(r, "method") == "shap"
                    && attributions.num(r, "input") == input as f64
            })
            .collect();
        rows.sort_by(|a, b| {
            let v = |r: &Vec<String>| attributions.num(r, "attribution").abs();
            v(b).total_cmp(&v(a))
        });
        let top: Vec<&str> = (rows.iter().take(first.len()))
            .map(|r| attributions.get(r, "token"))
            .collect();
        let mut sorted = top.clone();
        sorted.sort_unstable();
        let mut want = first.to_vec();
        want.sort_unstable();
        assert_eq!(sorted, want, "input {input}");
        // Colours: under 5% of the largest |value|, or under 0.05 where it is small.
        let largest = attributions.num(rows[0], "attribution").abs();
        for r in &rows {
            assert_eq!(attributions.num(r, "std_error"), 0.0, "exact");
            if COLOURS.contains(&attributions.get(r, "token")) {
                let value = attributions.num(r, "attribution").abs();
                assert!(value < 0.05 * largest + 0.05, "input {input}: {value}");
            }
        }
    }
    let summary = Csv::read(&tables.join("attribution_summary.csv"));
    let shap: Vec<&Vec<String>> = (summary.rows.iter())
        .filter(|r| summary.get(r, "method") == "shap")
        .collect();
    assert_eq!(shap.len(), 8);
    for r in &shap {
        assert!(summary.bool(r, "exact"));
        assert!(summary.num(r, "completeness_gap").abs() <= 1e-6);
    }
    // The unnegated positive review is the default: nothing to share out.
    let positive = (attributions.rows.iter())
        .filter(|r| attributions.get(r, "method") == "shap" && attributions.num(r, "input") == 7.0);
    for r in positive {
        assert!(attributions.num(r, "attribution").abs() < 0.1);
    }

    // Adversarial: one edit, of the sentiment word or the negation, flips every input.
    let adversarial = Csv::read(&tables.join("adversarial.csv"));
    assert_eq!(adversarial.rows.len(), 8);
    let tokens = Csv::read(&tables.join("adversarial_tokens.csv"));
    for r in &adversarial.rows {
        let input = adversarial.num(r, "input");
        assert!(adversarial.bool(r, "flipped"), "{r:?}");
        assert_eq!(adversarial.num(r, "edits"), 1.0, "{r:?}");
        assert_ne!(
            adversarial.get(r, "predicted"),
            adversarial.get(r, "predicted_after")
        );
        assert!(adversarial.num(r, "p_after") > 0.5);
        let edited: Vec<&Vec<String>> = (tokens.rows.iter())
            .filter(|t| tokens.num(t, "input") == input && tokens.get(t, "change") != "kept")
            .collect();
        assert_eq!(edited.len(), 1, "{r:?}");
        let old = tokens.get(edited[0], "token");
        assert!(is_sentiment(old), "input {input} edits {old:?}: {r:?}");
        assert!(!COLOURS.contains(&old));
        assert!(!COLOURS.contains(&tokens.get(edited[0], "edited_token")));
    }

    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h2>Adversarial edits</h2>"));
    assert!(html.contains("8 of 8 inputs flipped"));
    assert!(html.contains("SHAP exact (every coalition) for 8 of 8 inputs"));
    fs::remove_file(out.join("report.html")).unwrap();
    assert_exit(&run_cavern(["report", out.to_str().unwrap()]), 0);
    assert_eq!(fs::read_to_string(out.join("report.html")).unwrap(), html);
}
