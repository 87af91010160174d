//! Working with run folders through the real `cavern` binary: `compare`, `report`, `runs`,
//! `--json` output, shell completions and the `.npy` copies of the CAVs.

mod common;

use common::{assert_exit, assert_no_panic, describe, run_cavern, run_quickstart, stderr, stdout};
use serde_json::Value;
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Parses standard output as JSON.
fn json_stdout(out: &std::process::Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", describe(out)))
}

#[test]
fn compare_finds_nothing_for_the_same_seed_and_the_moved_numbers_for_another() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_quickstart(&tmp.path().join("a"), &[]);
    let b = run_quickstart(&tmp.path().join("b"), &[]);
    let c = run_quickstart(&tmp.path().join("c"), &["--seed", "8"]);

    let same = run_cavern(["compare".as_ref(), a.as_os_str(), b.as_os_str()]);
    assert_exit(&same, 0);
    assert!(
        stdout(&same).contains("no differences"),
        "{}",
        describe(&same)
    );
    let same_json = run_cavern([
        "compare".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_exit(&same_json, 0);
    let report = json_stdout(&same_json);
    assert_eq!(report["differs"], false, "{report:#}");
    assert_eq!(
        report["manifest"],
        serde_json::json!([]),
        "timings must be ignored"
    );

    let other = run_cavern(["compare".as_ref(), a.as_os_str(), c.as_os_str()]);
    assert_exit(&other, 0);
    assert_no_panic(&other);
    let text = stdout(&other);
    assert!(!text.contains("no differences"), "{text}");
    assert!(text.contains("seed: 7 -> 8"), "no seed line:\n{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("table tcav") && l.contains("changed")),
        "no changed tcav table:\n{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains("target=class:positive") && l.contains(" -> ")),
        "no changed tcav cell listed:\n{text}"
    );

    let other_json = run_cavern([
        "compare".as_ref(),
        a.as_os_str(),
        c.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_exit(&other_json, 0);
    let report = json_stdout(&other_json);
    assert_eq!(report["differs"], true);
    let fields: Vec<&str> = report["manifest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["seed"], "only the seed differs in the manifests");
    let tables = report["tables"].as_array().unwrap();
    let changed = |name: &str| -> Vec<Value> {
        tables
            .iter()
            .find(|t| t["table"] == name)
            .unwrap_or_else(|| panic!("no table {name} in {report:#}"))["changed"]
            .as_array()
            .unwrap()
            .clone()
    };
    let tcav_changes: Vec<Value> = changed("tcav")
        .into_iter()
        .chain(changed("tcav_runs"))
        .collect();
    assert!(!tcav_changes.is_empty(), "no tcav/tcav_runs cell changed");
    for cell in &tcav_changes {
        let key = cell["key"].as_object().expect("key object");
        for column in ["concept", "target", "layer", "site"] {
            assert!(key.contains_key(column), "key lacks {column}: {cell}");
        }
        let (x, y) = (cell["a"].as_f64(), cell["b"].as_f64());
        if let (Some(x), Some(y)) = (x, y) {
            let difference = cell["difference"].as_f64().expect("numeric difference");
            assert!((difference - (y - x)).abs() < 1e-12, "{cell}");
        }
    }
    // Nothing is only in one run: the same experiment has the same rows.
    for table in tables {
        assert_eq!(table["only_in_a"], serde_json::json!([]), "{table}");
        assert_eq!(table["only_in_b"], serde_json::json!([]), "{table}");
    }
}

#[test]
fn compare_rejects_a_missing_or_invalid_run_folder_by_name() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-run");
    let not_a_run = tmp.path().join("empty");
    fs::create_dir(&not_a_run).unwrap();
    for bad in [&missing, &not_a_run] {
        let out = run_cavern(["compare".as_ref(), bad.as_os_str(), bad.as_os_str()]);
        assert_exit(&out, 2);
        assert_no_panic(&out);
        assert!(
            stderr(&out).contains(&*bad.to_string_lossy()),
            "the error does not name {}:\n{}",
            bad.display(),
            describe(&out)
        );
    }
}

#[test]
fn report_re_renders_the_runners_report_byte_for_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_quickstart(&tmp.path().join("run"), &[]);
    let original = fs::read(run.join("report.html")).unwrap();
    fs::write(run.join("report.html"), "stale").unwrap();

    let out = run_cavern(["report".as_ref(), run.as_os_str()]);
    assert_exit(&out, 0);
    assert_no_panic(&out);
    let rendered = fs::read(run.join("report.html")).unwrap();
    assert!(
        rendered == original,
        "`cavern report` differs from the report the run wrote"
    );
    assert_eq!(
        common::entries(&run),
        ["cavs", "manifest.json", "report.html", "tables"],
        "leftovers in the run folder"
    );

    // An experiment file that is not the one the run ran is refused.
    let other = tmp.path().join("other.toml");
    fs::write(&other, "# not the quickstart\n").unwrap();
    let out = run_cavern([
        "report".as_ref(),
        run.as_os_str(),
        "--experiment".as_ref(),
        other.as_os_str(),
    ]);
    assert_exit(&out, 2);
    assert!(stderr(&out).contains("SHA-256"), "{}", describe(&out));
    assert_eq!(fs::read(run.join("report.html")).unwrap(), original);
}

/// Sets a folder's modification time.
fn set_mtime(dir: &Path, secs_since_epoch: u64) {
    let time = SystemTime::UNIX_EPOCH + Duration::from_secs(secs_since_epoch);
    fs::File::open(dir)
        .and_then(|f| f.set_modified(time))
        .unwrap_or_else(|e| panic!("cannot set the time of {}: {e}", dir.display()));
}

#[test]
fn runs_lists_complete_runs_and_leftover_partial_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("runs");
    let run = run_quickstart(&root.join("quick"), &[]);
    // A run killed outright leaves its hidden `.NAME.partial-PID` folder; this PID is above any
    // Linux pid_max, so no live process owns it.
    let partial = root.join(".later.partial-4000000000");
    fs::create_dir_all(partial.join("tables")).unwrap();
    fs::create_dir(root.join("notes")).unwrap(); // no manifest: not a run
    set_mtime(&partial, 978_307_200); // 2001-01-01 00:00 UTC
    set_mtime(&run, 1_009_843_200 + 3_720); // 2002-01-01 01:02 UTC

    let out = run_cavern(["runs".as_ref(), "--runs-root".as_ref(), root.as_os_str()]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "header and two folders expected:\n{text}");
    assert!(lines[0].starts_with("NAME"), "{text}");
    let partial_line = lines[1];
    assert!(
        partial_line.starts_with(".later.partial-4000000000"),
        "{text}"
    );
    assert!(partial_line.contains("2001-01-01 00:00"), "{text}");
    assert!(
        partial_line.ends_with(
            "incomplete (interrupted run: `cavern run FILE --resume` continues it, or delete it)"
        ),
        "{text}"
    );
    let run_line = lines[2];
    for expected in [
        "quick",
        "2002-01-01 01:02",
        "toy-sentiment",
        " 7 ",
        "complete",
    ] {
        assert!(
            run_line.contains(expected),
            "no `{expected}` in: {run_line}"
        );
    }

    let out = run_cavern([
        "runs".as_ref(),
        "--runs-root".as_ref(),
        root.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_exit(&out, 0);
    let list = json_stdout(&out);
    let list = list.as_array().expect("a JSON array");
    assert_eq!(list.len(), 2, "{list:#?}");
    assert_eq!(list[0]["status"], "incomplete");
    assert_eq!(list[0]["seed"], Value::Null);
    assert_eq!(list[1]["name"], "quick");
    assert_eq!(list[1]["status"], "complete");
    assert_eq!(list[1]["model"], "toy-sentiment");
    assert_eq!(list[1]["seed"], 7);
    assert_eq!(list[1]["date"], "2002-01-01 01:02");

    let empty = run_cavern([
        "runs".as_ref(),
        "--runs-root".as_ref(),
        tmp.path().join("none").as_os_str(),
    ]);
    assert_exit(&empty, 0);
    assert!(
        stdout(&empty).contains("no run folders"),
        "{}",
        describe(&empty)
    );
}

#[test]
fn run_json_prints_the_folder_and_the_tcav_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("run");
    let out = run_cavern([
        "run".as_ref(),
        "experiments/quickstart.toml".as_ref(),
        "--quiet".as_ref(),
        "--json".as_ref(),
        "--out".as_ref(),
        out_dir.as_os_str(),
    ]);
    assert_exit(&out, 0);
    let summary = json_stdout(&out);
    assert_eq!(summary["run"], out_dir.display().to_string());
    assert_eq!(summary["seed"], 7);
    let rows = summary["tcav"].as_array().expect("tcav rows");
    assert_eq!(rows.len(), 4, "praise and colour at two layers");
    for row in rows {
        for column in [
            "concept",
            "target",
            "layer",
            "site",
            "tcav_mean",
            "p_adjusted",
        ] {
            assert!(row.get(column).is_some(), "no {column} in {row}");
        }
    }
    assert!(
        rows.iter()
            .any(|r| r["concept"] == "praise" && r["significant"] == true)
    );
}

#[test]
fn validate_json_describes_a_valid_file_and_the_diagnostics_of_an_invalid_one() {
    let out = run_cavern(["validate", "experiments/quickstart.toml", "--json"]);
    assert_exit(&out, 0);
    let ok = json_stdout(&out);
    assert_eq!(ok["file"], "experiments/quickstart.toml");
    assert_eq!(ok["ok"], true);
    assert_eq!(ok["concepts"], 3);
    assert_eq!(ok["model"], "toy-sentiment");
    assert_eq!(ok["probe_studies"], 1);
    assert_eq!(ok["tcav_studies"], 1);

    // Every kind's count, as the text output reports them.
    let out = run_cavern([
        "validate",
        "experiments/toy_steering_erasure.toml",
        "--json",
    ]);
    assert_exit(&out, 0);
    let ok = json_stdout(&out);
    for kind in cavern_experiment::registry::KINDS {
        let key = format!("{}_studies", kind.name());
        assert!(ok[&key].is_u64(), "no {key} in {ok:#}");
    }
    let counts = [("steering", 1), ("erasure", 2), ("counterfactual", 1)];
    for (kind, count) in counts {
        assert_eq!(ok[format!("{kind}_studies")], count, "{ok:#}");
    }
    let out = run_cavern(["validate", "experiments/toy_steering_erasure.toml"]);
    assert_exit(&out, 0);
    assert!(
        stdout(&out).contains("studies: 1 steering, 2 erasure, 1 counterfactual;"),
        "{}",
        describe(&out)
    );

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.toml");
    fs::write(
        &bad,
        "[experiment]\nnmae = \"x\"\nseed = 1\nmodel = \"toy-sentiment\"\n",
    )
    .unwrap();
    let out = run_cavern(["validate".as_ref(), bad.as_os_str(), "--json".as_ref()]);
    assert_exit(&out, 2);
    assert_no_panic(&out);
    let report = json_stdout(&out);
    assert_eq!(report["ok"], false);
    let diagnostics = report["diagnostics"].as_array().expect("diagnostics");
    let typo = diagnostics
        .iter()
        .find(|d| d["message"].as_str().unwrap().contains("nmae"))
        .unwrap_or_else(|| panic!("no diagnostic about `nmae`: {report:#}"));
    assert_eq!(typo["file"], bad.display().to_string());
    assert_eq!(
        (typo["line"].as_u64(), typo["column"].as_u64()),
        (Some(2), Some(1))
    );
    assert!(typo["help"].as_str().unwrap().contains("name"), "{typo}");
}

#[test]
fn completions_are_printed_for_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = run_cavern(["completions", shell]);
        assert_exit(&out, 0);
        let script = stdout(&out);
        assert!(script.contains("cavern"), "{shell}: {script}");
        assert!(script.contains("compare"), "{shell} misses a subcommand");
    }
    let out = run_cavern(["completions", "tcsh"]);
    assert_exit(&out, 2);
}

/// `np.save` writes this header for a (50, 32) float32 array: magic, version 1.0, header
/// length 118 (little-endian), the dict padded with spaces to a 64-byte boundary, `\n`.
const NPY_HEADER_50_BY_32: &[u8] = b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (50, 32), }                                                        \n";

#[test]
fn cavs_are_also_written_as_npy_with_the_same_directions() {
    assert_eq!(NPY_HEADER_50_BY_32.len(), 128);
    let tmp = tempfile::tempdir().unwrap();
    let run = run_quickstart(&tmp.path().join("run"), &[]);
    let cavs = run.join("cavs");
    let names = common::entries(&cavs);
    let safetensors: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with(".safetensors"))
        .collect();
    assert_eq!(safetensors.len(), 4, "{names:?}");
    for name in safetensors {
        let stem = name.trim_end_matches(".safetensors");
        let npy = fs::read(cavs.join(format!("{stem}.npy")))
            .unwrap_or_else(|e| panic!("no {stem}.npy beside {name}: {e}"));
        // 50 random runs, toy-sentiment's width 32.
        assert_eq!(&npy[..128], NPY_HEADER_50_BY_32, "{stem}.npy header");
        assert_eq!(npy.len(), 128 + 50 * 32 * 4, "{stem}.npy size");

        // The data is the safetensors `directions` tensor, byte for byte.
        let st = fs::read(cavs.join(name)).unwrap();
        let header_len = u64::from_le_bytes(st[..8].try_into().unwrap()) as usize;
        let header: Value = serde_json::from_slice(&st[8..8 + header_len]).unwrap();
        let directions = &header["directions"];
        assert_eq!(directions["shape"], serde_json::json!([50, 32]));
        let offsets = directions["data_offsets"].as_array().unwrap();
        let (start, end) = (
            offsets[0].as_u64().unwrap() as usize,
            offsets[1].as_u64().unwrap() as usize,
        );
        let data = &st[8 + header_len..];
        assert!(npy[128..] == data[start..end], "{stem}: .npy data differs");
    }
}

#[test]
fn a_reader_that_stops_early_is_no_error_once_the_run_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let mut child = common::cavern()
        .args(["run", "experiments/quickstart.toml", "--out"])
        .arg(&out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Like `cavern run ... | head -0`: the pipe's reader is gone before anything is printed.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    assert_exit(&output, 0);
    assert_no_panic(&output);
    assert!(out.join("manifest.json").is_file());
}
