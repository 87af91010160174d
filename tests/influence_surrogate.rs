//! `[[influence]]` and `[[surrogate]]` end to end on `toy-sentiment` (experiments/
//! toy_influence_surrogate.toml), checked against the known answers: influence functions rank the
//! head's training examples as leave-one-out retraining does (Spearman ρ ≥ 0.9 over the 20
//! largest changes of every input), and a decision tree over word sets mimics the model with
//! ≥ 0.99 held-out fidelity through rules that read "sentiment word × negation", never testing
//! colours. The report shows both.

mod common;

use common::{Csv, repo_root, run_experiment};
use std::fs;

#[test]
fn influence_and_surrogate_reach_the_known_answers() {
    let dir = tempfile::tempdir().unwrap();
    let file = repo_root().join("experiments/toy_influence_surrogate.toml");
    let out = run_experiment(&file, &dir.path().join("run"), &[]);
    let tables = out.join("tables");

    // Influence: every input's estimates rank the 20 most consequential removals as retraining.
    let summary = Csv::read(&tables.join("influence_summary.csv"));
    assert_eq!(summary.rows.len(), 8);
    for row in &summary.rows {
        let text = summary.get(row, "text");
        assert_eq!(summary.num(row, "n_train"), 120.0);
        assert_eq!(summary.num(row, "compared"), 20.0);
        let rho = summary.num(row, "spearman");
        assert!(rho >= 0.9, "{text}: Spearman {rho}");
        // The head the run attached is the same classifier up to its optimiser's tolerance.
        let gap = (summary.num(row, "log_odds") - summary.num(row, "head_log_odds")).abs();
        assert!(gap < 0.5, "{text}: exact and attached head differ by {gap}");
    }
    let class_of = |text: &str| {
        let row = summary
            .rows
            .iter()
            .find(|r| summary.get(r, "text") == text)
            .unwrap();
        summary.get(row, "class").to_owned()
    };
    assert_eq!(class_of("the film was good"), "positive");
    assert_eq!(class_of("the film was not good"), "negative");
    assert_eq!(class_of("a red song is never awful"), "positive");
    let influence = Csv::read(&tables.join("influence.csv"));
    for row in &influence.rows {
        let (effect, actual) = (influence.num(row, "effect"), influence.num(row, "actual"));
        match influence.get(row, "role") {
            "helpful" => assert!(effect < 0.0),
            "harmful" => assert!(effect > 0.0),
            role => panic!("role {role}"),
        }
        // Estimates and retraining agree in sign for the listed examples.
        assert!(effect * actual > 0.0, "{row:?}");
    }
    // The example that most supports each prediction carries the predicted label.
    for row in influence
        .rows
        .iter()
        .filter(|r| influence.get(r, "role") == "helpful" && influence.num(r, "rank") == 1.0)
    {
        assert_eq!(
            influence.get(row, "set"),
            influence.get(row, "class"),
            "{row:?}"
        );
    }

    // Surrogate: sentiment word × negation, colours unused, fidelity ≥ 0.99.
    let surrogate = Csv::read(&tables.join("surrogate.csv"));
    let s = &surrogate.rows[0];
    assert!(surrogate.num(s, "fidelity") >= 0.99, "{s:?}");
    assert_eq!(
        surrogate.num(s, "n_train") + surrogate.num(s, "n_test"),
        576.0
    );
    assert!(surrogate.get(s, "unused").contains("colour"), "{s:?}");
    let rules = Csv::read(&tables.join("surrogate_rules.csv"));
    assert!(rules.rows.len() >= 4, "{:?}", rules.rows);
    for rule in &rules.rows {
        let conditions = rules.get(rule, "conditions");
        assert!(!conditions.contains("colour"), "{conditions}");
        let has = |c: &str| conditions.contains(c);
        let negated = has("negation = 1");
        assert!(negated || has("negation = 0"), "{conditions}");
        let positive_word = has("positive = 1") || has("negative = 0");
        assert!(
            positive_word || has("positive = 0") || has("negative = 1"),
            "{conditions}"
        );
        let expected = if positive_word != negated {
            "positive"
        } else {
            "negative"
        };
        assert_eq!(rules.get(rule, "class"), expected, "{conditions}");
    }

    let report = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("Influential training examples"));
    assert!(report.contains("Global surrogate"));
    assert!(report.contains("negation = 1"));
}
