//! The report of a run, `report.html`, always rendered from the run folder: its manifest, its
//! findings, its `examples` table and each study kind's section (anchored by the kind's name)
//! from the kind's tables read back from disk.
//! The runner and `cavern report` both render it here, so a re-rendered report equals the
//! original by construction.

use crate::registry::KINDS;
use crate::study::ReportPartError;
use cavern_runfolder::examples::{self, ExampleRow};
use cavern_runfolder::report::{Finding, REPORT_FILE, ReportEnv, ReportError, Shell};
use cavern_runfolder::{RunFolder, RunFolderError};
use sha2::{Digest, Sha256};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a report could not be made from a run folder.
#[derive(Debug, Error)]
pub enum ReportBuildError {
    /// The run folder could not be read.
    #[error(transparent)]
    Run(#[from] RunFolderError),
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] ReportError),
}

impl From<ReportPartError> for ReportBuildError {
    fn from(error: ReportPartError) -> Self {
        match error {
            ReportPartError::Read(e) => ReportBuildError::Run(e),
            ReportPartError::Render(e) => ReportBuildError::Render(e),
        }
    }
}

/// What the run in `folder` found, study kind by study kind in the registry's order.
pub fn findings(folder: &RunFolder) -> Result<Vec<Finding>, RunFolderError> {
    let mut found = Vec::new();
    for kind in KINDS {
        found.extend(kind.findings(folder)?);
    }
    Ok(found)
}

/// The report of the run folder at `dir`, whose experiment file's text is `experiment_toml`.
pub fn render(dir: &Path, experiment_toml: &str) -> Result<String, ReportBuildError> {
    let folder = RunFolder::open(dir)?;
    let env = ReportEnv::new();
    let sets = examples::sets(folder.rows::<ExampleRow>()?);
    let mut sections = Vec::new();
    for kind in KINDS {
        if let Some(section) = kind.report(&folder, &env)? {
            // The anchor the findings link to.
            sections.push(format!(
                "<section id=\"{}\">\n{section}</section>",
                kind.name()
            ));
        }
    }
    let findings = findings(&folder)?;
    let shell = Shell {
        title: &folder.manifest.experiment.name,
        experiment_toml,
        manifest: &folder.manifest,
        example_sets: &sets,
        findings: &findings,
    };
    Ok(env.page(&shell, &sections)?)
}

/// Renders the report of the run folder at `dir` and writes it to `dir/report.html`.
pub fn write_report(dir: &Path, experiment_toml: &str) -> Result<(), ReportBuildError> {
    let html = render(dir, experiment_toml)?;
    let path = dir.join(REPORT_FILE);
    fs::write(&path, html).map_err(|source| ReportError::Io { path, source })?;
    Ok(())
}

/// Why a report could not be re-rendered.
#[derive(Debug, Error)]
pub enum ReportRebuildError {
    /// The run folder could not be read.
    #[error(transparent)]
    Run(#[from] RunFolderError),
    /// The experiment file is not where the manifest (or `--experiment`) says.
    #[error(
        "cannot read the experiment file {} of run {}: {source}; the report shows the experiment \
         text, and the manifest records its path as given to `cavern run` (relative to the \
         folder cavern ran in): run from that folder or pass the file with --experiment FILE",
        file.display(),
        run.display()
    )]
    ExperimentMissing {
        /// The file looked for.
        file: PathBuf,
        /// The run folder.
        run: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// The experiment file changed since the run.
    #[error(
        "the experiment file {} is not the one run {} ran: its SHA-256 is {found}, the manifest \
         records {expected}; restore that file or pass it with --experiment FILE",
        file.display(),
        run.display()
    )]
    ExperimentChanged {
        /// The file read.
        file: PathBuf,
        /// The run folder.
        run: PathBuf,
        /// SHA-256 in the manifest.
        expected: String,
        /// SHA-256 of the file now.
        found: String,
    },
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] ReportError),
    /// Writing the report failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// File being written.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
}

impl From<ReportBuildError> for ReportRebuildError {
    fn from(error: ReportBuildError) -> Self {
        match error {
            ReportBuildError::Run(e) => ReportRebuildError::Run(e),
            ReportBuildError::Render(e) => ReportRebuildError::Render(e),
        }
    }
}

impl ReportRebuildError {
    /// Whether the error is about the input (the run folder or the experiment file) rather than
    /// a failure while rendering or writing.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            ReportRebuildError::Run(_)
                | ReportRebuildError::ExperimentMissing { .. }
                | ReportRebuildError::ExperimentChanged { .. }
        )
    }
}

/// Re-renders `run/report.html` from the run's manifest, its tables and the experiment file
/// (`experiment`, or the path the manifest records), which must be byte for byte the file the
/// run ran (its SHA-256 is checked). With the same cavern build the result is the runner's
/// report byte for byte. The file is replaced atomically. Returns the report's path.
pub fn rerender_report(
    run: &Path,
    experiment: Option<&Path>,
) -> Result<PathBuf, ReportRebuildError> {
    let folder = RunFolder::open(run)?;
    let manifest = &folder.manifest;
    let file = experiment.map_or_else(|| PathBuf::from(&manifest.experiment.path), Path::to_owned);
    let bytes = fs::read(&file).map_err(|source| ReportRebuildError::ExperimentMissing {
        file: file.clone(),
        run: run.to_owned(),
        source,
    })?;
    let found: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let changed = |found: String| ReportRebuildError::ExperimentChanged {
        file: file.clone(),
        run: run.to_owned(),
        expected: manifest.experiment.sha256.clone(),
        found,
    };
    if found != manifest.experiment.sha256 {
        return Err(changed(found));
    }
    let experiment_toml = String::from_utf8(bytes).map_err(|_| changed(found))?;
    let html = render(run, &experiment_toml)?;
    let path = run.join(REPORT_FILE);
    let temp = run.join(format!(".{REPORT_FILE}.partial-{}", std::process::id()));
    let write = |target: &Path| {
        let io_error = |source| ReportRebuildError::Write {
            path: target.to_owned(),
            source,
        };
        fs::write(&temp, &html).map_err(io_error)?;
        fs::rename(&temp, target).map_err(io_error)
    };
    write(&path).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })?;
    Ok(path)
}
