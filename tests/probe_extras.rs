//! `[[probe]]` extras on the toy encoder: relative CAVs and the examples that carry a
//! concept's direction.

mod common;

use common::{Csv, concepts_dir, run_experiment};
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
    let run = run_experiment(&experiment, &dir.path().join("run"), &[]);

    // Praise and criticism are opposite polarities: trivially separable from each other.
    let relative = Csv::read(&run.join("tables/probe_relative.csv"));
    assert_eq!(relative.rows.len(), 2, "{:?}", relative.rows);
    for row in &relative.rows {
        assert!(relative.num(row, "accuracy") >= 0.95, "{row:?}");
    }

    // The examples that carry praise are praise sentences heavy with positive words.
    let decomposition = Csv::read(&run.join("tables/decomposition.csv"));
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
    let carriers: Vec<&Vec<String>> = decomposition
        .rows
        .iter()
        .filter(|r| decomposition.get(r, "concept") == "praise")
        .collect();
    assert!(!carriers.is_empty(), "no carriers of praise");
    let mut shares = 0.0;
    for row in carriers {
        let text = decomposition.get(row, "text");
        let words = text.split(' ').filter(|w| positive.contains(w)).count();
        assert!(
            words >= 2,
            "a carrier of praise with {words} positive words: {text}"
        );
        shares += decomposition.num(row, "share");
        let residual = decomposition.num(row, "residual");
        assert!((0.0..1.0).contains(&residual), "{row:?}");
    }
    assert!(shares > 0.0 && shares <= 1.0 + 1e-9, "shares {shares}");
}
