//! `[[steering]]`, `[[erasure]]` and `[[counterfactual]]` end to end on the built-in toy models,
//! whose ground truth is known: the planted sentiment CAV flips toy-sentiment's predictions
//! monotonically in α, LEACE of the planted concept leaves a fresh probe at chance, swapping a
//! negation flips every minimal pair and swapping a noun none; plus the identities (α = 0 changes
//! nothing), saved vector files, decoder continuations and invalid files.

mod common;

use common::{
    Csv, assert_exit, assert_no_panic, concepts_dir, describe, run_cavern, run_experiment, stderr,
};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Writes `text` as `experiment.toml` into a fresh temp dir.
fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("experiment.toml");
    fs::write(&path, text).unwrap();
    (dir, path)
}

/// A review of the toy language: determiner, colour, noun, verb and adjective.
const REVIEW: &str = "{{ det }} {{ colour }} {{ noun }} {{ verb }} {{ adj }}";

/// The `vars` of [`REVIEW`]: 3 × 4 × 8 × 2 determiners, colours, nouns and verbs with
/// `adjectives`.
fn review_vars(adjectives: &str) -> String {
    format!(
        "{{ det = [\"the\", \"a\", \"this\"], colour = [\"red\", \"blue\", \"green\", \"grey\"], \
         noun = [\"film\", \"meal\", \"book\", \"song\", \"hotel\", \"game\", \"play\", \
         \"show\"], verb = [\"was\", \"is\"], adj = [{adjectives}] }}"
    )
}

const POSITIVE: &str =
    r#""good", "great", "superb", "lovely", "wonderful", "excellent", "delightful", "brilliant""#;
const NEGATIVE: &str =
    r#""bad", "awful", "terrible", "dreadful", "poor", "horrible", "boring", "dull""#;

/// `(layer, α) → flip rate` of study 0.
fn flip_rates(summary: &Csv) -> BTreeMap<(u64, i64), f64> {
    (summary.rows.iter())
        .filter(|r| summary.num(r, "study") == 0.0)
        .map(|r| {
            let key = (
                summary.num(r, "layer") as u64,
                (summary.num(r, "alpha") * 1000.0).round() as i64,
            );
            (key, summary.num(r, "flip_rate"))
        })
        .collect()
}

#[test]
fn steering_along_the_planted_sentiment_cav_flips_toy_sentiment_monotonically() {
    let c = concepts_dir();
    let c = c.display();
    let (dir, file) = write(&format!(
        r#"[experiment]
name = "steer"
seed = 5
model = "toy-sentiment"

[concepts.praise]
file = '{c}/praise.txt'

[random]
file = '{c}/random.txt'
sets = 2
size = 50

# Negative reviews, steered along praise (its CAV against the random pool).
[[steering]]
inputs = {{ template = "{REVIEW}", vars = {negative} }}
concept = "praise"
layers = [0, 1]
site = "resid_pre"
alphas = [-2, -1, -0.5, 0.1, 0.2, 0.3, 0.4, 0.6, 0.8, 1, 1.5, 2]
target = {{ class = "positive" }}
"#,
        negative = review_vars(NEGATIVE),
    ));
    let run = run_experiment(&file, &dir.path().join("run"), &[]);
    let summary = Csv::read(&run.join("tables/steering_summary.csv"));
    let rates = flip_rates(&summary);
    for layer in [0, 1] {
        let side = |positive: bool| -> Vec<f64> {
            let mut cells: Vec<(i64, f64)> = (rates.iter())
                .filter(|((l, a), _)| *l == layer && (*a >= 0) == positive)
                .map(|((_, a), r)| (a.abs(), *r))
                .collect();
            cells.sort_by_key(|c| c.0);
            cells.into_iter().map(|c| c.1).collect()
        };
        let up = side(true);
        assert_eq!(up[0], 0.0, "α = 0 flips nothing");
        assert!(
            up.windows(2).all(|w| w[1] >= w[0]),
            "layer {layer}: flip rate not monotone in α: {up:?}"
        );
        assert!(up.first() < up.last(), "layer {layer}: {up:?}");
        assert_eq!(*up.last().unwrap(), 1.0, "layer {layer}: {up:?}");
        let down = side(false);
        assert!(down.windows(2).all(|w| w[1] >= w[0]), "{down:?}");
    }
    // The sweep really passes through partial flips (the rise is not one step at α = 0).
    assert!(
        rates.values().any(|&r| r > 0.0 && r < 1.0),
        "no partial flip rate in {rates:?}"
    );

    // α = 0 is the unsteered model: nothing moves.
    let rows = Csv::read(&run.join("tables/steering.csv"));
    let baseline: Vec<&Vec<String>> = (rows.rows.iter())
        .filter(|r| rows.num(r, "alpha") == 0.0)
        .collect();
    assert_eq!(baseline.len(), 2 * 3 * 4 * 8 * 2 * 8);
    for row in baseline {
        assert!(!rows.bool(row, "flipped"));
        assert_eq!(rows.num(row, "delta_p"), 0.0);
        assert_eq!(rows.num(row, "kl"), 0.0);
        assert_eq!(rows.get(row, "predicted"), "negative");
    }

    // The activation-space counterfactual: every negative review turns positive at some α > 0
    // within the bound (2, the largest |α|); the nearest flip is reported.
    let flips = Csv::read(&run.join("tables/steering_flips.csv"));
    assert_eq!(flips.rows.len(), 2 * 3 * 4 * 8 * 2 * 8);
    for row in &flips.rows {
        let up = flips.num(row, "flip_alpha_positive");
        let down = flips.num(row, "flip_alpha_negative");
        assert!(up > 0.0 && up <= 2.0, "{row:?}");
        let nearest = if down.is_nan() || up <= -down {
            up
        } else {
            down
        };
        assert_eq!(flips.num(row, "flip_alpha"), nearest);
    }
    let report = fs::read_to_string(run.join("report.html")).unwrap();
    assert!(report.contains("<h2>Steering</h2>") && report.contains("concept:praise"));

    // The report re-renders from the tables byte for byte.
    fs::write(run.join("report.html"), "stale").unwrap();
    let out = run_cavern(["report".as_ref(), run.as_os_str()]);
    assert_exit(&out, 0);
    assert_eq!(fs::read_to_string(run.join("report.html")).unwrap(), report);
}

#[test]
fn leace_erasure_of_the_planted_concept_leaves_a_fresh_probe_at_chance() {
    let c = concepts_dir();
    let (dir, file) = write(&format!(
        r#"[experiment]
name = "erase"
seed = 2
model = "toy-sentiment"

# The planted concept (a positive word) against sentences that differ only in having a
# negative one: 1536 of each.
[concepts.praise]
template = "{REVIEW}"
vars = {positive}

[random]
template = "{REVIEW}"
vars = {negative}
sets = 2
size = 50

[[erasure]]
concept = "praise"
layer = 0
inputs = '{c}/positive_inputs.txt'
"#,
        positive = review_vars(POSITIVE),
        negative = review_vars(NEGATIVE),
        c = c.display(),
    ));
    // Three seeds: three different splits and CAV fits.
    for seed in ["2", "3", "4"] {
        let out = dir.path().join(format!("run-{seed}"));
        let run = run_experiment(&file, &out, &["--seed", seed]);
        let table = Csv::read(&run.join("tables/erasure.csv"));
        let row = |method: &str| {
            (table.rows.iter())
                .find(|r| table.get(r, "method") == method)
                .unwrap_or_else(|| panic!("no {method} row in {:?}", table.rows))
        };
        let leace = row("leace");
        assert_eq!(table.num(leace, "n_per_class"), 1536.0);
        assert_eq!(table.num(leace, "rank"), 1.0);
        assert_eq!(table.get(leace, "covariance"), "sample");
        let before = table.num(leace, "probe_before");
        let after = table.num(leace, "probe_after");
        assert!(before > 0.95, "seed {seed}: before erasure {before}");
        assert!(
            (after - 0.5).abs() <= 0.05,
            "seed {seed}: after LEACE {after}"
        );
        let ablated = row("project_out");
        assert_eq!(table.num(ablated, "probe_before"), before, "same split");
        // Without a [head] there is no labelled task to score.
        assert!(table.num(leace, "task_accuracy_before").is_nan());
        for r in &table.rows {
            let agreement = table.num(r, "agreement");
            assert!((0.0..=1.0).contains(&agreement));
            let (tv, delta) = (
                table.num(r, "mean_total_variation"),
                table.num(r, "mean_abs_delta_p"),
            );
            assert!(tv >= delta / 2.0);
        }
    }
}

#[test]
fn swapping_a_negation_flips_every_minimal_pair_and_swapping_a_noun_none() {
    let (dir, file) = write(
        r#"[experiment]
name = "edits"
model = "toy-sentiment"

[[counterfactual]]
template = "the {{ noun }} was {{ neg }} {{ adj }}"
vars = { noun = ["film", "meal", "book"], neg = ["not", "really"], adj = ["good", "awful"] }
target = { class = "positive" }
"#,
    );
    let run = run_experiment(&file, &dir.path().join("run"), &[]);
    let rows = Csv::read(&run.join("tables/counterfactuals.csv"));
    // 12 texts, each with 2 + 1 + 1 one-slot edits.
    assert_eq!(rows.rows.len(), 12 * 4);
    for row in &rows.rows {
        let flipped = rows.bool(row, "flipped");
        match rows.get(row, "slot") {
            "noun" => assert!(!flipped, "{row:?}"),
            _ => assert!(flipped, "{row:?}"),
        }
        let delta = rows.num(row, "p_after") - rows.num(row, "p_before");
        assert!((delta - rows.num(row, "delta_p")).abs() < 1e-12);
    }
    let edited = (rows.rows.iter())
        .find(|r| rows.get(r, "base") == "the film was not good" && rows.get(r, "slot") == "neg")
        .expect("an edit of `the film was not good`");
    assert_eq!(rows.get(edited, "edited"), "the film was really good");
    assert_eq!(rows.get(edited, "predicted_before"), "negative");
    assert_eq!(rows.get(edited, "predicted_after"), "positive");
    let summary = Csv::read(&run.join("tables/counterfactual_summary.csv"));
    assert_eq!(summary.rows.len(), 3 * 2 + 2 + 2);
}

/// A safetensors file holding one F32 tensor `name` of `shape`.
fn safetensors_file(path: &Path, name: &str, shape: Vec<usize>, values: &[f32]) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let view =
        safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape, &bytes).unwrap();
    fs::write(path, safetensors::serialize([(name, view)], None).unwrap()).unwrap();
}

#[test]
fn a_saved_vector_steers_a_decoder_with_greedy_continuations() {
    let dir = tempfile::tempdir().unwrap();
    let vector: Vec<f32> = (0..32).map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0).collect();
    safetensors_file(
        &dir.path().join("v.safetensors"),
        "directions",
        vec![1, 32],
        &vector,
    );
    let file = dir.path().join("experiment.toml");
    fs::write(
        &file,
        r#"[experiment]
name = "recall"
model = "toy-recall"

[[steering]]
inputs = { examples = ["a b c d e f =", "k l m n o p ="] }
vector = "v.safetensors"
layers = [0]
alphas = [-4, 4]
positions = "last"
continue = 3
"#,
    )
    .unwrap();
    let run = run_experiment(&file, &dir.path().join("run"), &[]);
    let rows = Csv::read(&run.join("tables/steering.csv"));
    assert_eq!(rows.rows.len(), 2 * 3);
    for row in &rows.rows {
        assert_eq!(rows.get(row, "vector"), "file:v.safetensors");
        let continuation = rows.get(row, "continuation");
        assert_eq!(continuation.split(' ').count(), 3, "{row:?}");
        if rows.num(row, "alpha") == 0.0 {
            assert_eq!(rows.num(row, "top_k_changed"), 0.0);
            assert_eq!(rows.num(row, "kl"), 0.0);
            // Greedy continuation starts with the unsteered prediction.
            assert!(continuation.starts_with(rows.get(row, "predicted")));
        } else {
            assert!(rows.num(row, "kl") > 0.0, "{row:?}");
        }
    }

    // A vector of the wrong width is refused when the model runs, naming the file.
    safetensors_file(
        &dir.path().join("v.safetensors"),
        "directions",
        vec![3],
        &[1.0; 3],
    );
    let out = run_cavern([
        "run".as_ref(),
        file.as_os_str(),
        "--quiet".as_ref(),
        "--out".as_ref(),
        dir.path().join("run2").as_os_str(),
    ]);
    assert_no_panic(&out);
    assert!(!out.status.success(), "{}", describe(&out));
    let err = stderr(&out);
    assert!(
        err.contains("v.safetensors") && err.contains("[32]"),
        "{}",
        describe(&out)
    );
}

/// `cavern validate` rejects `text` (exit 2) with a diagnostic at `line:col` saying `says`.
fn rejected(text: &str, line: usize, col: usize, says: &[&str]) {
    let (_dir, file) = write(text);
    let out = run_cavern(["validate".as_ref(), file.as_os_str()]);
    assert_exit(&out, 2);
    assert_no_panic(&out);
    let err = stderr(&out);
    let location = format!("--> {}:{line}:{col}", file.display());
    assert!(err.contains(&location), "expected `{location}` in:\n{err}");
    for fragment in says {
        assert!(err.contains(fragment), "expected `{fragment}` in:\n{err}");
    }
}

const HEADER: &str = r#"[experiment]
name = "bad"
model = "toy-sentiment"

[concepts.praise]
examples = ["good", "great", "superb", "lovely", "wonderful", "excellent"]
"#;

#[test]
fn invalid_steering_erasure_and_counterfactual_tables_are_reported_where_they_are() {
    let steering = |body: &str| {
        format!("{HEADER}\n[[steering]]\ninputs = {{ examples = [\"it was bad\"] }}\n{body}")
    };
    // Line 10 is the first line of `body`.
    rejected(
        &steering("concept = \"praise\"\nlayers = [0]\nalphas = [1]\n"),
        10,
        11,
        &[
            "trains a CAV against the [random] pool",
            "add a [random] table",
        ],
    );
    rejected(
        &steering("concept = \"prase\"\nlayers = [0]\nalphas = [1]\n"),
        10,
        11,
        &["unknown concept `prase`", "did you mean `praise`?"],
    );
    rejected(
        &steering("vector = \"missing.safetensors\"\nlayers = [0]\nalphas = [1]\n"),
        10,
        10,
        &["vector file", "missing.safetensors", "does not exist"],
    );
    rejected(
        &steering("layers = [0]\nalphas = [1]\n"),
        8,
        1,
        &["exactly one of `concept`, `contrast` or `vector`"],
    );
    let contrast = "contrast = { positive = \"praise\", negative = [] }\nlayers = [0]\n";
    rejected(
        &steering(&format!("{contrast}alphas = [1, 1]\n")),
        10,
        46,
        &["`negative` in `contrast` of [[steering]] is empty"],
    );
    let contrast = "contrast = { positive = \"praise\", negative = [\"bad\"] }\n";
    rejected(
        &steering(&format!("{contrast}layers = [0]\nalphas = [1, 1]\n")),
        12,
        14,
        &["α = 1 is listed twice"],
    );
    rejected(
        &steering(&format!(
            "{contrast}layers = [0]\nalphas = [1]\nsite = \"mlp_post\"\n"
        )),
        13,
        8,
        &["not as wide as the residual stream", "resid_post"],
    );
    rejected(
        &steering(&format!(
            "{contrast}layers = [0]\nalphas = [1]\ncontinue = 5\n"
        )),
        13,
        12,
        &["`continue` in [[steering]] needs a decoder"],
    );
    rejected(
        &steering(&format!(
            "{contrast}layers = [0]\nalphas = [1]\npositons = \"last\"\n"
        )),
        13,
        1,
        &["unknown key `positons`", "did you mean `positions`?"],
    );
    rejected(
        &format!(
            "{HEADER}\n[[erasure]]\nconcept = \"praise\"\nlayer = 0\ninputs = {{ examples = [\"a\"] }}\nmethods = [\"leace\", \"lease\"]\n"
        ),
        12,
        21,
        &["unknown method `lease`", "did you mean `leace`?"],
    );
    rejected(
        &format!(
            "{HEADER}\n[[counterfactual]]\ntemplate = \"the {{{{ noun }}}} was good\"\nvars = {{ noun = [\"film\"] }}\n"
        ),
        10,
        8,
        &["slot `noun` in [[counterfactual]] has one value"],
    );
}

#[test]
fn scripts_in_steered_inputs_and_slot_values_reach_the_report_as_text() {
    let (dir, file) = write(
        r#"[experiment]
name = "evil"
model = "toy-sentiment"

[[steering]]
inputs = { examples = ["the film was <script>alert(1)</script> bad"] }
contrast = { positive = ["it was good"], negative = ["it was bad"] }
layers = [1]
alphas = [1]

[[counterfactual]]
template = "the film was {{ adj }}"
vars = { adj = ["good", "<script>alert(2)</script>"] }
"#,
    );
    let run = run_experiment(&file, &dir.path().join("run"), &[]);
    let html = fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.contains("<h2>Steering</h2>") && html.contains("<h2>Counterfactual edits</h2>"));
    assert!(
        html.contains("&lt;script&gt;alert(1)"),
        "the input is shown"
    );
    assert!(
        html.contains("&lt;script&gt;alert(2)"),
        "the slot value is shown"
    );
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
}
