//! The quickstart's known answers, its run folder, determinism, and `--out`
//! safety, checked through the real `cavern` binary.

mod common;

use common::{
    Csv, assert_exit, assert_no_panic, cavern, describe, entries, run_quickstart, stdout,
};
use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

/// The columns `tcav.csv` must have.
const TCAV_COLUMNS: [&str; 10] = [
    "concept",
    "target",
    "layer",
    "site",
    "tcav_mean",
    "tcav_std",
    "p_value",
    "p_adjusted",
    "significant",
    "cav_accuracy",
];

/// Random-vs-random CAVs must score near chance.
const CHANCE: std::ops::RangeInclusive<f64> = 0.35..=0.65;

#[test]
fn quickstart_finds_the_planted_concept_and_writes_a_complete_run_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let run = run_quickstart(&tmp.path().join("run"), &[]);

    check_tcav_table(&run);
    check_probe_table(&run);
    check_manifest(&run, 7);
    assert!(
        run.join("report.html").is_file(),
        "no report.html in {:?}",
        entries(&run)
    );
    let report = fs::read_to_string(run.join("report.html")).unwrap();
    assert!(
        report.contains("<html") || report.contains("<!DOCTYPE") || report.contains("<!doctype"),
        "report.html is not HTML"
    );
    check_cavs(&run);
    // The run was written into a hidden `.run.partial-PID` sibling and renamed:
    // nothing but the final folder may be left next to it.
    assert_eq!(
        entries(tmp.path()),
        ["run"],
        "leftovers next to the run folder"
    );
}

fn check_tcav_table(run: &Path) {
    let tcav = Csv::read(&run.join("tables/tcav.csv"));
    for column in TCAV_COLUMNS {
        tcav.col(column);
    }
    // praise and colour at both layers of toy-sentiment, for class:positive.
    let mut seen = BTreeSet::new();
    for row in &tcav.rows {
        assert_eq!(tcav.get(row, "target"), "class:positive");
        assert_eq!(tcav.get(row, "site"), "resid_pre");
        seen.insert((
            tcav.get(row, "concept").to_owned(),
            tcav.get(row, "layer").to_owned(),
        ));
    }
    let expected: BTreeSet<(String, String)> = ["praise", "colour"]
        .iter()
        .flat_map(|c| ["0", "1"].map(|l| (c.to_string(), l.to_string())))
        .collect();
    assert_eq!(seen, expected, "tcav.csv rows (concept, layer)");
    assert_eq!(
        tcav.rows.len(),
        expected.len(),
        "duplicate rows in tcav.csv"
    );

    for row in &tcav.rows {
        let p = tcav.num(row, "p_adjusted");
        let raw = tcav.num(row, "p_value");
        assert!((0.0..=1.0).contains(&p) && (0.0..=1.0).contains(&raw));
        assert!(p >= raw, "adjusted p {p} below raw p {raw}");
        let score = tcav.num(row, "tcav_mean");
        assert!((0.0..=1.0).contains(&score), "tcav_mean {score}");
        // `significant` is the adjusted p-value against alpha.
        let alpha = tcav.num(row, "alpha");
        assert_eq!(
            tcav.bool(row, "significant"),
            p < alpha,
            "significant disagrees with p_adjusted {p} and alpha {alpha} in {row:?}"
        );
        let random = tcav.num(row, "random_accuracy");
        assert!(
            CHANCE.contains(&random),
            "random-vs-random CAV accuracy {random} is not near chance in {row:?}"
        );
    }

    let praise_hits: Vec<&Vec<String>> = tcav
        .rows
        .iter()
        .filter(|r| tcav.get(r, "concept") == "praise")
        .filter(|r| tcav.num(r, "p_adjusted") < 0.05 && tcav.bool(r, "significant"))
        .filter(|r| tcav.num(r, "cav_accuracy") >= 0.95)
        .collect();
    assert!(
        !praise_hits.is_empty(),
        "praise is significant with an accurate CAV at no layer:\n{:#?}",
        tcav.rows
    );

    for row in tcav
        .rows
        .iter()
        .filter(|r| tcav.get(r, "concept") == "colour")
    {
        assert!(
            !tcav.bool(row, "significant"),
            "the nuisance concept colour is significant: {row:?}"
        );
    }
}

fn check_probe_table(run: &Path) {
    let probe = Csv::read(&run.join("tables/probe.csv"));
    let concepts: BTreeSet<&str> = probe.rows.iter().map(|r| probe.get(r, "concept")).collect();
    assert_eq!(
        concepts,
        BTreeSet::from(["praise", "criticism", "colour"]),
        "probe.csv concepts"
    );
    // Three concepts at both layers.
    assert_eq!(probe.rows.len(), 6, "probe.csv rows");
    for row in &probe.rows {
        let random = probe.num(row, "random_accuracy_mean");
        assert!(
            CHANCE.contains(&random),
            "random_accuracy_mean {random} is not near chance in {row:?}"
        );
        let accuracy = probe.num(row, "accuracy_mean");
        assert!(
            accuracy >= 0.85,
            "concept accuracy {accuracy} below 0.85 in {row:?}"
        );
        let (low, high) = (
            probe.num(row, "accuracy_ci_low"),
            probe.num(row, "accuracy_ci_high"),
        );
        assert!(
            low <= accuracy && accuracy <= high,
            "interval {low}..{high} in {row:?}"
        );
        // The control task (random labels per text) cannot be learnt: its accuracy is chance,
        // and its labels do not compress.
        let control = probe.num(row, "control_accuracy");
        assert!(
            (0.35..=0.65).contains(&control),
            "control accuracy {control} in {row:?}"
        );
        let control_mdl = probe.num(row, "control_mdl_compression");
        assert!(
            control_mdl < 1.05,
            "control labels compress ({control_mdl}) in {row:?}"
        );
        // The planted concept: selective, informative and compressible at both layers. (The
        // control accuracy on 30 held-out texts is chance give or take 0.09, which selectivity
        // inherits: 0.38 to 0.51 with this seed.)
        if probe.get(row, "concept") == "praise" {
            let selectivity = probe.num(row, "selectivity");
            assert!(
                selectivity >= 0.3,
                "praise selectivity {selectivity} in {row:?}"
            );
            assert!(
                probe.num(row, "mi_ci_low") > 0.3,
                "praise MI interval in {row:?}"
            );
            let mdl = probe.num(row, "mdl_compression");
            assert!(
                mdl >= 1.5 * control_mdl,
                "praise MDL {mdl} vs control in {row:?}"
            );
        }
    }
}

fn check_manifest(run: &Path, seed: u64) {
    let text = fs::read_to_string(run.join("manifest.json")).expect("no manifest.json");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("manifest is not JSON");
    assert_eq!(manifest["seed"].as_u64(), Some(seed), "manifest seed");
    assert_eq!(manifest["model"]["name"], "toy-sentiment");
    let sha = manifest["model"]["sha256"].as_str().expect("model.sha256");
    assert!(
        sha.len() == 64 && sha.chars().all(|c| c.is_ascii_hexdigit()),
        "model.sha256 `{sha}` is not 64 hex digits"
    );
    let tables: Vec<&str> = manifest["tables"]
        .as_array()
        .expect("manifest tables")
        .iter()
        .map(|t| t.as_str().expect("table name"))
        .collect();
    assert!(tables.contains(&"tcav"), "manifest tables {tables:?}");
    // Timings only for the steps that ran: the file's two study kinds, then writing (no head).
    let timings = manifest["timings"].as_array().expect("manifest timings");
    let steps: Vec<&str> = timings
        .iter()
        .map(|t| t["step"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["probe", "tcav", "write"], "manifest timings");
    for table in tables {
        assert!(
            run.join("tables").join(format!("{table}.csv")).is_file(),
            "manifest lists table `{table}` but tables/{table}.csv is missing"
        );
    }
}

/// The CAV files: (name, JSON header, tensor bytes).
fn read_cavs(run: &Path) -> Vec<(String, serde_json::Value, Vec<u8>)> {
    let dir = run.join("cavs");
    let mut cavs = Vec::new();
    for name in entries(&dir) {
        if !name.ends_with(".safetensors") {
            continue;
        }
        let bytes = fs::read(dir.join(&name)).unwrap();
        assert!(bytes.len() > 8, "{name} is too short");
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert!(
            header_len > 0 && 8 + header_len < bytes.len() as u64,
            "{name}: header length {header_len} does not fit a {} byte file",
            bytes.len()
        );
        let header_end = 8 + header_len as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..header_end])
            .unwrap_or_else(|e| panic!("{name}: header is not JSON: {e}"));
        let data = bytes[header_end..].to_vec();
        // Every tensor lies inside the data buffer, which they cover exactly.
        let mut end_max = 0;
        let mut tensors = 0;
        for (key, info) in header.as_object().expect("header is a JSON object") {
            if key == "__metadata__" {
                continue;
            }
            tensors += 1;
            let offsets = info["data_offsets"].as_array().expect("data_offsets");
            let (start, end) = (offsets[0].as_u64().unwrap(), offsets[1].as_u64().unwrap());
            assert!(start <= end && end <= data.len() as u64, "{name}: {key}");
            end_max = end_max.max(end);
        }
        assert!(tensors > 0, "{name} holds no tensors");
        assert_eq!(end_max, data.len() as u64, "{name}: data buffer size");
        cavs.push((name, header, data));
    }
    cavs
}

fn check_cavs(run: &Path) {
    let cavs = read_cavs(run);
    assert!(!cavs.is_empty(), "no .safetensors files in cavs/");
}

/// The CSV files in a run's `tables/` folder.
fn csv_tables(run: &Path) -> Vec<String> {
    entries(&run.join("tables"))
        .into_iter()
        .filter(|n| n.ends_with(".csv"))
        .collect()
}

#[test]
fn quickstart_is_deterministic_for_a_seed_and_changes_with_it() {
    let tmp = tempfile::tempdir().unwrap();
    let a = run_quickstart(&tmp.path().join("a"), &[]);
    let b = run_quickstart(&tmp.path().join("b"), &[]);
    let c = run_quickstart(&tmp.path().join("c"), &["--seed", "8"]);

    let tables = csv_tables(&a);
    for expected in ["probe.csv", "tcav.csv", "tcav_runs.csv"] {
        assert!(tables.iter().any(|t| t == expected), "no {expected}");
    }
    assert_eq!(tables, csv_tables(&b), "the runs wrote different tables");
    for table in &tables {
        let (x, y) = (
            fs::read(a.join("tables").join(table)).unwrap(),
            fs::read(b.join("tables").join(table)).unwrap(),
        );
        assert!(
            x == y,
            "tables/{table} differs between two runs with seed 7"
        );
    }

    // The CAV files are byte-identical too (and parse as safetensors).
    let (cavs_a, cavs_b) = (read_cavs(&a), read_cavs(&b));
    assert_eq!(cavs_a.len(), cavs_b.len());
    for ((name, ..), (name_b, ..)) in cavs_a.iter().zip(&cavs_b) {
        assert_eq!(name, name_b);
        let bytes = |run: &Path| fs::read(run.join("cavs").join(name)).unwrap();
        assert!(
            bytes(&a) == bytes(&b),
            "cavs/{name} differs between two runs with seed 7"
        );
    }

    // --seed overrides the file's seed: the manifest records it, and the
    // random draws change.
    check_manifest(&a, 7);
    check_manifest(&c, 8);
    let (runs_a, runs_c) = (
        fs::read(a.join("tables/tcav_runs.csv")).unwrap(),
        fs::read(c.join("tables/tcav_runs.csv")).unwrap(),
    );
    assert!(runs_a != runs_c, "tcav_runs.csv is the same with --seed 8");
    assert_eq!(entries(tmp.path()), ["a", "b", "c"], "leftover folders");
}

#[test]
fn out_pointing_at_an_existing_folder_fails_and_leaves_it_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let existing = tmp.path().join("existing");
    fs::create_dir(&existing).unwrap();
    fs::write(existing.join("keep.txt"), "precious results\n").unwrap();

    let out = cavern()
        .args(["run", "experiments/quickstart.toml", "--quiet", "--out"])
        .arg(&existing)
        .output()
        .unwrap();
    // An output folder that already exists is invalid input: nothing was run.
    assert_exit(&out, 2);
    assert_no_panic(&out);
    let err = common::stderr(&out);
    assert!(
        err.contains(&existing.display().to_string()) && err.contains("already exists"),
        "the message does not name the existing folder\n{}",
        describe(&out)
    );
    assert_eq!(entries(&existing), ["keep.txt"], "the folder was modified");
    assert_eq!(
        fs::read_to_string(existing.join("keep.txt")).unwrap(),
        "precious results\n"
    );
    assert_eq!(entries(tmp.path()), ["existing"], "leftovers next to it");
}

/// The end of `cavern run` says what the quickstart found, `report.html` opens with the same
/// lines, and `--json` lists them with their numbers; `--quiet` prints only the folder.
#[test]
fn quickstart_says_what_it_found() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let out = cavern()
        .args(["run", "experiments/quickstart.toml", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let printed = stdout(&out);
    let findings: Vec<&str> = printed
        .lines()
        .skip_while(|l| *l != "findings:")
        .skip(1)
        .map(|l| l.trim_start())
        .collect();
    let tcav = Csv::read(&run.join("tables/tcav.csv"));
    let cell = |concept: &str, layer: &str| {
        tcav.rows
            .iter()
            .find(|r| tcav.get(r, "concept") == concept && tcav.get(r, "layer") == layer)
            .unwrap_or_else(|| panic!("no tcav row for {concept} at layer {layer}"))
    };
    let praise = cell("praise", "1");
    let (mean, p) = (
        tcav.num(praise, "tcav_mean"),
        tcav.num(praise, "p_adjusted"),
    );
    assert!(mean > 0.85 && p < 1e-6, "praise at layer 1: {mean} {p}");
    let praise_line = format!(
        "tcav: praise raises class:positive at layer 1 (resid_pre): TCAV {mean:.3} vs random {:.3}, adjusted p {:.1e}",
        tcav.num(praise, "random_mean"),
        p
    );
    assert!(
        findings.first().is_some_and(|l| l.starts_with("probe: ")),
        "{printed}"
    );
    assert!(
        findings.contains(&praise_line.as_str()),
        "{praise_line:?} not in\n{printed}"
    );
    let colour_p = ["0", "1"]
        .map(|layer| tcav.num(cell("colour", layer), "p_adjusted"))
        .into_iter()
        .fold(f64::INFINITY, f64::min);
    assert!(
        colour_p > 0.05,
        "colour is significant somewhere: {colour_p}"
    );
    let colour_line = format!(
        "tcav: colour is never significant for class:positive (layers 0, 1; smallest adjusted p {colour_p:.3})"
    );
    assert!(
        findings.contains(&colour_line.as_str()),
        "{colour_line:?} not in\n{printed}"
    );

    // The report opens with the same lines, each linking to its study's section.
    let report = fs::read_to_string(run.join("report.html")).unwrap();
    let opening = &report[..report
        .find("<h2>Experiment file</h2>")
        .expect("no experiment section")];
    let listed: Vec<String> = opening
        .lines()
        .filter_map(|l| l.strip_prefix("<li><a href=\"#"))
        .map(|l| {
            let (study, text) = l.split_once("\">").unwrap();
            let text = text
                .strip_prefix(study)
                .unwrap()
                .strip_prefix("</a>: ")
                .unwrap();
            format!("{study}: {}", text.strip_suffix("</li>").unwrap())
        })
        .collect();
    assert_eq!(
        listed, findings,
        "report findings differ from the printed ones"
    );
    for study in ["probe", "tcav"] {
        assert!(
            report.contains(&format!("<section id=\"{study}\">")),
            "no #{study} anchor"
        );
    }

    // `--json` carries them with their numbers; `--quiet` prints only the folder.
    let out = cavern()
        .args(["run", "experiments/quickstart.toml", "--json", "--out"])
        .arg(tmp.path().join("json"))
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("not JSON");
    let found = json["findings"].as_array().expect("no findings list");
    assert_eq!(found.len(), findings.len());
    let praise_json = found
        .iter()
        .find(|f| f["study"] == "tcav" && f["concept"] == "praise" && f["layer"] == 1)
        .expect("praise at layer 1 not in the JSON findings");
    assert_eq!(praise_json["significant"], true);
    // Both print 0.9229999999999999, but serde_json's default number parser (without its
    // `float_roundtrip` feature) may read a number one unit in the last place off (here 0.923).
    let same = |field: &str, csv: f64| {
        let json = praise_json[field].as_f64().expect("a number");
        assert!(
            (json - csv).abs() <= 1e-12 * csv.abs(),
            "{field}: JSON {json}, CSV {csv}"
        );
    };
    same("tcav_mean", mean);
    same("p_adjusted", p);
    assert_eq!(
        praise_json["text"],
        praise_line.strip_prefix("tcav: ").unwrap()
    );
    assert!(
        found
            .iter()
            .any(|f| f["concept"] == "colour" && f["significant"] == false)
    );
    let quiet = tmp.path().join("quiet");
    let out = cavern()
        .args(["run", "experiments/quickstart.toml", "--quiet", "--out"])
        .arg(&quiet)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(stdout(&out), format!("wrote {}\n", quiet.display()));
}
