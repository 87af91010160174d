//! Sharded runs merged back, and killed runs resumed, give the tables and CAVs of an
//! uninterrupted unsharded run; merging a wrong set of shards is refused naming the shard.

mod common;

use cavern_model::builtin::builtin_names;
use common::{assert_exit, describe, repo_root, run_cavern, run_experiment, stderr};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Every file under `tables/` and `cavs/` of a run folder, by relative path.
fn outputs(run: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for sub in ["tables", "cavs"] {
        let dir = run.join(sub);
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            files.insert(
                format!("{sub}/{}", path.file_name().unwrap().to_string_lossy()),
                fs::read(&path).unwrap(),
            );
        }
    }
    files
}

fn assert_same_outputs(expected: &Path, actual: &Path) {
    let (a, b) = (outputs(expected), outputs(actual));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{} and {} hold different files",
        expected.display(),
        actual.display()
    );
    for (name, bytes) in &a {
        assert!(
            *bytes == b[name],
            "{name} differs between {} and {}",
            expected.display(),
            actual.display()
        );
    }
}

/// A run's report.html without its Timings table, the one part that changes between runs.
fn report_without_timings(run: &Path) -> String {
    let html = fs::read_to_string(run.join("report.html")).unwrap();
    let start = html.find("<h2>Timings</h2>").expect("a Timings section");
    let end = start + html[start..].find("</table>").unwrap();
    format!("{}{}", &html[..start], &html[end..])
}

/// The experiment files that run on a built-in model (no download).
fn offline_experiments() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(repo_root().join("experiments"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|path| {
            let text = fs::read_to_string(path).unwrap_or_default();
            text.lines().any(|line| {
                let line = line.trim();
                line.starts_with("model")
                    && builtin_names()
                        .iter()
                        .any(|name| line.ends_with(&format!("\"{name}\"")))
            })
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

/// Runs `file` as `count` shards into `dir` and merges them; returns the merged run folder.
fn sharded(file: &Path, dir: &Path, count: usize) -> PathBuf {
    let shards: Vec<PathBuf> = (0..count)
        .map(|index| {
            let shard = dir.join(format!("shard-{index}"));
            let spec = format!("{index}/{count}");
            run_experiment(file, &shard, &["--shard", &spec])
        })
        .collect();
    let run = dir.join("run");
    let mut args = vec!["merge".into(), "--out".into(), run.clone().into_os_string()];
    args.extend(shards.iter().rev().map(|s| s.clone().into_os_string()));
    let out = run_cavern(&args);
    assert_exit(&out, 0);
    run
}

#[test]
fn every_offline_experiment_sharded_one_to_four_ways_merges_into_the_unsharded_run() {
    let tmp = tempfile::tempdir().unwrap();
    for file in offline_experiments() {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let whole = run_experiment(&file, &tmp.path().join(&name), &[]);
        for count in 1..=4 {
            let dir = tmp.path().join(format!("{name}-{count}"));
            let merged = sharded(&file, &dir, count);
            assert_same_outputs(&whole, &merged);
            assert_eq!(
                report_without_timings(&whole),
                report_without_timings(&merged),
                "{name}: the report of {count} merged shards differs"
            );
        }
    }
}

#[test]
fn merging_a_wrong_set_of_shards_is_refused_naming_the_shard() {
    let tmp = tempfile::tempdir().unwrap();
    let quickstart = repo_root().join("experiments/quickstart.toml");
    let shard = |name: &str, file: &Path, spec: &str, extra: &[&str]| {
        let mut args = vec!["--shard", spec];
        args.extend(extra);
        run_experiment(file, &tmp.path().join(name), &args)
    };
    let first = shard("s0", &quickstart, "0/2", &[]);
    let second = shard("s1", &quickstart, "1/2", &[]);
    let reseeded = shard("s1-seed", &quickstart, "1/2", &["--seed", "99"]);
    let edited = tmp.path().join("edited.toml");
    let text = fs::read_to_string(&quickstart).unwrap();
    let text = text.replace(
        "../concepts",
        &format!("{}/concepts", repo_root().display()),
    );
    fs::write(&edited, format!("# edited\n{text}")).unwrap();
    let other_file = shard("s1-file", &edited, "1/2", &[]);
    let three = shard("of-three", &quickstart, "1/3", &[]);

    let merge = |shards: &[&Path], name: &str| {
        let target = tmp.path().join(name);
        let mut args = vec![
            "merge".into(),
            "--out".into(),
            target.clone().into_os_string(),
        ];
        args.extend(shards.iter().map(|s| s.as_os_str().to_owned()));
        let out = run_cavern(&args);
        assert_exit(&out, 2);
        assert!(
            !target.exists(),
            "a refused merge wrote {}",
            target.display()
        );
        stderr(&out)
    };
    let message = merge(&[&first], "missing");
    assert!(message.contains("shard 1/2 is missing"), "{message}");
    let message = merge(&[&first, &reseeded], "seed");
    assert!(
        message.contains(&reseeded.display().to_string()) && message.contains("seed 99"),
        "{message}"
    );
    let message = merge(&[&first, &other_file], "file");
    assert!(
        message.contains(&other_file.display().to_string())
            && message.contains("another experiment file"),
        "{message}"
    );
    let message = merge(&[&first, &second, &second], "twice");
    assert!(message.contains("give each shard once"), "{message}");
    let message = merge(&[&first, &three], "split");
    assert!(message.contains(&three.display().to_string()), "{message}");
    let message = merge(&[&first, &second.join("tables")], "not-a-run");
    assert!(message.contains("tables"), "{message}");
}

#[test]
fn a_run_killed_after_its_first_study_resumes_to_the_same_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let quickstart = repo_root().join("experiments/quickstart.toml");
    let whole = run_experiment(&quickstart, &tmp.path().join("whole"), &[]);
    let out = tmp.path().join("killed");
    let mut child = common::cavern()
        .args(["--quiet", "run"])
        .arg(&quickstart)
        .arg("--out")
        .arg(&out)
        .spawn()
        .unwrap();
    let finished_probe = || {
        fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .any(|p| p.join("units/probe-0").is_dir())
    };
    let start = Instant::now();
    while !finished_probe() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "the probe never finished"
        );
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a killed run left a final folder");

    let resumed = common::resume(&quickstart, &out);
    assert_exit(&resumed, 0);
    assert!(
        stderr(&resumed).contains("1 of 2 studies already done"),
        "{}",
        describe(&resumed)
    );
    assert_same_outputs(&whole, &out);
    assert!(
        !out.join("units").exists(),
        "the units stayed in the run folder"
    );
    let leftovers: Vec<_> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|name| name.to_string_lossy().contains(".partial-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
