//! `[[patching]]` and `[[pruning]]` end to end on the built-in `toy-recall` decoder (the answer
//! is a copy of the symbol at position 1), and the errors of badly written studies.

mod common;

use common::{
    Csv, assert_exit, assert_no_panic, cavern, entries, run_cavern, run_experiment, stderr,
};
use std::fs;
use std::path::{Path, PathBuf};

const EXPERIMENT: &str = "experiments/toy_recall_interventions.toml";

fn run(out: &Path) -> PathBuf {
    run_experiment(Path::new(EXPERIMENT), out, &[])
}

/// The `recovered` value of a `patching` row.
fn recovered(table: &Csv, direction: &str, site: &str, layer: usize, position: usize) -> f64 {
    let row = table
        .rows
        .iter()
        .find(|r| {
            table.get(r, "direction") == direction
                && table.get(r, "site") == site
                && table.get(r, "layer") == layer.to_string()
                && table.get(r, "position") == position.to_string()
        })
        .unwrap_or_else(|| {
            panic!("no {direction} {site} row at layer {layer} position {position}")
        });
    table.num(row, "recovered")
}

#[test]
fn patching_locates_the_answer_and_pruning_ranks_the_heads() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&dir.path().join("run"));
    let tables = out.join("tables");
    let patching = Csv::read(&tables.join("patching.csv"));
    assert_eq!(patching.get(&patching.rows[1], "token"), "h");
    // Denoising: at layer 0 only the answer's position carries it.
    assert!(recovered(&patching, "denoise", "resid_pre", 0, 1) >= 0.9);
    for p in [0, 2, 3, 4, 5, 6] {
        assert!(recovered(&patching, "denoise", "resid_pre", 0, p).abs() <= 0.1);
    }
    // The only copying head is in layer 1: entering it, the answer is still at position 1.
    assert!(recovered(&patching, "denoise", "resid_pre", 1, 1) >= 0.9);
    assert!(recovered(&patching, "denoise", "resid_pre", 1, 6).abs() <= 0.1);
    // That head, 1.1, carries the whole answer; every other head carries none of it.
    for row in patching
        .rows
        .iter()
        .filter(|r| patching.get(r, "direction") == "denoise" && patching.get(r, "site") == "head")
    {
        let copier = patching.get(row, "layer") == "1" && patching.get(row, "head") == "1";
        let value = patching.num(row, "recovered");
        assert!(if copier {
            value >= 0.9
        } else {
            value.abs() <= 0.1
        });
    }
    // Noising the answer's position at layer 0 destroys the clean behaviour.
    assert!(recovered(&patching, "noise", "resid_pre", 0, 1) <= 0.1);

    let summary = Csv::read(&tables.join("patching_summary.csv"));
    assert_eq!(summary.rows.len(), 8, "2 directions x 4 sites");
    for row in &summary.rows {
        assert!(summary.num(row, "variants_run") <= summary.num(row, "variants"));
    }
    let resid = summary
        .rows
        .iter()
        .find(|r| summary.get(r, "direction") == "denoise" && summary.get(r, "site") == "resid_pre")
        .unwrap();
    assert!(summary.num(resid, "correlation") > 0.7);
    assert!(summary.num(resid, "variants_run") < summary.num(resid, "variants"));
    let pairs = Csv::read(&tables.join("patching_pairs.csv"));
    assert_eq!(pairs.rows.len(), 36, "3 x 4 x 3 combinations, all distinct");

    let heads = Csv::read(&tables.join("pruning_heads.csv"));
    assert_eq!(heads.rows.len(), 8);
    let costliest = heads
        .rows
        .iter()
        .min_by(|a, b| {
            heads
                .num(a, "metric_change")
                .total_cmp(&heads.num(b, "metric_change"))
        })
        .unwrap();
    let most_important = heads
        .rows
        .iter()
        .max_by(|a, b| {
            heads
                .num(a, "importance")
                .total_cmp(&heads.num(b, "importance"))
        })
        .unwrap();
    assert_eq!(costliest, most_important);
    // Zeroing the copying head leaves the model at chance; zeroing any other costs nothing.
    assert_eq!(
        (heads.get(costliest, "layer"), heads.get(costliest, "head")),
        ("1", "1")
    );
    for row in &heads.rows {
        let accuracy = heads.num(row, "accuracy");
        assert!(if row == costliest {
            accuracy < 0.15
        } else {
            accuracy > 0.95
        });
    }
    let curve = Csv::read(&tables.join("pruning_curve.csv"));
    let accuracy: Vec<f64> = curve
        .rows
        .iter()
        .map(|r| curve.num(r, "accuracy"))
        .collect();
    assert_eq!(accuracy.len(), 5);
    assert!(accuracy[0] > 0.95 && accuracy[4] < 0.2, "{accuracy:?}");

    let report = fs::read_to_string(out.join("report.html")).unwrap();
    assert!(report.contains("<h2>Activation patching</h2>"));
    assert!(report.contains("<h2>Head ablation and pruning</h2>"));
    let rerender = run_cavern(["report".as_ref(), out.as_os_str()]);
    assert_exit(&rerender, 0);
    assert_eq!(fs::read_to_string(out.join("report.html")).unwrap(), report);

    let again = run(&dir.path().join("again"));
    for table in ["patching.csv", "pruning_heads.csv", "pruning_curve.csv"] {
        let read = |run: &Path| fs::read(run.join("tables").join(table)).unwrap();
        assert_eq!(read(&out), read(&again), "{table} differs between runs");
    }
}

/// Writes an experiment on `toy-recall` with `study` appended and returns (dir, path).
fn experiment(study: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("experiment.toml");
    let text = format!("[experiment]\nname = \"bad\"\nmodel = \"toy-recall\"\n\n{study}");
    fs::write(&path, text).unwrap();
    (dir, path)
}

/// `cavern validate` rejects the study with a diagnostic at `line:col` saying `says`.
fn rejected(study: &str, line: usize, col: usize, says: &str) {
    let (_dir, path) = experiment(study);
    let out = cavern().arg("validate").arg(&path).output().unwrap();
    assert_exit(&out, 2);
    assert_no_panic(&out);
    let err = stderr(&out);
    let location = format!("--> {}:{line}:{col}", path.display());
    assert!(err.contains(&location), "expected {location} in:\n{err}");
    assert!(err.contains(says), "expected `{says}` in:\n{err}");
}

const PAIR: &str = "[[patching]]\nclean = \"a b c d e f =\"\ncorrupted = \"a g c d e f =\"\n";

#[test]
fn badly_written_studies_are_rejected_where_they_are_wrong() {
    rejected(
        &format!("{PAIR}metric = {{ logprob = \"b\", kl = true }}\n"),
        8,
        10,
        "must have exactly one of `logit_diff`, `logprob`, `class_prob` or `kl`",
    );
    rejected(
        &format!("{PAIR}metric = {{ logit_diff = [\"b\"] }}\n"),
        8,
        25,
        "takes two tokens, found 1",
    );
    rejected(
        &format!("{PAIR}metric = {{ logprob = \"zz\" }}\nsites = [\"resid\"]\n"),
        8,
        22,
        "token \"zz\" is not in the vocabulary",
    );
    rejected(
        &format!("{PAIR}metric = {{ logprob = \"b\" }}\nsites = [\"heads\"]\n"),
        9,
        10,
        "did you mean `head`?",
    );
    rejected(
        &format!("{PAIR}metric = {{ class_prob = \"positive\" }}\n"),
        8,
        25,
        "is a decoder",
    );
    rejected(
        &format!("{PAIR}metric = {{ logprob = \"b\" }}\nalign_last = 0\n"),
        9,
        14,
        "`align_last` in [[patching]] must be at least 1, found 0",
    );
    rejected(
        "[[pruning]]\nprompts = \"{{ x }} b c d e f =\"\nmetric = { logprob = \"b\" }\n",
        6,
        11,
        "undefined variable `x`",
    );
    rejected(
        "[[pruning]]\nprompts = \"a b c d e f =\"\nmetric = { kl = true }\nmethod = \"average\"\n",
        8,
        10,
        "unknown method `average`",
    );
}

#[test]
fn pairs_of_different_lengths_stop_the_run_and_name_the_pair() {
    let (dir, path) = experiment(
        "[[patching]]\nclean = \"a b c d e f =\"\ncorrupted = \"a b c d e f f =\"\nmetric = { kl = true }\n",
    );
    let run_dir = dir.path().join("run");
    let out = cavern()
        .args(["run", "--quiet"])
        .arg(&path)
        .arg("--out")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_no_panic(&out);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("pair 0 tokenizes to 7 clean and 8 corrupted tokens"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("align_last"), "{}", stderr(&out));
    assert!(!run_dir.exists());
    assert_eq!(entries(dir.path()), ["experiment.toml"]);
}

/// toy-recall copies the sixth token from the end, so with a symbol prepended to the corrupted
/// prompts and `align_last = 6`, the answer is the first aligned position in both prompts.
#[test]
fn aligned_pairs_of_different_lengths_locate_the_answer_from_the_end() {
    let (dir, path) = experiment(
        "[[patching]]\n\
         clean = \"{{ s0 }} {{ s1 }} c d e f =\"\n\
         corrupted = \"g {{ s0 }} {{ other }} c d e f =\"\n\
         vars = { s0 = [\"a\", \"b\"], s1 = [\"h\", \"i\"], other = [\"l\", \"m\"] }\n\
         metric = { logit_diff = [\"{{ s1 }}\", \"{{ other }}\"] }\n\
         align_last = 6\n",
    );
    let out = run_experiment(&path, &dir.path().join("run"), &[]);
    let patching = Csv::read(&out.join("tables").join("patching.csv"));
    assert_eq!(
        patching.rows.len(),
        2 * 6,
        "two layers, six aligned positions"
    );
    let tokens: Vec<&str> = patching.rows[..6]
        .iter()
        .map(|r| patching.get(r, "token"))
        .collect();
    assert_eq!(tokens, ["h", "c", "d", "e", "f", "="]);
    for layer in [0, 1] {
        assert!(recovered(&patching, "denoise", "resid_pre", layer, 0) >= 0.9);
        for p in 1..6 {
            assert!(recovered(&patching, "denoise", "resid_pre", layer, p).abs() <= 0.1);
        }
    }
}

/// On the `toy-sentiment` encoder the two prompts differ in one word: at layer 0 patching that
/// position makes the corrupted input the clean one (recovered exactly 1), and every other
/// position is unchanged (recovered 0, not even run).
#[test]
fn encoder_patching_with_a_class_probability() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("experiment.toml");
    fs::write(
        &path,
        "[experiment]\nname = \"sentiment-patching\"\nmodel = \"toy-sentiment\"\n\n[[patching]]\n\
         clean = \"the {{ noun }} was {{ good }}\"\ncorrupted = \"the {{ noun }} was {{ bad }}\"\n\
         vars = { noun = [\"film\", \"meal\"], good = [\"good\", \"lovely\"], bad = [\"awful\", \"dull\"] }\n\
         metric = { class_prob = \"positive\" }\nlayers = [0, 1]\nsites = [\"resid_pre\", \"head\"]\n",
    )
    .unwrap();
    let out = run_experiment(&path, &dir.path().join("run"), &[]);
    let patching = Csv::read(&out.join("tables/patching.csv"));
    let word = patching.get(&patching.rows[3], "token").to_string();
    assert_eq!(word, "good");
    assert!((recovered(&patching, "denoise", "resid_pre", 0, 3) - 1.0).abs() < 1e-6);
    for p in 0..3 {
        assert_eq!(recovered(&patching, "denoise", "resid_pre", 0, p), 0.0);
    }
    let pairs = Csv::read(&out.join("tables/patching_pairs.csv"));
    for row in &pairs.rows {
        assert!(pairs.num(row, "metric_clean") > 0.9 && pairs.num(row, "metric_corrupted") < 0.1);
    }
}
