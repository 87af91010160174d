//! Malformed experiment files: exit code 2, a rustc-style diagnostic pointing
//! at the offending spot, no panic, and no run folder.

mod common;

use common::{
    assert_exit, assert_no_panic, cavern, concepts_dir, describe, entries, run_cavern, stderr,
    stdout,
};
use std::fs;
use std::path::{Path, PathBuf};

/// A valid experiment on toy-sentiment. Every case below edits one line of
/// it, so the expected line numbers refer to this layout. Paths are TOML
/// literal strings (no escapes) holding absolute paths to the concept sets.
fn base_experiment() -> String {
    let dir = concepts_dir();
    let c = dir.display();
    format!(
        r#"[experiment]
name = "bad"
seed = 1
model = "toy-sentiment"

[concepts.praise]
file = '{c}/praise.txt'

[concepts.colour]
file = '{c}/colour.txt'

[random]
file = '{c}/random.txt'
sets = 10
size = 50

[[tcav]]
target = {{ class = "positive" }}
inputs = '{c}/positive_inputs.txt'
concepts = ["praise", "colour"]
layers = "all"
site = "resid_pre"
"#
    )
}

/// One malformed variant of [`base_experiment`].
struct Case {
    /// Text replaced (must occur exactly once in the base experiment) ...
    replace: &'static str,
    /// ... by this.
    with: &'static str,
    /// Expected 1-based line and column of the diagnostic.
    line: usize,
    col: usize,
    /// What the file holds at that position.
    at: &'static str,
    /// Fragments the diagnostic must contain (message, help).
    says: &'static [&'static str],
}

/// Writes the experiment text into a fresh temp dir and returns (dir, path).
fn write_experiment(text: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("experiment.toml");
    fs::write(&path, text).unwrap();
    (dir, path)
}

/// Runs `cavern run FILE --out OUT_PARENT/run` with the environment variables `env`, asserts
/// it is rejected as invalid input with no run folder, and returns its standard error.
fn rejected_run(file: &Path, env: &[(&str, &str)]) -> String {
    let out_parent = tempfile::tempdir().unwrap();
    let run_dir = out_parent.path().join("run");
    let out = cavern()
        .envs(env.iter().copied())
        .args(["run", "--quiet"])
        .arg(file)
        .arg("--out")
        .arg(&run_dir)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert_no_panic(&out);
    assert!(!run_dir.exists(), "a run folder was created");
    assert!(
        entries(out_parent.path()).is_empty(),
        "the output's parent folder is not empty: {:?}",
        entries(out_parent.path())
    );
    stderr(&out)
}

/// Runs `cavern validate FILE` with the environment variables `env`, asserts exit code 2 and
/// no panic, and returns its standard error.
fn rejected_validate(file: &Path, env: &[(&str, &str)]) -> String {
    let out = cavern()
        .envs(env.iter().copied())
        .arg("validate")
        .arg(file)
        .output()
        .unwrap();
    assert_exit(&out, 2);
    assert_no_panic(&out);
    stderr(&out)
}

fn check(case: &Case) {
    check_with(case, &[]);
}

/// [`check`] with the environment variables `env` set for `cavern`.
fn check_with(case: &Case, env: &[(&str, &str)]) {
    let base = base_experiment();
    assert_eq!(
        base.matches(case.replace).count(),
        1,
        "test bug: `{}` must occur once in the base experiment",
        case.replace
    );
    let text = base.replace(case.replace, case.with);
    // Test self-check: the expected position holds the expected text.
    let line = text.lines().nth(case.line - 1).unwrap();
    assert!(
        line[case.col - 1..].starts_with(case.at),
        "test bug: {}:{} of the experiment is not `{}` in `{line}`",
        case.line,
        case.col,
        case.at
    );

    let (exp_dir, file) = write_experiment(&text);
    let err = rejected_run(&file, env);
    assert!(
        err.starts_with("error: "),
        "the diagnostic does not start with `error: `:\n{err}"
    );
    let location = format!("--> {}:{}:{}", file.display(), case.line, case.col);
    assert!(
        err.contains(&location),
        "expected `{location}` in the diagnostic:\n{err}"
    );
    for fragment in case.says {
        assert!(
            err.contains(fragment),
            "expected `{fragment}` in the diagnostic:\n{err}"
        );
    }
    // Nothing was written next to the experiment file either.
    assert_eq!(entries(exp_dir.path()), ["experiment.toml"]);

    // `validate` rejects it with the very same diagnostic.
    assert_eq!(
        rejected_validate(&file, env),
        err,
        "validate and run disagree on the diagnostic"
    );
}

#[test]
fn the_base_experiment_is_valid() {
    // Guards the cases below: each fails only because of its one edit.
    let (_dir, file) = write_experiment(&base_experiment());
    let out = cavern().arg("validate").arg(&file).output().unwrap();
    assert_exit(&out, 0);
    assert!(stdout(&out).contains("ok"), "{}", describe(&out));
}

#[test]
fn bad_toml_syntax() {
    check(&Case {
        replace: "seed = 1",
        with: "seed = = 1",
        line: 3,
        col: 8,
        at: "= 1",
        says: &["error: invalid TOML"],
    });
}

#[test]
fn unterminated_string() {
    check(&Case {
        replace: "name = \"bad\"",
        with: "name = \"bad",
        line: 2,
        col: 12,
        at: "",
        says: &["error: invalid TOML"],
    });
}

#[test]
fn unknown_key_suggests_the_right_one() {
    check(&Case {
        replace: "name = \"bad\"",
        with: "nmae = \"bad\"",
        line: 2,
        col: 1,
        at: "nmae",
        says: &["unknown key `nmae`", "did you mean `name`?"],
    });
}

#[test]
fn missing_concept_file() {
    check(&Case {
        replace: "colour.txt",
        with: "no-such-file.txt",
        line: 10,
        col: 8,
        at: "'",
        says: &["cannot read", "no-such-file.txt", "[concepts.colour]"],
    });
}

#[test]
fn unknown_concept_in_tcav_suggests_the_right_one() {
    check(&Case {
        replace: "concepts = [\"praise\", \"colour\"]",
        with: "concepts = [\"praise\", \"colour\", \"prase\"]",
        line: 20,
        col: 33,
        at: "\"prase\"",
        says: &["unknown concept `prase`", "did you mean `praise`?"],
    });
}

#[test]
fn layer_out_of_range() {
    // toy-sentiment has 2 layers: 0 and 1.
    check(&Case {
        replace: "layers = \"all\"",
        with: "layers = [0, 2]",
        line: 21,
        col: 14,
        at: "2]",
        says: &["layer 2 is out of range", "2 layers"],
    });
}

#[test]
fn influence_without_a_head_points_at_its_header() {
    check(&Case {
        replace: "[[tcav]]",
        with: "[[influence]]\ninputs = { examples = [\"x\"] }\n\n[[tcav]]",
        line: 17,
        col: 1,
        at: "[[influence]]",
        says: &[
            "[[influence]] needs a [head]",
            "add a [head] whose `classes`",
        ],
    });
}

#[test]
fn unknown_class_target_suggests_the_right_one() {
    check(&Case {
        replace: "class = \"positive\"",
        with: "class = \"positve\"",
        line: 18,
        col: 20,
        at: "\"positve\"",
        says: &["unknown class `positve`", "did you mean `positive`?"],
    });
}

#[test]
fn unknown_model_suggests_the_right_one() {
    check(&Case {
        replace: "model = \"toy-sentiment\"",
        with: "model = \"toy-sentimant\"",
        line: 4,
        col: 9,
        at: "\"toy-sentimant\"",
        says: &[
            "unknown model `toy-sentimant`",
            "did you mean `toy-sentiment`?",
        ],
    });
}

#[test]
fn a_count_above_its_bound_is_refused_before_anything_is_allocated() {
    // The quickstart with this many sets once asked for 2.4 TB and aborted.
    check(&Case {
        replace: "sets = 10",
        with: "sets = 99999999999",
        line: 14,
        col: 8,
        at: "99999999999",
        says: &[
            "`sets` in [random] must be at most 10000, found 99999999999",
            "`cavern schema` lists every count's bounds",
        ],
    });
}

#[test]
fn random_sets_beyond_the_memory_limit_are_refused_with_the_estimate() {
    check_with(
        &Case {
            replace: "sets = 10",
            with: "sets = 10000",
            line: 14,
            col: 8,
            at: "10000",
            says: &[
                "the [random] sets would take about 4.0 MB (10000 sets × 50 examples × 8 \
                 bytes), more than the memory limit of 1.0 MB (set by CAVERN_MEMORY_LIMIT)",
                "lower `sets` or `size` in [random]",
            ],
        },
        &[("CAVERN_MEMORY_LIMIT", "1M")],
    );
}

#[test]
fn activations_beyond_the_memory_limit_are_refused_at_their_set() {
    // toy-sentiment keeps 2 layers × 32 dimensions × 4 bytes per example: 256 bytes. The
    // 100 examples of each concept fit in 50 KB; the 400 of the pool do not.
    check_with(
        &Case {
            replace: "sets = 10",
            with: "sets = 10",
            line: 13,
            col: 8,
            at: "'",
            says: &[
                "the activations of the [random] pool would take about 102.4 KB (400 examples \
                 × 2 layers × 32 dimensions × 4 bytes), more than the memory limit of 51.2 KB",
                "use fewer examples",
            ],
        },
        &[("CAVERN_MEMORY_LIMIT", "50K")],
    );
}

#[test]
fn validate_accepts_the_quickstart() {
    let out = run_cavern(["validate", "experiments/quickstart.toml"]);
    assert_exit(&out, 0);
    assert_no_panic(&out);
    let text = stdout(&out);
    assert!(
        text.contains("experiments/quickstart.toml: ok"),
        "{}",
        describe(&out)
    );
}

/// The base experiment's last line, which the cases below extend with a study (from line 24).
const LAST_LINE: &str = "site = \"resid_pre\"";

#[test]
fn neighbors_unknown_key_suggests_the_right_one() {
    check(&Case {
        replace: LAST_LINE,
        with: "site = \"resid_pre\"\n\n[[neighbors]]\ninputs = { examples = [\"the film was good\"] }\nprotoypes = 2",
        line: 26,
        col: 1,
        at: "protoypes",
        says: &[
            "unknown key `protoypes` in [[neighbors]]",
            "did you mean `prototypes`?",
        ],
    });
}

#[test]
fn neighbors_unknown_concept_suggests_the_right_one() {
    check(&Case {
        replace: LAST_LINE,
        with: "site = \"resid_pre\"\n\n[[neighbors]]\ninputs = { examples = [\"the film was good\"] }\nconcepts = [\"prase\"]",
        line: 26,
        col: 13,
        at: "\"prase\"",
        says: &[
            "unknown concept `prase` in [[neighbors]]",
            "did you mean `praise`?",
        ],
    });
}

#[test]
fn neighbors_criticisms_need_prototypes() {
    check(&Case {
        replace: LAST_LINE,
        with: "site = \"resid_pre\"\n\n[[neighbors]]\ninputs = { examples = [\"the film was good\"] }\nprototypes = 0\ncriticisms = 3",
        line: 27,
        col: 14,
        at: "3",
        says: &[
            "`criticisms` in [[neighbors]] needs prototypes",
            "set `prototypes` to 1 or more",
        ],
    });
}

#[test]
fn neighbors_k_must_be_positive() {
    check(&Case {
        replace: LAST_LINE,
        with: "site = \"resid_pre\"\n\n[[neighbors]]\ninputs = { examples = [\"the film was good\"] }\nk = 0",
        line: 26,
        col: 5,
        at: "0",
        says: &["`k` in [[neighbors]] must be at least 1, found 0"],
    });
}

#[test]
fn unknown_flow_method_suggests_the_right_one() {
    check(&Case {
        replace: LAST_LINE,
        with: "site = \"resid_pre\"\n\n[[attention]]\ninputs = { examples = [\"the film was good\"] }\nlayers = [1]\nflow = [\"flow\", \"rolout\"]",
        line: 27,
        col: 17,
        at: "\"rolout\"",
        says: &["unknown flow method `rolout`", "did you mean `rollout`?"],
    });
}

#[test]
fn flow_method_listed_twice() {
    check(&Case {
        replace: LAST_LINE,
        with: "site = \"resid_pre\"\n\n[[attention]]\ninputs = { examples = [\"the film was good\"] }\nlayers = [1]\nflow = [\"flow\", \"flow\"]",
        line: 27,
        col: 17,
        at: "\"flow\"]",
        says: &[
            "flow method `flow` is listed twice in [[attention]]",
            "list it once",
        ],
    });
}

#[test]
fn lime_needs_enough_samples() {
    check(&Case {
        replace: LAST_LINE,
        with: "site = \"resid_pre\"\n\n[[attribution]]\ntarget = { class = \"positive\" }\ninputs = { examples = [\"the film was good\"] }\nmethods = [\"lime\"]\nsamples = 5",
        line: 28,
        col: 11,
        at: "5",
        says: &["`samples` in [[attribution]] must be at least 10, found 5"],
    });
}
