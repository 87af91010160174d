//! The CLI's reference output: schema, help, model list, and device errors.

mod common;

use common::{assert_exit, assert_no_panic, repo_root, run_cavern, stdout};
use std::fs;

#[test]
fn schema_prints_docs_schema_md_byte_for_byte() {
    let out = run_cavern(["schema"]);
    assert_exit(&out, 0);
    let docs = fs::read(repo_root().join("docs/schema.md")).unwrap();
    assert!(
        String::from_utf8_lossy(&docs).contains("[[tcav]]"),
        "docs/schema.md does not look like the reference"
    );
    assert!(
        out.stdout == docs,
        "`cavern schema` differs from docs/schema.md; regenerate the docs with \
         `cavern schema > docs/schema.md`"
    );
}

#[test]
fn help_mentions_the_exit_codes() {
    let out = run_cavern(["--help"]);
    assert_exit(&out, 0);
    let help = stdout(&out);
    assert!(help.to_lowercase().contains("exit codes"), "{help}");
    for code in ["0 success", "1 failure", "2 invalid input"] {
        assert!(help.contains(code), "`{code}` missing from --help:\n{help}");
    }
}

#[test]
fn models_list_shows_the_toy_models_with_their_accuracy() {
    let out = run_cavern(["models", "list"]);
    assert_exit(&out, 0);
    assert_no_panic(&out);
    let text = stdout(&out);
    for name in ["toy-sentiment", "toy-recall"] {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("`{name}` is not listed:\n{text}"));
        let (_, after) = line
            .split_once("held-out accuracy")
            .unwrap_or_else(|| panic!("no held-out accuracy for {name}: {line}"));
        let accuracy: f64 = after
            .split_whitespace()
            .next()
            .and_then(|a| a.trim_end_matches(',').parse().ok())
            .unwrap_or_else(|| panic!("cannot read the accuracy in: {line}"));
        assert!(
            (0.99..=1.0).contains(&accuracy),
            "{name} held-out accuracy {accuracy} < 0.99"
        );
    }
}

/// Asserts a run was refused for want of CUDA, with no run folder.
#[cfg(not(feature = "cuda"))]
fn assert_refused_for_cuda(out: &std::process::Output, parent: &std::path::Path) {
    assert_exit(out, 2);
    assert_no_panic(out);
    let err = common::stderr(out);
    assert!(
        err.contains("--features cuda"),
        "the message does not say how to get CUDA\n{}",
        common::describe(out)
    );
    assert!(
        common::entries(parent).is_empty(),
        "a run folder was written: {:?}",
        common::entries(parent)
    );
}

#[cfg(not(feature = "cuda"))]
#[test]
fn device_cuda_without_the_cuda_feature_is_invalid_input() {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");

    // From the command line.
    let out = common::cavern()
        .args(["run", "experiments/quickstart.toml", "--quiet"])
        .args(["--device", "cuda", "--out"])
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_refused_for_cuda(&out, tmp.path());

    // From the experiment file.
    let quickstart = fs::read_to_string(repo_root().join("experiments/quickstart.toml")).unwrap();
    let concepts = format!("{}/", repo_root().join("concepts").display());
    let model_line = "model = \"toy-sentiment\"\n";
    assert_eq!(quickstart.matches(model_line).count(), 1);
    let text = quickstart
        .replace("../concepts/", &concepts)
        .replace(model_line, &format!("{model_line}device = \"cuda\"\n"));
    let exp_dir = tempfile::tempdir().unwrap();
    let file = exp_dir.path().join("cuda.toml");
    fs::write(&file, text).unwrap();
    let out = common::cavern()
        .args(["run", "--quiet"])
        .arg(&file)
        .arg("--out")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_refused_for_cuda(&out, tmp.path());
}
