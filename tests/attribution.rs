//! `[[attribution]]` end to end: on `toy-sentiment`, whose ground truth is known, the negative
//! word and the negation carry the attribution and colours none, integrated gradients are
//! complete, and the run is deterministic and re-renders; on MiniLM with the trained sentiment
//! head (needs `cavern models fetch minilm-l6`), the sentiment words of real reviews.

mod common;

use common::{Csv, assert_exit, assert_no_panic, describe, run_cavern, run_experiment, stderr};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Per (input, method): the tokens in position order with their attribution and special flag.
type PerInput = BTreeMap<(usize, String), Vec<(String, f64, bool)>>;

fn per_input(table: &Csv) -> PerInput {
    let mut out = PerInput::new();
    for row in &table.rows {
        let key = (
            table.num(row, "input") as usize,
            table.get(row, "method").to_string(),
        );
        let entry = (
            table.get(row, "token").to_string(),
            table.num(row, "attribution"),
            table.get(row, "is_special") == "true",
        );
        out.entry(key).or_default().push(entry);
    }
    out
}

/// The `k` non-special tokens with the largest |attribution|, sorted by name.
fn top(tokens: &[(String, f64, bool)], k: usize) -> Vec<String> {
    let mut real: Vec<&(String, f64, bool)> = tokens.iter().filter(|t| !t.2).collect();
    real.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
    let mut names: Vec<String> = real.iter().take(k).map(|t| t.0.clone()).collect();
    names.sort();
    names
}

fn run(experiment: &Path, out: &Path) -> PathBuf {
    run_experiment(experiment, out, &[])
}

const TOY: &str = r#"[experiment]
name = "toy-attribution"
model = "toy-sentiment"

[[attribution]]
target = { class = "positive" }
inputs = { examples = [
    "this hotel is dreadful in orange",
    "a red song is not awful",
    "a blue book was not good",
    "the purple game is very boring",
    "the film was good",
] }
steps = 1024
"#;

#[test]
fn toy_sentiment_attributions_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("toy.toml");
    fs::write(&file, TOY).unwrap();
    let out = run(&file, &dir.path().join("run"));
    let tables = out.join("tables");

    let tokens = Csv::read(&tables.join("attributions.csv"));
    // 6 + 6 + 6 + 6 + 4 tokens, four methods each.
    assert_eq!(tokens.rows.len(), 28 * 4);
    let by_input = per_input(&tokens);
    // The tokens that flip the model away from its default (positive), per input.
    let expected: [&[&str]; 4] = [&["dreadful"], &["awful", "not"], &["not"], &["boring"]];
    for (input, flips) in expected.iter().enumerate() {
        for method in ["integrated_gradients", "occlusion"] {
            let values = &by_input[&(input, method.to_string())];
            assert_eq!(top(values, flips.len()), *flips, "{method}, input {input}");
            let largest = values.iter().fold(0.0f64, |m, t| m.max(t.1.abs()));
            for (token, value, _) in values {
                if ["red", "blue", "orange", "purple"].contains(&token.as_str()) {
                    assert!(value.abs() < 0.05 * largest, "{method}: {token} {value}");
                }
            }
        }
        assert!(
            by_input[&(input, "saliency".to_string())]
                .iter()
                .all(|t| t.1 >= 0.0)
        );
    }
    // "the film was good" is as positive as the all-pad baseline: nothing to attribute.
    for method in ["integrated_gradients", "occlusion"] {
        let values = &by_input[&(4, method.to_string())];
        assert!(
            values.iter().all(|t| t.1.abs() < 0.1),
            "{method}: {values:?}"
        );
    }

    let summary = Csv::read(&tables.join("attribution_summary.csv"));
    assert_eq!(summary.rows.len(), 5);
    for row in &summary.rows {
        assert_eq!(summary.get(row, "site"), "embed");
        assert_eq!(summary.get(row, "baseline"), "pad");
        assert_eq!(summary.get(row, "target"), "class:positive");
        let delta = summary.num(row, "f_x") - summary.num(row, "f_baseline");
        let gap = summary.num(row, "completeness_gap");
        assert!(
            gap.abs() < 0.01 * delta.abs().max(1e-2),
            "gap {gap} against f(x) − f(baseline) = {delta}"
        );
    }

    let html = fs::read_to_string(out.join("report.html")).unwrap();
    let section = html
        .split("<h2>Token attributions</h2>")
        .nth(1)
        .expect("an attribution section");
    assert!(section.contains("Study 0 · target class:positive · 5 inputs"));
    assert!(section.contains(r#"title="dreadful · integrated_gradients: -"#));
    assert_eq!(section.matches(r#"<p class="attr">"#).count(), 5);

    // Same file, same numbers; and `cavern report` rebuilds the report from the tables.
    let again = run(&file, &dir.path().join("again"));
    for table in ["attributions.csv", "attribution_summary.csv"] {
        assert!(
            fs::read(tables.join(table)).unwrap()
                == fs::read(again.join("tables").join(table)).unwrap(),
            "{table} differs between two runs"
        );
    }
    fs::write(out.join("report.html"), "stale").unwrap();
    let rerender = run_cavern(["report".as_ref(), out.as_os_str()]);
    assert_exit(&rerender, 0);
    assert!(fs::read_to_string(out.join("report.html")).unwrap() == html);
}

#[test]
fn attribution_mistakes_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    fs::write(
        &file,
        "[experiment]\nname = \"bad\"\nmodel = \"toy-sentiment\"\n\n[[attribution]]\n\
         target = { class = \"positive\" }\ninputs = { examples = [\"the film was good\"] }\n\
         methods = [\"integrated_gradient\"]\n",
    )
    .unwrap();
    let out = run_cavern(["validate".as_ref(), file.as_os_str()]);
    assert_exit(&out, 2);
    let err = stderr(&out);
    assert!(
        err.contains("unknown method `integrated_gradient`"),
        "{err}"
    );
    assert!(
        err.contains("did you mean `integrated_gradients`?"),
        "{err}"
    );

    // The toy vocabulary has no mask token: the run says so and which baselines work.
    fs::write(
        &file,
        "[experiment]\nname = \"mask\"\nmodel = \"toy-sentiment\"\n\n[[attribution]]\n\
         target = { class = \"positive\" }\ninputs = { examples = [\"the film was good\"] }\n\
         baseline = \"mask\"\n",
    )
    .unwrap();
    let run = dir.path().join("run");
    let out = run_cavern([
        "run".as_ref(),
        file.as_os_str(),
        "--quiet".as_ref(),
        "--out".as_ref(),
        run.as_os_str(),
    ]);
    assert_exit(&out, 1);
    assert_no_panic(&out);
    assert!(stderr(&out).contains("[MASK]"), "{}", describe(&out));
    assert!(!run.exists(), "a failed run leaves no folder");
}

#[test]
fn minilm_attributions_point_at_the_sentiment_words() {
    let fetched = run_cavern(["models", "path", "minilm-l6"]);
    assert!(
        fetched.status.success(),
        "model minilm-l6 is not fetched; run `cargo run --release -- models fetch minilm-l6`\n{}",
        describe(&fetched)
    );
    let dir = tempfile::tempdir().unwrap();
    let out = run(
        Path::new("experiments/minilm_attributions.toml"),
        &dir.path().join("run"),
    );
    let tokens = Csv::read(&out.join("tables/attributions.csv"));
    let by_input = per_input(&tokens);
    // [CLS] and [SEP] are flagged and, kept in the pad baseline, get exactly nothing.
    for ((input, method), values) in &by_input {
        let (first, last) = (&values[0], &values[values.len() - 1]);
        assert_eq!(
            (first.0.as_str(), first.2),
            ("[CLS]", true),
            "input {input}"
        );
        assert_eq!((last.0.as_str(), last.2), ("[SEP]", true), "input {input}");
        assert!(values[1..values.len() - 1].iter().all(|t| !t.2));
        if method == "integrated_gradients" || method == "occlusion" {
            assert_eq!((first.1, last.1), (0.0, 0.0), "{method}, input {input}");
        }
    }
    // Reviews with one clear sentiment word: it has the largest |attribution| by integrated
    // gradients and by occlusion.
    for (input, word) in [
        (0, "lovely"),
        (1, "boring"),
        (4, "brilliant"),
        (5, "terrible"),
        (8, "stunning"),
    ] {
        for method in ["integrated_gradients", "occlusion"] {
            let values = &by_input[&(input, method.to_string())];
            assert_eq!(
                top(values, 1),
                [word],
                "{method}, input {input}: {values:?}"
            );
        }
    }
    // "Our guide was rude and the tour was a waste of money.": both complaints lead.
    for method in ["integrated_gradients", "occlusion"] {
        assert_eq!(
            top(&by_input[&(9, method.to_string())], 2),
            ["rude", "waste"]
        );
    }
    let summary = Csv::read(&out.join("tables/attribution_summary.csv"));
    assert_eq!(summary.rows.len(), 10);
    for row in &summary.rows {
        let delta = summary.num(row, "f_x") - summary.num(row, "f_baseline");
        let gap = summary.num(row, "completeness_gap");
        assert!(gap.abs() < 0.01 * delta.abs(), "gap {gap} against {delta}");
    }
}
