//! Atomic run folders.
//!
//! A run is written into a hidden sibling folder `.{name}.partial-{pid}` and
//! renamed into place by [`RunDir::commit`], so a run folder at its final path
//! is always complete. A [`RunDir`] dropped without commit (an error or a panic)
//! removes its temporary folder, and [`abandon_all`] removes the temporary
//! folders of every run still being written (what a signal handler calls before
//! the process exits). A process killed outright leaves the `.partial` folder
//! behind; `cavern runs` lists it and `cavern runs --clean` removes it.
//!
//! Every step that creates, renames or removes a temporary folder holds one
//! process-wide lock, so an interruption either finds a run folder complete at
//! its final path or removes its temporary folder whole, never a run half
//! renamed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Subfolder of a run folder holding the tidy tables.
pub const TABLES_DIR: &str = "tables";
/// Subfolder of a run folder holding the saved concept activation vectors.
pub const CAVS_DIR: &str = "cavs";

/// Why a run folder could not be created or committed.
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    /// The final run folder is already there; runs are never overwritten.
    #[error(
        "run folder {} already exists; choose another folder with --out or remove it",
        .0.display()
    )]
    AlreadyExists(PathBuf),
    /// The path has no final component to name the run after.
    #[error("{} is not a usable run folder path", .0.display())]
    InvalidPath(PathBuf),
    /// The process is being interrupted ([`abandon_all`] ran); no run folder is created or
    /// committed any more.
    #[error("the run was interrupted; {} was not written", .0.display())]
    Interrupted(PathBuf),
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "create".
        action: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
}

/// A run folder being written; see the module docs.
#[derive(Debug)]
pub struct RunDir {
    /// Temporary folder; `None` once committed.
    temp: Option<PathBuf>,
    final_path: PathBuf,
}

impl RunDir {
    /// Creates the temporary folder (with `tables/` and `cavs/`) next to
    /// `final_path`, creating missing parent folders. Fails if `final_path`
    /// already exists.
    pub fn create(final_path: &Path) -> Result<RunDir, RunDirError> {
        ensure_absent(final_path)?;
        let name = final_path
            .file_name()
            .ok_or_else(|| RunDirError::InvalidPath(final_path.to_owned()))?;
        let parent = final_path.parent().unwrap_or(Path::new(""));
        if !parent.as_os_str().is_empty() {
            fs::create_dir_all(parent).map_err(io_error("create", parent))?;
        }
        let temp = parent.join(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        {
            let mut live = live();
            if live.interrupted {
                return Err(RunDirError::Interrupted(final_path.to_owned()));
            }
            fs::create_dir(&temp).map_err(io_error("create", &temp))?;
            live.folders.push(temp.clone());
        }
        let run = RunDir {
            temp: Some(temp),
            final_path: final_path.to_owned(),
        };
        for sub in [TABLES_DIR, CAVS_DIR] {
            let dir = run.path().join(sub);
            fs::create_dir(&dir).map_err(io_error("create", &dir))?;
        }
        Ok(run)
    }

    /// The temporary folder, where all run output is written.
    pub fn path(&self) -> &Path {
        self.temp.as_deref().unwrap_or(&self.final_path)
    }

    /// The `tables/` subfolder of [`RunDir::path`].
    pub fn tables_dir(&self) -> PathBuf {
        self.path().join(TABLES_DIR)
    }

    /// The `cavs/` subfolder of [`RunDir::path`].
    pub fn cavs_dir(&self) -> PathBuf {
        self.path().join(CAVS_DIR)
    }

    /// The path the run folder will have after [`RunDir::commit`].
    pub fn final_path(&self) -> &Path {
        &self.final_path
    }

    /// Renames the temporary folder to the final path and returns that path.
    /// On failure (or once the process is being interrupted) the temporary
    /// folder is removed.
    pub fn commit(mut self) -> Result<PathBuf, RunDirError> {
        ensure_absent(&self.final_path)?;
        let temp = self.path().to_owned();
        let mut live = live();
        if live.interrupted {
            return Err(RunDirError::Interrupted(self.final_path.clone()));
        }
        fs::rename(&temp, &self.final_path).map_err(io_error("rename into place", &temp))?;
        live.folders.retain(|f| *f != temp);
        self.temp = None;
        Ok(self.final_path.clone())
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if let Some(temp) = self.temp.take() {
            let mut live = live();
            // Best effort: Drop cannot report errors (and after an interruption the folder is
            // already gone).
            let _ = fs::remove_dir_all(&temp);
            live.folders.retain(|f| *f != temp);
        }
    }
}

/// The temporary folders of this process's runs being written, and whether the process is
/// being interrupted.
struct Live {
    folders: Vec<PathBuf>,
    interrupted: bool,
}

static LIVE: Mutex<Live> = Mutex::new(Live {
    folders: Vec::new(),
    interrupted: false,
});

/// The lock on [`LIVE`]; a panic while it was held leaves nothing half done that matters here.
fn live() -> MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes the temporary folder of every run of this process still being written and stops
/// any later [`RunDir::create`] or [`RunDir::commit`] (they fail with
/// [`RunDirError::Interrupted`]); returns the folders removed, or why one could not be. For a
/// signal handler that then exits the process: a run folder whose commit finished before this
/// call stays complete at its final path, and no commit starts after it.
pub fn abandon_all() -> Vec<Result<PathBuf, RunDirError>> {
    let mut live = live();
    live.interrupted = true;
    std::mem::take(&mut live.folders)
        .into_iter()
        .map(|temp| {
            remove_while_written(&temp)
                .map(|()| temp.clone())
                .map_err(io_error("remove", &temp))
        })
        .collect()
}

/// Removes `dir`, which other threads of the run may still be writing files into (a file
/// created after the listing makes a removal fail as not empty; a few tries outlast that).
fn remove_while_written(dir: &Path) -> io::Result<()> {
    let mut tries = 0;
    loop {
        match fs::remove_dir_all(dir) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(_) if tries < 20 => tries += 1,
            result => return result,
        }
    }
}

/// The default run folder: `runs_root/{name}-{first 8 hex digits of the
/// experiment file's SHA-256}`.
pub fn default_run_path(runs_root: &Path, name: &str, experiment_sha256_hex: &str) -> PathBuf {
    let short: String = experiment_sha256_hex.chars().take(8).collect();
    runs_root.join(format!("{name}-{short}"))
}

fn ensure_absent(path: &Path) -> Result<(), RunDirError> {
    match fs::symlink_metadata(path) {
        Ok(_) => Err(RunDirError::AlreadyExists(path.to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(RunDirError::Io {
            action: "inspect",
            path: path.to_owned(),
            source,
        }),
    }
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> RunDirError {
    let path = path.to_owned();
    move |source| RunDirError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_path_uses_short_hash() {
        let p = default_run_path(Path::new("runs"), "colors", "0123456789abcdef");
        assert_eq!(p, Path::new("runs/colors-01234567"));
    }

    #[test]
    fn short_hash_tolerates_short_input() {
        let p = default_run_path(Path::new("runs"), "x", "ab");
        assert_eq!(p, Path::new("runs/x-ab"));
    }

    #[test]
    fn already_exists_message_suggests_out() {
        let msg = RunDirError::AlreadyExists(PathBuf::from("runs/a")).to_string();
        assert!(msg.contains("runs/a") && msg.contains("--out"), "{msg}");
    }
}
