//! `[[neighbors]]` and `[[attention]] flow` end to end on `toy-sentiment`: an input copied from
//! a reference set finds itself first, with its label and the model's class; MMD-critic's
//! prototypes cover both labels of a two-cluster reference set; rollout rows sum to 1 and flow
//! is never below rollout and equals it through one layer; the report shows both and
//! `cavern report` rebuilds it from the tables.

mod common;

use common::{Csv, assert_exit, concepts_dir, run_cavern, run_experiment};
use std::collections::BTreeMap;
use std::fs;

const PRAISE: &str = "a blue hotel is very good brilliant delightful";
const CRITICISM: &str = "a book was dull dreadful bad";

fn experiment() -> String {
    let c = concepts_dir();
    let c = c.display();
    format!(
        r#"[experiment]
name = "toy-explanations"
seed = 3
model = "toy-sentiment"

[concepts.praise]
file = '{c}/praise.txt'

[concepts.criticism]
file = '{c}/criticism.txt'

[[neighbors]]
inputs = {{ examples = ["{PRAISE}", "{CRITICISM}", "the film was not good"] }}
k = 3

[[attention]]
inputs = {{ examples = ["the film was good", "a red song is not awful"] }}
layers = [0, 1]
flow = ["rollout", "flow"]
"#
    )
}

#[test]
fn neighbors_and_attention_flow_end_to_end() {
    let concepts = concepts_dir();
    for (file, line) in [("praise.txt", PRAISE), ("criticism.txt", CRITICISM)] {
        let text = fs::read_to_string(concepts.join(file)).unwrap();
        assert!(
            text.lines().any(|l| l == line),
            "test bug: `{line}` not in {file}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("explanations.toml");
    fs::write(&file, experiment()).unwrap();
    let out = run_experiment(&file, &dir.path().join("run"), &[]);
    let tables = out.join("tables");

    let neighbors = Csv::read(&tables.join("neighbors.csv"));
    assert_eq!(neighbors.rows.len(), 3 * 3);
    let row = |input: usize, rank: usize| {
        neighbors
            .rows
            .iter()
            .find(|r| {
                neighbors.num(r, "input") == input as f64 && neighbors.num(r, "rank") == rank as f64
            })
            .unwrap_or_else(|| panic!("no row for input {input}, rank {rank}"))
    };
    // A planted neighbour: each copied input finds its own reference example first.
    for (input, text, label, class) in [
        (0, PRAISE, "praise", "positive"),
        (1, CRITICISM, "criticism", "negative"),
    ] {
        let first = row(input, 1);
        assert_eq!(neighbors.get(first, "example"), text);
        assert_eq!(neighbors.get(first, "label"), label);
        assert!(neighbors.num(first, "cosine") > 0.999_999);
        assert_eq!(neighbors.get(first, "prediction"), class);
        assert_eq!(neighbors.get(first, "example_prediction"), class);
    }
    assert_eq!(neighbors.get(row(2, 1), "prediction"), "negative");
    for input in 0..3 {
        let cosines: Vec<f64> = (1..=3)
            .map(|k| neighbors.num(row(input, k), "cosine"))
            .collect();
        assert!(cosines.windows(2).all(|w| w[0] >= w[1]), "{cosines:?}");
    }

    // MMD-critic on two clusters: prototypes from both, criticisms apart from them.
    let critic = Csv::read(&tables.join("prototypes.csv"));
    let of = |kind: &str| -> Vec<&Vec<String>> {
        critic
            .rows
            .iter()
            .filter(|r| critic.get(r, "kind") == kind)
            .collect()
    };
    let (prototypes, criticisms) = (of("prototype"), of("criticism"));
    assert_eq!((prototypes.len(), criticisms.len()), (4, 4));
    for label in ["praise", "criticism"] {
        assert!(prototypes.iter().any(|r| critic.get(r, "label") == label));
    }

    // Rollout and flow: (6 + 4) tokens' t² pairs, two layers, two methods.
    let flow = Csv::read(&tables.join("attention_flow.csv"));
    assert_eq!(flow.rows.len(), (16 + 36) * 2 * 2);
    let mut values: BTreeMap<(String, usize, usize, usize, usize), f64> = BTreeMap::new();
    let mut row_sums: BTreeMap<(usize, usize, usize), f64> = BTreeMap::new();
    for r in &flow.rows {
        let at = |c: &str| flow.num(r, c) as usize;
        let (input, layer, from) = (at("input"), at("layer"), at("from_position"));
        let value = flow.num(r, "value");
        let method = flow.get(r, "method").to_string();
        if method == "rollout" {
            *row_sums.entry((input, layer, from)).or_default() += value;
        }
        values.insert((method, input, layer, from, at("to_position")), value);
    }
    for (key, sum) in &row_sums {
        assert!(
            (sum - 1.0).abs() < 1e-9,
            "rollout row {key:?} sums to {sum}"
        );
    }
    let mut differs = false;
    for ((method, input, layer, from, to), &rollout) in &values {
        if method != "rollout" {
            continue;
        }
        let flow = values[&("flow".to_string(), *input, *layer, *from, *to)];
        assert!((0.0..=1.0 + 1e-9).contains(&flow), "flow {flow}");
        assert!(flow >= rollout - 1e-9, "flow {flow} < rollout {rollout}");
        if *layer == 0 {
            assert!(
                (flow - rollout).abs() < 1e-9,
                "one layer: {flow} vs {rollout}"
            );
        } else {
            differs |= flow > rollout + 1e-6;
        }
    }
    assert!(differs, "flow equals rollout through two layers");

    let html = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<h3>Study 0 · rollout through layer 1 · 2 inputs</h3>"));
    assert!(html.contains("<h3>Study 0 · flow through layer 1 · 2 inputs</h3>"));
    assert!(html.contains(&format!("<td>{CRITICISM}</td><td>criticism</td>")));
    fs::write(out.join("report.html"), "stale").unwrap();
    let rerender = run_cavern(["report".as_ref(), out.as_os_str()]);
    assert_exit(&rerender, 0);
    assert!(fs::read_to_string(out.join("report.html")).unwrap() == html);
}
