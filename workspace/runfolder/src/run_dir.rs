//! Atomic run folders.
//!
//! A run is written into a hidden sibling folder `.{name}.partial-{pid}` and
//! renamed into place by [`RunDir::commit`], so a run folder at its final path
//! is always complete. A [`RunDir`] dropped without commit (an error or a panic)
//! removes its temporary folder, and [`abandon_all`] removes (or keeps, for a
//! resumable run) the temporary folders of every run still being written (what a
//! signal handler calls before the process exits). A process killed outright leaves the `.partial` folder
//! behind; `cavern runs` lists it, [`RunDir::resume`] continues it and
//! `cavern runs --clean` removes it.
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
        let temp = parent.join(partial_name(&name.to_string_lossy(), std::process::id()));
        RunDir::start(temp, final_path, |temp| {
            fs::create_dir(temp).map_err(io_error("create", temp))
        })
    }

    /// Like [`RunDir::create`], but continues the newest partial folder of `final_path` left by
    /// a process that is gone and accepted by `resumable`, renamed to this process's; returns
    /// the folder and the partial folder it continues, if any.
    pub fn resume(
        final_path: &Path,
        resumable: impl Fn(&Path) -> bool,
    ) -> Result<(RunDir, Option<PathBuf>), RunDirError> {
        ensure_absent(final_path)?;
        let name = final_path
            .file_name()
            .ok_or_else(|| RunDirError::InvalidPath(final_path.to_owned()))?
            .to_string_lossy();
        let parent = final_path.parent().unwrap_or(Path::new(""));
        let listed = if parent.as_os_str().is_empty() {
            Path::new(".")
        } else {
            parent
        };
        let mut leftovers = Vec::new();
        if let Ok(entries) = fs::read_dir(listed) {
            for entry in entries.flatten() {
                let file_name = entry.file_name().to_string_lossy().into_owned();
                let Some((run_name, pid)) = split_partial_name(&file_name) else {
                    continue;
                };
                let path = parent.join(&file_name);
                if run_name == name && !process_alive(pid) && resumable(&path) {
                    let modified = entry.metadata().and_then(|m| m.modified()).ok();
                    leftovers.push((modified, path));
                }
            }
        }
        leftovers.sort();
        let Some((_, leftover)) = leftovers.pop() else {
            return Ok((RunDir::create(final_path)?, None));
        };
        let temp = parent.join(partial_name(&name, std::process::id()));
        let run = RunDir::start(temp, final_path, |temp| {
            fs::rename(&leftover, temp).map_err(io_error("take over", &leftover))
        })?;
        Ok((run, Some(leftover)))
    }

    /// Makes the temporary folder `temp` of `final_path` with `make` (unless the process is
    /// being interrupted), registers it for [`abandon_all`], and adds `tables/` and `cavs/`.
    fn start(
        temp: PathBuf,
        final_path: &Path,
        make: impl FnOnce(&Path) -> Result<(), RunDirError>,
    ) -> Result<RunDir, RunDirError> {
        {
            let mut live = live();
            if live.interrupted {
                return Err(RunDirError::Interrupted(final_path.to_owned()));
            }
            make(&temp)?;
            live.folders.push(temp.clone());
        }
        let run = RunDir {
            temp: Some(temp),
            final_path: final_path.to_owned(),
        };
        for sub in [TABLES_DIR, CAVS_DIR] {
            let dir = run.path().join(sub);
            create_within(&dir).map_err(io_error("create", &dir))?;
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
            // After an interruption the handler has removed or kept the folder; otherwise best
            // effort: Drop cannot report errors.
            if !live.interrupted {
                let _ = fs::remove_dir_all(&temp);
            }
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

/// What [`abandon_all`] does with the temporary folders of the runs still being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandon {
    /// Removes them.
    Remove,
    /// Leaves them for [`RunDir::resume`].
    Keep,
}

/// Removes (or keeps, as `what` says) the temporary folder of every run of this process still
/// being written, and stops any later [`RunDir::create`] or [`RunDir::commit`] (they fail with
/// [`RunDirError::Interrupted`]) and any removal by a dropped [`RunDir`]; returns the folders,
/// or why one could not be removed. For a signal handler that then exits the process: a run
/// folder whose commit finished before this call stays complete at its final path, and no
/// commit starts after it.
pub fn abandon_all(what: Abandon) -> Vec<Result<PathBuf, RunDirError>> {
    let mut live = live();
    live.interrupted = true;
    std::mem::take(&mut live.folders)
        .into_iter()
        .map(|temp| match what {
            Abandon::Keep => Ok(temp),
            Abandon::Remove => remove_while_written(&temp)
                .map(|()| temp.clone())
                .map_err(io_error("remove", &temp)),
        })
        .collect()
}

/// Creates the folder `dir` inside a run folder being written, if it is not there yet, without
/// creating missing parents: once an interruption has removed the run folder, writing on into
/// it fails instead of bringing the folder back.
pub(crate) fn create_within(dir: &Path) -> io::Result<()> {
    match fs::create_dir(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        result => result,
    }
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

/// The partial folder name of run folder `name` written by process `pid`.
fn partial_name(name: &str, pid: u32) -> String {
    format!(".{name}.partial-{pid}")
}

/// The run folder name and process id of a `.NAME.partial-PID` folder name.
pub(crate) fn split_partial_name(file_name: &str) -> Option<(&str, u32)> {
    let rest = file_name.strip_prefix('.')?;
    let (name, pid) = rest.rsplit_once(".partial-")?;
    Some((name, pid.parse().ok()?))
}

/// Whether process `pid` exists, where that can be told (`/proc`); elsewhere, assume not.
pub(crate) fn process_alive(pid: u32) -> bool {
    Path::new("/proc/self").exists() && Path::new("/proc").join(pid.to_string()).exists()
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
    fn resume_takes_over_the_leftover_of_a_dead_process_it_accepts() {
        let root = tempfile::tempdir().unwrap();
        let final_path = root.path().join("run");
        // No process has pid u32::MAX; the live one is this test's own.
        let dead = root.path().join(partial_name("run", u32::MAX));
        let live = root.path().join(partial_name("run", std::process::id()));
        let other = root.path().join(partial_name("other", u32::MAX));
        for dir in [&dead, &other] {
            fs::create_dir_all(dir.join("units")).unwrap();
        }
        fs::write(dead.join("units/mark"), "x").unwrap();

        let (run, taken) = RunDir::resume(&final_path, |p| !p.ends_with("nothing")).unwrap();
        assert_eq!(taken.as_deref(), Some(dead.as_path()));
        assert_eq!(run.path(), live);
        assert!(run.path().join("units/mark").is_file() && run.tables_dir().is_dir());
        assert!(!dead.exists() && other.exists());
        drop(run);

        fs::create_dir(&dead).unwrap();
        let (run, taken) = RunDir::resume(&final_path, |_| false).unwrap();
        assert_eq!(taken, None, "a refused leftover is not taken");
        assert!(dead.exists());
        assert!(!run.path().join("units/mark").exists());
    }

    #[test]
    fn partial_folder_names_give_their_run_and_pid() {
        assert_eq!(
            split_partial_name(".quickstart-1a2b.partial-4242"),
            Some(("quickstart-1a2b", 4242))
        );
        assert_eq!(split_partial_name("quickstart-1a2b.partial-4242"), None);
        assert_eq!(split_partial_name(".x.partial-"), None);
    }

    #[test]
    fn already_exists_message_suggests_out() {
        let msg = RunDirError::AlreadyExists(PathBuf::from("runs/a")).to_string();
        assert!(msg.contains("runs/a") && msg.contains("--out"), "{msg}");
    }
}
