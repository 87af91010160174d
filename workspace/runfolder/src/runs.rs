//! `cavern runs`: the run folders under a folder, with their state.

use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::run_dir::{process_alive, split_partial_name};
use serde::Serialize;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The state of a folder under the runs root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// A committed run folder with a readable manifest.
    Complete,
    /// A `.NAME.partial-PID` folder whose process is gone: an interrupted run.
    Incomplete,
    /// A `.NAME.partial-PID` folder whose process is still alive: a run in progress.
    Running,
    /// A folder with a `manifest.json` that cannot be read as a manifest.
    Unreadable,
}

impl RunStatus {
    /// The status as `cavern runs` prints it.
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Incomplete => {
                "incomplete (interrupted run: `cavern run FILE --resume` continues it, or delete it)"
            }
            RunStatus::Running => "running (its process is still alive)",
            RunStatus::Unreadable => "unreadable (manifest.json is not a cavern manifest)",
        }
    }
}

/// One folder listed by `cavern runs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEntry {
    /// Folder name.
    pub name: String,
    /// Folder path.
    pub path: PathBuf,
    /// The folder's modification time, UTC, `YYYY-MM-DD HH:MM`.
    pub date: String,
    /// Model name from the manifest.
    pub model: Option<String>,
    /// Seed from the manifest.
    pub seed: Option<u64>,
    /// State of the folder.
    pub status: RunStatus,
}

/// The run folders directly under `root` (folders with a `manifest.json`) and the leftover
/// `.NAME.partial-PID` folders of runs that did not finish, sorted by date, then name. A root
/// that does not exist holds no runs.
pub fn list_runs(root: &Path) -> io::Result<Vec<RunEntry>> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let partial = split_partial_name(&name).map(|(_, pid)| pid);
        let manifest_path = path.join(MANIFEST_FILE);
        let manifest = fs::read_to_string(&manifest_path)
            .ok()
            .map(|text| Manifest::parse(&text).map(|(m, _)| m).ok());
        let status = match (partial, &manifest) {
            (Some(pid), _) if process_alive(pid) => RunStatus::Running,
            (Some(_), _) => RunStatus::Incomplete,
            (None, Some(Some(_))) => RunStatus::Complete,
            (None, Some(None)) => RunStatus::Unreadable,
            (None, None) => continue,
        };
        let manifest = manifest.flatten();
        runs.push(RunEntry {
            name,
            date: utc_minute(entry.metadata()?.modified()?),
            model: manifest.as_ref().map(|m| m.model.name.clone()),
            seed: manifest.as_ref().map(|m| m.seed),
            path,
            status,
        });
    }
    runs.sort_by(|a, b| (&a.date, &a.name).cmp(&(&b.date, &b.name)));
    Ok(runs)
}

/// Why `cavern runs --clean` stopped.
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct CleanError {
    /// What was being done: "list the runs in" or "remove".
    action: &'static str,
    /// The folder.
    path: PathBuf,
    /// Underlying error.
    source: io::Error,
}

/// Removes the `.NAME.partial-PID` folders under `root` whose process is gone (the
/// [`RunStatus::Incomplete`] ones [`list_runs`] lists) and returns them; folders of runs in
/// progress and run folders are left alone.
pub fn clean_incomplete(root: &Path) -> Result<Vec<PathBuf>, CleanError> {
    let runs = list_runs(root).map_err(|source| CleanError {
        action: "list the runs in",
        path: root.to_owned(),
        source,
    })?;
    let mut removed = Vec::new();
    for run in runs {
        if run.status == RunStatus::Incomplete {
            fs::remove_dir_all(&run.path).map_err(|source| CleanError {
                action: "remove",
                path: run.path.clone(),
                source,
            })?;
            removed.push(run.path);
        }
    }
    Ok(removed)
}

/// A time as UTC `YYYY-MM-DD HH:MM`.
pub fn utc_minute(time: SystemTime) -> String {
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `cavern runs --json`: an array of runs with name, path, date, model, seed, status
/// (`complete`, `incomplete`, `running`, `unreadable`) and the status as printed (`note`).
pub fn runs_json(runs: &[RunEntry]) -> String {
    #[derive(Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        entry: &'a RunEntry,
        note: &'static str,
    }
    let rows: Vec<Row> = runs
        .iter()
        .map(|entry| Row {
            entry,
            note: entry.status.label(),
        })
        .collect();
    pretty(&rows)
}

/// Pretty-printed JSON of a value whose serialization cannot fail (plain structs, no maps with
/// non-string keys).
fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(utc_minute(UNIX_EPOCH), "1970-01-01 00:00");
        let t = UNIX_EPOCH + Duration::from_secs(951_825_659); // 2000-02-29 12:00:59
        assert_eq!(utc_minute(t), "2000-02-29 12:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599); // 2026-12-31 23:59:59
        assert_eq!(utc_minute(t), "2026-12-31 23:59");
    }

    #[test]
    fn clean_removes_only_partial_folders_whose_process_is_gone() {
        let root = tempfile::tempdir().unwrap();
        // No process has this id (above the kernel's limit); this test's process is alive.
        let dead = root.path().join(".a.partial-4000000000");
        let alive = root
            .path()
            .join(format!(".b.partial-{}", std::process::id()));
        let complete = root.path().join("c");
        for dir in [&dead, &alive, &complete] {
            fs::create_dir_all(dir.join("tables")).unwrap();
        }
        fs::write(complete.join(MANIFEST_FILE), "{}").unwrap();
        assert_eq!(clean_incomplete(root.path()).unwrap(), vec![dead.clone()]);
        assert!(!dead.exists() && alive.is_dir() && complete.is_dir());
        assert!(clean_incomplete(root.path()).unwrap().is_empty());
        assert!(
            clean_incomplete(&root.path().join("none"))
                .unwrap()
                .is_empty()
        );
    }
}
