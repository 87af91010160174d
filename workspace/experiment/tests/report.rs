//! The whole report of a run folder: the shell with the sections of the kinds whose tables the
//! folder has, user text escaped everywhere, no external resources, and the same page when
//! rendered again.

use cavern_experiment::kinds::probe::ProbeRow;
use cavern_experiment::kinds::tcav::{TcavRow, TcavRunRow};
use cavern_experiment::report::{render, rerender_report, write_report};
use cavern_runfolder::examples::{self, ExampleSet};
use cavern_runfolder::manifest::{ExperimentInfo, Manifest, ModelInfo, Timing};
use cavern_runfolder::report::REPORT_FILE;
use cavern_runfolder::rows::Rows;
use sha2::{Digest, Sha256};
use std::error::Error;
use std::fs;
use std::path::Path;

type TestResult = Result<(), Box<dyn Error>>;

const EVIL: &str = "<script>alert(1)</script>";

fn tcav_row(concept: &str, layer: usize, significant: bool) -> TcavRow {
    TcavRow {
        concept: concept.into(),
        target: "class:positive".into(),
        layer,
        site: "resid_post".into(),
        tcav_mean: 0.8,
        tcav_std: 0.1,
        tcav_ci_low: 0.75,
        tcav_ci_high: 0.85,
        random_mean: 0.5,
        random_std: 0.2,
        t_statistic: 4.0,
        df: 18.0,
        p_value: 0.001,
        p_adjusted: 0.002,
        significant,
        cav_accuracy: 0.9,
        random_accuracy: 0.5,
        cap_mean: 0.25,
        runs: 10,
        correction: "bonferroni".into(),
        alpha: 0.05,
        warning: String::new(),
    }
}

fn probe_row(concept: &str, layer: usize, accuracy: f64) -> ProbeRow {
    ProbeRow {
        concept: concept.into(),
        layer,
        site: "resid_post".into(),
        pooling: "mean".into(),
        accuracy_mean: accuracy,
        accuracy_std: 0.02,
        accuracy_ci_low: accuracy - 0.01,
        accuracy_ci_high: accuracy + 0.01,
        random_accuracy_mean: 0.5,
        control_accuracy: 0.5,
        selectivity: accuracy - 0.5,
        mi_bits: 0.4,
        mi_ci_low: 0.3,
        mi_ci_high: 0.5,
        mdl_compression: 3.0,
        control_mdl_compression: 0.9,
        random_sets: 20,
        n_train: 80,
        n_test: 20,
    }
}

const TOML: &str = "name = \"colors\"\n# <script>alert(1)</script>\n";

/// A run folder with TCAV and probe tables, an `examples` table and a manifest.
fn run_folder(dir: &Path) -> TestResult {
    let tables = dir.join("tables");
    fs::create_dir(&tables)?;
    vec![tcav_row(EVIL, 1, true), tcav_row("warm", 2, false)].write(&tables)?;
    let runs: Vec<TcavRunRow> = (0..3)
        .map(|run| TcavRunRow {
            concept: EVIL.into(),
            target: "class:positive".into(),
            layer: 1,
            site: "resid_post".into(),
            run,
            tcav_score: 0.7 + 0.1 * run as f64,
            cav_accuracy: 0.9,
        })
        .collect();
    runs.write(&tables)?;
    let probes = vec![
        probe_row(EVIL, 0, 0.6),
        probe_row(EVIL, 1, 0.9),
        probe_row("warm", 0, 0.55),
    ];
    probes.write(&tables)?;
    let sets = [ExampleSet {
        kind: "concept".into(),
        name: "evil".into(),
        texts: vec![format!("the film was {EVIL} good"), "plain".into()],
    }];
    examples::rows(&sets).write(&tables)?;
    let sha: String = Sha256::digest(TOML.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Manifest {
        cavern_version: "0.1.0".into(),
        git_revision: None,
        experiment: ExperimentInfo {
            path: dir.join("x.toml").display().to_string(),
            name: format!("colors {EVIL}"),
            sha256: sha,
        },
        model: ModelInfo {
            name: "toy".into(),
            source: "built-in".into(),
            sha256: "cd".repeat(32),
            head: None,
        },
        backend: "flex (cpu)".into(),
        seed: 7,
        timings: vec![Timing {
            step: "tcav".into(),
            seconds: 0.125,
        }],
        tables: vec![
            "examples".into(),
            "probe".into(),
            "tcav".into(),
            "tcav_runs".into(),
        ],
        table_keys: Default::default(),
        shard: None,
        merged_from: Vec::new(),
    }
    .write(dir)?;
    fs::write(dir.join("x.toml"), TOML)?;
    Ok(())
}

#[test]
fn the_report_shows_the_folder_s_kinds_escaped_and_self_contained() -> TestResult {
    let dir = tempfile::tempdir()?;
    run_folder(dir.path())?;
    let html = render(dir.path(), TOML)?;
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "one TCAV and one probe chart"
    );
    assert!(html.contains(">*</text>"), "the significant bar is starred");
    for section in [
        "Experiment file",
        "Example sets",
        "Probes",
        "TCAV",
        "Timings",
    ] {
        assert!(
            html.contains(&format!("<h2>{section}</h2>")),
            "missing {section}"
        );
    }
    let probes = html.find("<h2>Probes</h2>").unwrap_or_default();
    assert!(
        probes < html.find("<h2>TCAV</h2>").unwrap_or_default(),
        "registry order"
    );
    for absent in ["Attention", "Steering", "Activation patching"] {
        assert!(
            !html.contains(&format!("<h2>{absent}")),
            "{absent} has no rows"
        );
    }
    assert!(html.contains("&lt;script&gt;"));
    assert!(
        html.contains("<q>the film was &lt;script&gt;alert(1)&lt;&#x2f;script&gt; good</q>"),
        "{html}"
    );
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    assert!(!html.contains("http:") && !html.contains("https:") && !html.contains("src="));
    assert!(
        html.contains("<td>tcav</td><td class=\"num\">0.125</td>"),
        "{html}"
    );
    Ok(())
}

#[test]
fn a_rerendered_report_is_the_written_one() -> TestResult {
    let dir = tempfile::tempdir()?;
    run_folder(dir.path())?;
    write_report(dir.path(), TOML)?;
    let written = fs::read_to_string(dir.path().join(REPORT_FILE))?;
    let path = rerender_report(dir.path(), None)?;
    assert_eq!(fs::read_to_string(path)?, written);
    fs::write(dir.path().join("x.toml"), "changed")?;
    let err = rerender_report(dir.path(), None).expect_err("a changed experiment file");
    assert!(err.is_invalid_input() && err.to_string().contains("is not the one run"));
    Ok(())
}

#[test]
fn a_folder_without_study_tables_has_no_study_section() -> TestResult {
    let dir = tempfile::tempdir()?;
    run_folder(dir.path())?;
    for table in ["probe", "tcav", "tcav_runs"] {
        fs::remove_file(dir.path().join(format!("tables/{table}.parquet")))?;
        fs::remove_file(dir.path().join(format!("tables/{table}.csv")))?;
    }
    let html = render(dir.path(), TOML)?;
    assert!(
        !html.contains("<svg") && !html.contains("<h2>TCAV"),
        "{html}"
    );
    assert!(html.contains("<h2>Example sets</h2>") && html.contains("<h2>Timings</h2>"));
    Ok(())
}
