//! `[[probe]]` extras on the toy encoder: relative CAVs and the examples that carry a
//! concept's direction.

mod common;

use common::{assert_exit, concepts_dir, run_cavern};
use std::fs;

#[test]
fn relative_cavs_and_decomposition_on_toy_sentiment() {
    let dir = tempfile::tempdir().unwrap();
    let concepts = concepts_dir();
    let experiment = dir.path().join("extras.toml");
    let set = |name: &str| concepts.join(format!("{name}.txt")).display().to_string();
    fs::write(
        &experiment,
        format!(
            "[experiment]\nname = \"extras\"\nseed = 7\nmodel = \"toy-sentiment\"\n\
             [concepts.praise]\nfile = {:?}\n[concepts.criticism]\nfile = {:?}\n\
             [random]\nfile = {:?}\nsets = 5\nsize = 100\n\
             [[probe]]\nconcepts = [\"praise\", \"criticism\"]\nlayers = [0]\n\
             relative = true\ndecompose = true\n",
            set("praise"),
            set("criticism"),
            set("random")
        ),
    )
    .unwrap();
    let run = dir.path().join("run");
    let out = run_cavern([
        "run".as_ref(),
        experiment.as_os_str(),
        "--quiet".as_ref(),
        "--out".as_ref(),
        run.as_os_str(),
    ]);
    assert_exit(&out, 0);

    // Praise and criticism are opposite polarities: trivially separable from each other.
    let relative = fs::read_to_string(run.join("tables/probe_relative.csv")).unwrap();
    let rows: Vec<Vec<&str>> = relative
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 2, "{relative}");
    for row in &rows {
        let accuracy: f64 = row[4].parse().unwrap();
        assert!(accuracy >= 0.95, "{relative}");
    }

    // The examples that carry praise are praise sentences heavy with positive words.
    let decomposition = fs::read_to_string(run.join("tables/decomposition.csv")).unwrap();
    let positive = [
        "good",
        "great",
        "wonderful",
        "superb",
        "lovely",
        "brilliant",
        "excellent",
        "delightful",
    ];
    let mut shares = 0.0;
    for line in decomposition
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("praise,"))
    {
        let fields: Vec<&str> = line.split(',').collect();
        let words = fields[5]
            .split(' ')
            .filter(|w| positive.contains(w))
            .count();
        assert!(
            words >= 2,
            "a carrier of praise with {words} positive words: {line}"
        );
        shares += fields[7].parse::<f64>().unwrap();
        let residual: f64 = fields[8].parse().unwrap();
        assert!((0.0..1.0).contains(&residual), "{line}");
    }
    assert!(shares > 0.0 && shares <= 1.0 + 1e-9, "shares {shares}");
}
