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

/// Asserts a run was refused in one line containing `needle`, with exit code 2 and no run folder.
fn assert_refused(out: &std::process::Output, parent: &std::path::Path, needle: &str) {
    assert_exit(out, 2);
    assert_no_panic(out);
    let err = common::stderr(out);
    assert!(
        err.contains(needle),
        "the message does not say `{needle}`\n{}",
        common::describe(out)
    );
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "more than one line\n{}",
        common::describe(out)
    );
    assert!(
        common::entries(parent).is_empty(),
        "a run folder was written: {:?}",
        common::entries(parent)
    );
}

/// Runs the quickstart on `device`, once with `--device` and once with `device = "..."` in the
/// experiment file, with `env` set, and asserts both are refused (see [`assert_refused`]).
fn assert_device_refused(device: &str, env: &[(&str, &str)], needle: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let run_dir = tmp.path().join("run");

    // From the command line.
    let out = common::cavern()
        .args(["run", "experiments/quickstart.toml", "--quiet"])
        .args(["--device", device, "--out"])
        .arg(&run_dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_refused(&out, tmp.path(), needle);

    // From the experiment file.
    let quickstart = fs::read_to_string(repo_root().join("experiments/quickstart.toml")).unwrap();
    let concepts = format!("{}/", repo_root().join("concepts").display());
    let model_line = "model = \"toy-sentiment\"\n";
    assert_eq!(quickstart.matches(model_line).count(), 1);
    let text = quickstart
        .replace("../concepts/", &concepts)
        .replace(model_line, &format!("{model_line}device = \"{device}\"\n"));
    let exp_dir = tempfile::tempdir().unwrap();
    let file = exp_dir.path().join(format!("{device}.toml"));
    fs::write(&file, text).unwrap();
    let out = common::cavern()
        .args(["run", "--quiet"])
        .arg(&file)
        .arg("--out")
        .arg(&run_dir)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_refused(&out, tmp.path(), needle);
}

#[cfg(not(feature = "cuda"))]
#[test]
fn device_cuda_without_the_cuda_feature_is_invalid_input() {
    assert_device_refused("cuda", &[], "--features cuda");
}

#[cfg(not(feature = "gpu"))]
#[test]
fn device_gpu_without_the_gpu_feature_is_invalid_input() {
    assert_device_refused("gpu", &[], "--features gpu");
}

/// With the Vulkan loader pointed at no driver, `--device gpu` finds no adapter and says how to
/// get one.
#[cfg(all(feature = "gpu", target_os = "linux"))]
#[test]
fn device_gpu_with_no_graphics_driver_is_invalid_input() {
    let no_driver = "/nonexistent/vulkan_icd.json";
    let env = [
        ("VK_DRIVER_FILES", no_driver),
        ("VK_ICD_FILENAMES", no_driver),
    ];
    assert_device_refused("gpu", &env, "no GPU adapter found");
}
