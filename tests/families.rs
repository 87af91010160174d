//! Every study kind runs on every decoder family: a small experiment with probe, TCAV,
//! patching and steering on each tiny checkpoint of `workspace/model/tests/fixtures/families`,
//! through the `cavern` binary, with the family read from the folder.

mod common;

use cavern_model::Family;
use common::{Csv, run_experiment};
use std::fs;

/// An experiment on the folder of `family` with every study kind that reads a decoder's logits.
fn experiment(family: &str) -> String {
    let folder = common::repo_root()
        .join("workspace/model/tests/fixtures/families")
        .join(family);
    format!(
        r#"[experiment]
name = "family-{family}"
seed = 3
model = {{ path = "{folder}" }}

[concepts.capitals]
examples = ["Paris is a city", "Berlin is a city", "Rome is a city", "Madrid is a city",
            "Lisbon is a city", "Vienna is a city", "Prague is a city", "Oslo is a city"]

[random]
examples = ["the dog ran", "a cat sat", "we went home", "it was late", "they ate food",
            "he gave a drink", "she went to the store", "John and Mary", "a quick fox",
            "the lazy dog", "in 2024 they grew", "people went"]
sets = 3
size = 8

[[probe]]
concepts = ["capitals"]
layers = "all"

[[tcav]]
target = {{ token = "y" }}
inputs = {{ examples = ["When Mary went", "The capital is", "John gave a drink to"] }}
concepts = ["capitals"]
layers = [0, 1]
site = "resid_post"

[[patching]]
clean = "qxzM"
corrupted = "qxzJ"
metric = {{ logit_diff = ["M", "J"] }}
sites = ["resid_pre", "attn_out", "mlp_out", "head"]

[[steering]]
inputs = {{ examples = ["When Mary went", "The capital is"] }}
concept = "capitals"
layers = [1]
alphas = [-1, 1]
target = {{ token = "y" }}
"#,
        folder = folder.display()
    )
}

#[test]
fn every_study_runs_on_every_family() {
    let dir = tempfile::tempdir().unwrap();
    // Every family but BERT (an encoder, with its own tests) has a tiny decoder checkpoint.
    for family in Family::ALL.into_iter().filter(|f| *f != Family::Bert) {
        let family = family.as_str();
        let file = dir.path().join(format!("{family}.toml"));
        fs::write(&file, experiment(family)).unwrap();
        let out = run_experiment(&file, &dir.path().join(family), &[]);
        let manifest = fs::read_to_string(out.join("manifest.json")).unwrap();
        assert!(
            manifest.contains(family),
            "{family}: manifest names the folder"
        );
        for table in ["probe", "tcav", "patching", "steering"] {
            let csv = Csv::read(&out.join(format!("tables/{table}.csv")));
            assert!(!csv.rows.is_empty(), "{family}: {table} is empty");
        }
        // Patching the residual stream at the last (differing) position restores the clean run.
        let patching = Csv::read(&out.join("tables/patching.csv"));
        let resid: Vec<&Vec<String>> = (patching.rows.iter())
            .filter(|r| patching.get(r, "site") == "resid_pre")
            .collect();
        let position = |r: &[String]| patching.num(r, "position") as usize;
        let last = resid.iter().map(|r| position(r.as_slice())).max().unwrap();
        let recovered: Vec<f64> = (resid.iter())
            .filter(|r| position(r.as_slice()) == last)
            .map(|r| patching.num(r, "recovered"))
            .collect();
        assert!(
            !recovered.is_empty(),
            "{family}: no resid_pre rows at the last position"
        );
        assert!(
            recovered.iter().all(|r| (r - 1.0).abs() < 1e-4),
            "{family}: patching the differing position recovers {recovered:?}"
        );
    }
}
