//! The run manifest, `manifest.json`: what was run, on what, and how long it took.
//!
//! The manifest deliberately has no creation timestamp: two runs of the same
//! experiment with the same seed produce identical run folders except for
//! [`Manifest::timings`], the only run-dependent field.

use std::fs;
use std::path::{Path, PathBuf};

use crate::studies::head::HeadResult;
use serde::{Deserialize, Serialize};

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
    /// Git revision cavern was built from, if known (see [`git_revision`]).
    pub git_revision: Option<String>,
    /// The experiment file.
    pub experiment: ExperimentInfo,
    /// The model probed.
    pub model: ModelInfo,
    /// Compute backend, e.g. `"flex (cpu)"`.
    pub backend: String,
    /// Seed for all randomness in the run.
    pub seed: u64,
    /// Wall-clock time per step, in execution order.
    pub timings: Vec<Timing>,
    /// Names of the tables written to `tables/`.
    pub tables: Vec<String>,
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

/// Duration of one named step of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// Step name, e.g. `"activations"`.
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
}

/// The git revision baked in at compile time through the
/// `CAVERN_GIT_REVISION` environment variable; `None` if it was unset.
pub fn git_revision() -> Option<String> {
    option_env!("CAVERN_GIT_REVISION")
        .filter(|rev| !rev.is_empty())
        .map(str::to_owned)
}
