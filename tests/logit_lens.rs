//! `[[logit_lens]]` on a tiny checkpoint of every decoder family (LayerNorm: GPT-2, GPT-NeoX;
//! RMSNorm: Llama, Mistral, Qwen; (1 + w)-scaled RMSNorm with post-norms: Gemma 2 and 3):
//! the last layer's lens is the model's own output, and direct logit attribution's parts sum
//! to the logit difference.

mod common;

use cavern_model::Family;
use common::{Csv, describe, run_cavern, run_experiment};
use std::fs;

fn experiment(family: &str) -> String {
    let folder = common::repo_root()
        .join("workspace/model/tests/fixtures/families")
        .join(family);
    format!(
        r#"[experiment]
name = "lens-{family}"
seed = 3
model = {{ path = "{folder}" }}

[[logit_lens]]
prompts = "qxz{{{{ a }}}} y{{{{ b }}}}"
vars = {{ a = ["M", "J"], b = ["M", "J"] }}
metric = {{ logit_diff = ["{{{{ a }}}}", "{{{{ b }}}}"] }}
top_k = 3
"#,
        folder = folder.display()
    )
}

#[test]
fn the_lens_ends_at_the_output_and_attribution_sums_to_the_logit_difference() {
    let dir = tempfile::tempdir().unwrap();
    for family in Family::ALL.into_iter().filter(|f| *f != Family::Bert) {
        let family = family.as_str();
        let file = dir.path().join(format!("{family}.toml"));
        fs::write(&file, experiment(family)).unwrap();
        let out = run_experiment(&file, &dir.path().join(family), &[]);
        let totals = Csv::read(&out.join("tables/logit_attribution_total.csv"));
        let parts = Csv::read(&out.join("tables/logit_attribution.csv"));
        let lens = Csv::read(&out.join("tables/logit_lens.csv"));
        let top = Csv::read(&out.join("tables/logit_lens_top.csv"));
        assert_eq!(totals.rows.len(), 2, "{family}: two distinct prompts");
        let last = (lens.rows.iter())
            .map(|r| lens.num(r, "layer"))
            .fold(0.0, f64::max);
        for row in &totals.rows {
            let prompt = totals.get(row, "prompt");
            let (diff, pre_cap) = (
                totals.num(row, "logit_diff"),
                totals.num(row, "logit_diff_pre_cap"),
            );
            let attributed = totals.num(row, "attributed");
            assert!(
                diff.abs() > 1e-6,
                "{family}: a logit difference to attribute"
            );
            assert!(
                (attributed - pre_cap).abs() < 1e-3,
                "{family} prompt {prompt}: parts sum to {attributed}, logit difference {pre_cap}"
            );
            if family != "gemma2" {
                assert!(
                    (pre_cap - diff).abs() < 1e-4,
                    "{family}: no soft-cap: {pre_cap} vs {diff}"
                );
            }
            let summed: f64 = (parts.rows.iter())
                .filter(|r| parts.get(r, "prompt") == prompt)
                .map(|r| parts.num(r, "contribution"))
                .sum();
            assert!(
                (summed - attributed).abs() < 1e-9,
                "{family}: {summed} vs {attributed}"
            );
            let heads = (parts.rows.iter())
                .filter(|r| parts.get(r, "prompt") == prompt && parts.get(r, "component") == "head")
                .count();
            assert!(heads >= 2, "{family}: every head of every layer ({heads})");
            // The last layer's lens is the model's output: its logit difference and top token.
            let lens_logit = |target: &str| {
                let r = (lens.rows.iter())
                    .find(|r| {
                        lens.get(r, "prompt") == prompt
                            && lens.num(r, "layer") == last
                            && lens.get(r, "target") == target
                    })
                    .unwrap();
                lens.num(r, "logit")
            };
            let lens_diff = lens_logit("answer") - lens_logit("distractor");
            assert!(
                (lens_diff - diff).abs() < 1e-4,
                "{family}: lens {lens_diff} vs {diff}"
            );
            let lens_top = (top.rows.iter())
                .find(|r| {
                    top.get(r, "prompt") == prompt
                        && top.num(r, "layer") == last
                        && top.get(r, "rank") == "0"
                })
                .unwrap();
            assert_eq!(
                top.get(lens_top, "token"),
                totals.get(row, "top_token"),
                "{family}: the last layer's top token is the model's"
            );
        }
    }
}

/// The IOI prompts' lens and attribution on a fetched model (`cavern models fetch NAME`): every
/// prompt's parts sum to its logit difference, and the answer, not top-1 in the embeddings,
/// becomes the top token at some layer. Returns the first layer at which it is top-1 for every
/// prompt.
fn ioi_on(model: &str, max_prompts: usize) -> f64 {
    let out = run_cavern(["models", "path", model]);
    assert!(
        out.status.success(),
        "model {model} is not fetched; run `cargo run --release -- models fetch {model}`\n{}",
        describe(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ioi.toml");
    fs::write(
        &file,
        format!(
            "[experiment]\nname = \"ioi-lens\"\nmodel = \"{model}\"\n\n[[logit_lens]]\n\
             prompts = \"When {{{{ a }}}} and {{{{ b }}}} went to the store, {{{{ b }}}} gave a drink to\"\n\
             vars = {{ a = [\"Mary\", \"John\"], b = [\"Tom\", \"Anna\"] }}\n\
             max_prompts = {max_prompts}\n\
             metric = {{ logit_diff = [\" {{{{ a }}}}\", \" {{{{ b }}}}\"] }}\n"
        ),
    )
    .unwrap();
    let out = run_experiment(&file, &dir.path().join("run"), &[]);
    let totals = Csv::read(&out.join("tables/logit_attribution_total.csv"));
    assert_eq!(totals.rows.len(), max_prompts);
    for row in &totals.rows {
        let (diff, attributed) = (totals.num(row, "logit_diff"), totals.num(row, "attributed"));
        assert!(diff > 1.0, "{model}: the model prefers the answer ({diff})");
        assert!(
            (attributed - diff).abs() < 1e-3,
            "{model}: {attributed} vs {diff}"
        );
    }
    let lens = Csv::read(&out.join("tables/logit_lens.csv"));
    let answer_top1 = |layer: f64| {
        (lens.rows.iter())
            .filter(|r| lens.num(r, "layer") == layer && lens.get(r, "target") == "answer")
            .all(|r| lens.get(r, "rank") == "0")
    };
    assert!(!answer_top1(0.0), "{model}: not in the embeddings");
    let last = (lens.rows.iter())
        .map(|r| lens.num(r, "layer"))
        .fold(0.0, f64::max);
    (0..=last as usize)
        .map(|l| l as f64)
        .find(|&l| answer_top1(l))
        .unwrap_or_else(|| panic!("{model}: the answer is never top-1 for every prompt"))
}

#[test]
fn smollm2_ioi_answer_becomes_top1_and_attribution_sums() {
    // SmolLM2's 30 blocks: the answer is top-1 only after the last block.
    assert_eq!(ioi_on("smollm2-135m", 4), 30.0);
}

#[test]
fn gemma3_ioi_answer_becomes_top1_before_the_last_layer() {
    // Gemma 3 270M's 18 blocks: the answer is top-1 from the middle layers on.
    let first = ioi_on("gemma3-270m", 4);
    assert!((10.0..18.0).contains(&first), "{first}");
}
