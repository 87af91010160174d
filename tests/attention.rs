//! `[[attention]]` end to end on the built-in toy models: the known answer of `toy-recall` (the
//! query token reads the symbol it must copy straight from position 1) and the ranges of every
//! statistic on `toy-sentiment`.

mod common;

use common::{Csv, assert_exit, cavern, concepts_dir, describe, run_experiment};
use std::fs;
use std::path::{Path, PathBuf};

const SYMBOLS: &str = "abcdefghijklmnop";

/// `count` toy-recall prompts `s0 s1 s2 s3 s4 s5 =` with pseudo-random symbols (xorshift, fixed
/// seed), so every position varies across the inputs.
fn recall_prompts(count: usize) -> Vec<String> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % SYMBOLS.len() as u64) as usize
    };
    (0..count)
        .map(|_| {
            let symbols: Vec<String> = (0..6)
                .map(|_| char::from(SYMBOLS.as_bytes()[next()]).to_string())
                .collect();
            format!("{} =", symbols.join(" "))
        })
        .collect()
}

/// Writes `toml` into `dir`, runs it into `dir/run` and returns the run folder.
fn run(dir: &Path, toml: &str) -> PathBuf {
    let file = dir.join("attention.toml");
    fs::write(&file, toml).expect("write experiment");
    run_experiment(&file, &dir.join("run"), &[])
}

fn close(a: f64, b: f64, tolerance: f64) -> bool {
    (a - b).abs() <= tolerance
}

#[test]
fn toy_recall_reads_the_answer_from_position_one_at_layer_one() {
    let dir = tempfile::tempdir().expect("temp dir");
    let prompts = recall_prompts(48);
    let examples: Vec<String> = prompts.iter().map(|p| format!("\"{p}\"")).collect();
    let toml = format!(
        "[experiment]\nname = \"recall-attention\"\nmodel = \"toy-recall\"\n\n\
         [[attention]]\ninputs = {{ examples = [{}] }}\nlayers = \"all\"\n",
        examples.join(", ")
    );
    let out = run(dir.path(), &toml);
    let tables = out.join("tables");

    let heads = Csv::read(&tables.join("attention_heads.csv"));
    assert_eq!(heads.rows.len(), 2 * 4, "2 layers x 4 heads");
    for row in &heads.rows {
        assert_eq!(heads.num(row, "n_inputs"), 48.0);
        assert_eq!(heads.num(row, "min_tokens"), 7.0);
        assert_eq!(heads.num(row, "max_tokens"), 7.0);
        assert_eq!(heads.get(row, "average_pattern"), "written");
        assert_eq!(
            heads.num(row, "special_mean"),
            0.0,
            "the toy has no special tokens"
        );
        let entropy = heads.num(row, "entropy_mean");
        assert!((0.0..=1.0).contains(&entropy), "entropy {entropy}");
    }

    // The average pattern: 2 layers x 4 heads x 7 x 7 cells, causal and row-stochastic.
    let pattern = Csv::read(&tables.join("attention_pattern.csv"));
    assert_eq!(pattern.rows.len(), 2 * 4 * 7 * 7);
    let weight = |layer: usize, head: usize, query: usize, key: usize| -> f64 {
        let row = pattern
            .rows
            .iter()
            .find(|r| {
                [
                    ("layer", layer),
                    ("head", head),
                    ("query", query),
                    ("key", key),
                ]
                .iter()
                .all(|(c, v)| pattern.num(r, c) == *v as f64)
            })
            .unwrap_or_else(|| panic!("no cell L{layer} H{head} q{query} k{key}"));
        pattern.num(row, "weight")
    };
    for row in &pattern.rows {
        let (q, k) = (pattern.num(row, "query"), pattern.num(row, "key"));
        if k > q {
            assert!(
                pattern.num(row, "weight") < 1e-6,
                "a decoder never looks ahead"
            );
        }
        let token = if q == 6.0 { "=" } else { "*" };
        assert_eq!(pattern.get(row, "query_token"), token);
    }
    for layer in 0..2 {
        for head in 0..4 {
            let total: f64 = (0..7).map(|k| weight(layer, head, 6, k)).sum();
            assert!(
                close(total, 1.0, 1e-4),
                "L{layer} H{head} row sums to {total}"
            );
        }
    }

    // The known answer: toy-recall copies s1, and at layer 1 the `=` query reads it straight
    // from position 1 (measured: heads 0 and 1, which share a key/value head, put 0.84 there).
    let last_row = |layer, head| {
        (0..7)
            .map(|k| weight(layer, head, 6, k))
            .collect::<Vec<_>>()
    };
    let (best_head, best) = (0..4)
        .map(|h| (h, weight(1, h, 6, 1)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("heads");
    assert!(best > 0.7, "layer 1: at most {best} on position 1");
    let row = last_row(1, best_head);
    let argmax = (0..7).max_by(|&a, &b| row[a].total_cmp(&row[b])).unwrap();
    assert_eq!(argmax, 1, "layer 1 head {best_head} last row {row:?}");
    // No layer-0 head is that focused on the answer position.
    for head in 0..4 {
        let w = weight(0, head, 6, 1);
        assert!(w < best - 0.2, "layer 0 head {head} puts {w} on position 1");
    }
}

#[test]
fn toy_sentiment_statistics_lie_in_their_ranges_and_the_report_rebuilds() {
    let dir = tempfile::tempdir().expect("temp dir");
    let inputs = concepts_dir().join("positive_inputs.txt");
    let toml = format!(
        "[experiment]\nname = \"sentiment-attention\"\nmodel = \"toy-sentiment\"\n\n\
         [[attention]]\ninputs = {:?}\nlayers = [1, 0]\n",
        inputs.display().to_string()
    );
    let out = run(dir.path(), &toml);
    let tables = out.join("tables");
    assert!(
        !tables.join("attention_pattern.csv").exists(),
        "inputs of different lengths have no average pattern"
    );
    let heads = Csv::read(&tables.join("attention_heads.csv"));
    assert_eq!(heads.rows.len(), 2 * 4);
    let layers: Vec<f64> = heads.rows.iter().map(|r| heads.num(r, "layer")).collect();
    assert_eq!(
        layers,
        [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
        "study order"
    );
    for row in &heads.rows {
        let (min, max) = (heads.num(row, "min_tokens"), heads.num(row, "max_tokens"));
        assert!(min < max, "the inputs have different lengths");
        assert_eq!(heads.get(row, "average_pattern"), "lengths_differ");
        let entropy = heads.num(row, "entropy_mean");
        assert!((0.0..=1.0).contains(&entropy), "entropy {entropy}");
        let quality = heads.num(row, "quality_mean");
        assert!(
            quality >= 1.0 / max - 1e-9 && quality <= 1.0 + 1e-9,
            "Q = {quality} outside [1/{max}, 1]"
        );
        for column in ["self_mean", "previous_mean", "first_mean"] {
            let value = heads.num(row, column);
            assert!((0.0..=1.0 + 1e-9).contains(&value), "{column} = {value}");
        }
        assert_eq!(heads.num(row, "special_mean"), 0.0);
        assert!(heads.num(row, "entropy_std") >= 0.0 && heads.num(row, "quality_std") >= 0.0);
    }

    let report = out.join("report.html");
    let html = fs::read_to_string(&report).expect("report");
    assert!(html.contains("<h2>Attention</h2>"), "no attention section");
    assert!(
        html.contains("not written, since the inputs have"),
        "no pattern note"
    );
    // `cavern report` rebuilds the same page from the tables.
    let output = cavern()
        .arg("report")
        .arg(&out)
        .output()
        .expect("cavern report");
    assert_exit(&output, 0);
    let rebuilt = fs::read_to_string(&report).expect("report");
    assert!(
        rebuilt == html,
        "rebuilt report differs\n{}",
        describe(&output)
    );
}
