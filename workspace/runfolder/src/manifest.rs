//! The run manifest, `manifest.json`: what was run, on what, what it wrote and how long it took.
//!
//! The manifest deliberately has no creation timestamp: two runs of the same
//! experiment with the same seed produce identical run folders except for
//! [`Manifest::timings`], the only run-dependent field.

use crate::units::UnitId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// File name of the manifest inside a run folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Why the manifest could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Serializing to JSON failed.
    #[error("cannot serialize the manifest: {0}")]
    Json(#[from] serde_json::Error),
    /// Writing the file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// File being written.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// Everything needed to identify and reproduce a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Version of cavern that produced the run.
    pub cavern_version: String,
    /// Git revision cavern was built from, if known.
    pub git_revision: Option<String>,
    /// The experiment file.
    pub experiment: ExperimentInfo,
    /// The model probed.
    pub model: ModelInfo,
    /// Compute backend, e.g. `"flex (cpu)"`.
    pub backend: String,
    /// Seed for all randomness in the run.
    pub seed: u64,
    /// Wall-clock time per step that ran, in execution order.
    pub timings: Vec<Timing>,
    /// Names of the tables written to `tables/`, in the order they were written.
    pub tables: Vec<String>,
    /// Each table's key columns: the columns that name a row, which `cavern compare` joins on.
    /// (Absent from the manifests of runs made before it was recorded.)
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub table_keys: BTreeMap<String, Vec<String>>,
    /// In a shard folder (`cavern run --shard I/N`): which shard it is and what it ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// In a run merged from shards (`cavern merge`): the shard folders, in shard order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
}

/// Which shard of a sharded run a shard folder is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardInfo {
    /// The shard's number, from 0.
    pub index: usize,
    /// Shards in all.
    pub count: usize,
    /// The units of work this shard ran, saved in its `units/`.
    pub units: Vec<UnitId>,
    /// Every unit of work of the experiment, in run order.
    pub all_units: Vec<UnitId>,
}

/// Identity of the experiment file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentInfo {
    /// Path as given on the command line.
    pub path: String,
    /// Experiment name from the file.
    pub name: String,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub sha256: String,
}

/// Identity of the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    /// Model name.
    pub name: String,
    /// Where the model came from, e.g. `"built-in"` or a file path.
    pub source: String,
    /// SHA-256 of the weights, lowercase hex.
    pub sha256: String,
    /// The classifier head the run trained and appended (`[head]`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadResult>,
}

/// What training the `[head]` measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadResult {
    /// Class names, in logit order.
    pub classes: Vec<String>,
    /// Training examples per class.
    pub n_train: Vec<usize>,
    /// Held-out examples per class.
    pub n_test: Vec<usize>,
    /// Accuracy on the held-out examples.
    pub heldout_accuracy: f64,
}

/// Duration of one named step of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Step name: `head`, a study kind (`probe`, `tcav`, ...) or `write`.
    pub step: String,
    /// Wall-clock seconds.
    pub seconds: f64,
}

impl Manifest {
    /// Writes the manifest as pretty-printed JSON to `dir/manifest.json`.
    pub fn write(&self, dir: &Path) -> Result<(), ManifestError> {
        let mut json = serde_json::to_string_pretty(self)?;
        json.push('\n');
        let path = dir.join(MANIFEST_FILE);
        fs::write(&path, json).map_err(|source| ManifestError::Io { path, source })
    }

    /// Parses a manifest, and returns it as generic JSON too. Timings are re-read from the text
    /// with Rust's float parser, which is exact, so that a re-rendered report shows the very
    /// numbers the run's report showed (serde_json's default float parsing may be one unit in
    /// the last place off).
    pub fn parse(text: &str) -> Result<(Manifest, Value), serde_json::Error> {
        let json: Value = serde_json::from_str(text)?;
        let mut manifest: Manifest = serde_json::from_value(json.clone())?;
        let seconds: Vec<f64> = text
            .match_indices("\"seconds\":")
            .filter_map(|(at, key)| {
                let rest = text[at + key.len()..].trim_start();
                let end = rest
                    .find(|c: char| {
                        !(c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'))
                    })
                    .unwrap_or(rest.len());
                rest[..end].parse().ok()
            })
            .collect();
        if seconds.len() == manifest.timings.len() {
            for (timing, exact) in manifest.timings.iter_mut().zip(seconds) {
                timing.seconds = exact;
            }
        }
        Ok((manifest, json))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The smallest manifest a run folder can have.
    pub(crate) const MINIMAL: &str = r#"{"cavern_version":"0.1.0","git_revision":null,
        "experiment":{"path":"x.toml","name":"x","sha256":"00"},
        "model":{"name":"m","source":"built-in","sha256":"11"},
        "backend":"flex (cpu)","seed":7,
        "timings":[{"step":"probe","seconds": 1.7365926310000002},{"step":"tcav","seconds":2.5e-3}],
        "tables":[]}"#;

    #[test]
    fn timings_are_read_exactly_and_old_manifests_have_no_keys() {
        let (manifest, _) = Manifest::parse(MINIMAL).unwrap();
        assert_eq!(manifest.timings[0].seconds, 1.7365926310000002_f64);
        assert_eq!(manifest.timings[1].seconds, 0.0025);
        assert!(manifest.table_keys.is_empty());
    }

    #[test]
    fn table_keys_round_trip_and_are_left_out_when_empty() {
        let (mut manifest, _) = Manifest::parse(MINIMAL).unwrap();
        let text = serde_json::to_string(&manifest).unwrap();
        assert!(!text.contains("table_keys"), "{text}");
        manifest
            .table_keys
            .insert("probe".into(), vec!["concept".into(), "layer".into()]);
        let text = serde_json::to_string(&manifest).unwrap();
        assert_eq!(Manifest::parse(&text).unwrap().0, manifest);
    }
}
