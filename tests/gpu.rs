//! The wgpu GPU (`--device gpu`, a build with `--features gpu`) against the CPU, through the real
//! `cavern` binary: `cavern devices` names the adapter and its largest buffer, the quickstart
//! finds the same significant concepts, and the toy experiments' tables agree with the CPU's within
//! [`RELATIVE`] / [`ABSOLUTE`]. The parity tests against PyTorch run on the GPU too, with
//! `CAVERN_TEST_DEVICE=gpu` (`workspace/model/tests/common`).
//!
//! Without a GPU adapter these tests say so on standard error and pass, unless
//! `CAVERN_REQUIRE_GPU` is set (as `benches/gpu.sh` does); Mesa's lavapipe is a software Vulkan
//! device they run on.
#![cfg(feature = "gpu")]

mod common;

use common::{Csv, assert_exit, run_cavern, run_experiment, stdout};
use std::collections::BTreeSet;
use std::path::Path;

/// Relative difference allowed between a GPU number and the CPU's: float32 sums in another order
/// (tiled matrix products, tree reductions) move the last digits, and CAV training and statistics
/// carry that through.
const RELATIVE: f64 = 1e-3;
/// Absolute difference allowed, for numbers near zero.
const ABSOLUTE: f64 = 1e-4;

/// The GPU's label, or `None` (and a line on standard error) when there is none and none is
/// required.
fn gpu() -> Option<String> {
    match cavern_model::gpu::gpu() {
        Ok(gpu) => {
            eprintln!("GPU: {}", gpu.label());
            Some(gpu.label())
        }
        Err(e) if std::env::var_os("CAVERN_REQUIRE_GPU").is_some() => {
            panic!("CAVERN_REQUIRE_GPU is set, but {e}")
        }
        Err(e) => {
            eprintln!("skipped, no GPU: {e}");
            None
        }
    }
}

#[test]
fn devices_names_the_gpu_adapter() {
    let Some(label) = gpu() else { return };
    let out = run_cavern(["devices"]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    let line = text
        .lines()
        .find(|l| l.starts_with("gpu "))
        .unwrap_or_else(|| panic!("no gpu line:\n{text}"));
    let limit = cavern_model::gpu::gpu().unwrap().max_buffer_bytes >> 20;
    let expected = format!("{label} (largest buffer {limit} MiB)");
    assert!(
        line.ends_with(&expected),
        "{line:?} does not end {expected:?}"
    );
    assert!(text.lines().any(|l| l.starts_with("cpu ")), "{text}");
}

#[test]
fn the_quickstart_on_the_gpu_finds_the_concepts_the_cpu_finds() {
    let Some(label) = gpu() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let file = Path::new("experiments/quickstart.toml");
    let cpu = run_experiment(file, &tmp.path().join("cpu"), &[]);
    let gpu = run_experiment(file, &tmp.path().join("gpu"), &["--device", "gpu"]);
    assert_eq!(significant(&cpu), significant(&gpu));
    assert!(!significant(&cpu).is_empty(), "the CPU finds no concept");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(gpu.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(
        manifest["backend"],
        label.as_str(),
        "the manifest's backend"
    );
    // Not compared number by number: TCAV scores and probe accuracies are fractions of
    // examples, and an example near the boundary may land on the other side on the GPU (measured
    // on lavapipe: one TCAV score of 30 examples, a probe's bootstrap deviation by 4e-3).
}

#[test]
fn the_toy_experiments_on_the_gpu_agree_with_the_cpu() {
    if gpu().is_none() {
        return;
    }
    // toy_steering_erasure (about 200 s on lavapipe: thousands of one-token steps) and
    // toy_attributions_attention (integrated-gradients completeness gaps of 1e-3 on lavapipe
    // against 1e-5 on the CPU) are left out; README "Devices" states both.
    for name in ["toy_recall_interventions", "toy_recall_attention"] {
        let tmp = tempfile::tempdir().unwrap();
        let file = Path::new("experiments").join(format!("{name}.toml"));
        let cpu = run_experiment(&file, &tmp.path().join("cpu"), &[]);
        let gpu = run_experiment(&file, &tmp.path().join("gpu"), &["--device", "gpu"]);
        assert_tables_agree(&cpu, &gpu);
    }
}

/// The quickstart's significant `(concept, target, layer, site)` rows.
fn significant(run: &Path) -> BTreeSet<Vec<String>> {
    let tcav = Csv::read(&run.join("tables/tcav.csv"));
    tcav.rows
        .iter()
        .filter(|row| tcav.bool(row, "significant"))
        .map(|row| {
            ["concept", "target", "layer", "site"]
                .iter()
                .map(|c| tcav.get(row, c).to_owned())
                .collect()
        })
        .collect()
}

/// Every CSV table of two runs has the same header, rows and texts, and numbers within
/// [`RELATIVE`] or [`ABSOLUTE`] of each other.
fn assert_tables_agree(cpu: &Path, gpu: &Path) {
    let tables = common::entries(&cpu.join("tables"));
    assert_eq!(tables, common::entries(&gpu.join("tables")));
    for table in tables.iter().filter(|t| t.ends_with(".csv")) {
        let (a, b) = (
            Csv::read(&cpu.join("tables").join(table)),
            Csv::read(&gpu.join("tables").join(table)),
        );
        assert_eq!(a.header, b.header, "{table}");
        assert_eq!(a.rows.len(), b.rows.len(), "{table}: row counts");
        for (row, (x, y)) in a.rows.iter().zip(&b.rows).enumerate() {
            for (column, (u, v)) in a.header.iter().zip(x.iter().zip(y)) {
                let agree = match (u.parse::<f64>(), v.parse::<f64>()) {
                    (Ok(u), Ok(v)) => {
                        (u - v).abs() <= ABSOLUTE + RELATIVE * u.abs().max(v.abs())
                            || (u.is_nan() && v.is_nan())
                    }
                    _ => u == v,
                };
                assert!(
                    agree,
                    "{table} row {row} `{column}`: CPU {u}, GPU {v} ({})",
                    gpu.display()
                );
            }
        }
    }
}
