//! Units of work saved as they finish, in the `units/` folder of the run folder being written:
//! what a killed run resumes from (`cavern run --resume`) and what `cavern merge` puts together
//! from the shards of a sharded run.
//!
//! A unit is one study, `units/KIND-INDEX/`: `TABLE.cbor` for each of its tables with rows (the
//! rows bit for bit) and `files/`, its other files laid out as in a run folder
//! (`files/cavs/...`). A unit is written under a temporary name and renamed when complete, so a
//! unit folder that exists is whole. `units/identity.json` records what the units belong to
//! (experiment file, model, seed, cavern version, shard), so no run mixes in another's work.

use crate::rows::Rows;
use crate::run_dir::{CAVS_DIR, create_within};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Subfolder of a run folder being written (and of a shard folder) holding finished units.
pub const UNITS_DIR: &str = "units";
const FILES_DIR: &str = "files";
const IDENTITY_FILE: &str = "identity.json";
const TEMP_PREFIX: &str = ".writing-";

/// One unit of work: the `index`-th study of kind `kind` (`KIND-INDEX`, as in `probe-0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct UnitId {
    /// The study kind's name.
    pub kind: String,
    /// The study's index among the file's studies of its kind, from 0.
    pub index: usize,
}

impl fmt::Display for UnitId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.kind, self.index)
    }
}

impl FromStr for UnitId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parsed = text
            .rsplit_once('-')
            .and_then(|(kind, index)| Some((kind, index.parse().ok()?)))
            .filter(|(kind, _)| !kind.is_empty());
        parsed
            .map(|(kind, index)| UnitId {
                kind: kind.to_owned(),
                index,
            })
            .ok_or_else(|| format!("`{text}` is not a unit (KIND-INDEX, as in probe-0)"))
    }
}

impl From<UnitId> for String {
    fn from(id: UnitId) -> String {
        id.to_string()
    }
}

impl TryFrom<String> for UnitId {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

/// What a run's units belong to: two runs may share units only when all of it is equal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitsIdentity {
    /// SHA-256 of the experiment file.
    pub experiment_sha256: String,
    /// SHA-256 of the model's weights.
    pub model_sha256: String,
    /// The run's seed.
    pub seed: u64,
    /// cavern's version.
    pub cavern_version: String,
    /// The shard (`I/N`) the run is, if it is one.
    pub shard: Option<String>,
}

/// Why units could not be saved or read.
#[derive(Debug, thiserror::Error)]
pub enum UnitError {
    /// A filesystem operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, e.g. "write".
        action: &'static str,
        /// Path involved.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// A saved unit's rows could not be written or read back.
    #[error("{}: {detail}", path.display())]
    Rows {
        /// The unit's table file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// The `units/` folder of a run folder being written.
#[derive(Debug)]
pub struct Units {
    dir: PathBuf,
}

impl Units {
    /// The units of the run folder being written at `run`, belonging to `identity`: created
    /// and recorded when new, with half-written units removed when resumed.
    pub fn open(run: &Path, identity: &UnitsIdentity) -> Result<Units, UnitError> {
        let dir = run.join(UNITS_DIR);
        create_within(&dir).map_err(io_error("create", &dir))?;
        for entry in fs::read_dir(&dir).map_err(io_error("read", &dir))? {
            let path = entry.map_err(io_error("read", &dir))?.path();
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            if name.starts_with(TEMP_PREFIX) {
                let removed = match path.is_dir() {
                    true => fs::remove_dir_all(&path),
                    false => fs::remove_file(&path),
                };
                removed.map_err(io_error("remove", &path))?;
            }
        }
        // Written aside and renamed: a folder either records its identity whole or not at all.
        let file = dir.join(IDENTITY_FILE);
        let aside = dir.join(format!("{TEMP_PREFIX}{IDENTITY_FILE}"));
        let json = serde_json::to_string_pretty(identity).unwrap_or_default();
        fs::write(&aside, json).map_err(io_error("write", &aside))?;
        fs::rename(&aside, &file).map_err(io_error("write", &file))?;
        Ok(Units { dir })
    }

    /// Whether the run folder being written at `run` holds units of `identity` (and so may be
    /// resumed as a run of it).
    pub fn belong_to(run: &Path, identity: &UnitsIdentity) -> bool {
        fs::read(run.join(UNITS_DIR).join(IDENTITY_FILE))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<UnitsIdentity>(&bytes).ok())
            .is_some_and(|recorded| recorded == *identity)
    }

    /// The folder of unit `id`, finished or not.
    pub fn path(&self, id: &UnitId) -> PathBuf {
        unit_path(&self.dir, id)
    }

    /// Whether unit `id` was saved.
    pub fn is_done(&self, id: &UnitId) -> bool {
        self.path(id).is_dir()
    }

    /// Starts saving unit `id`.
    pub fn begin(&self, id: &UnitId) -> Result<UnitWriter, UnitError> {
        let temp = self.dir.join(format!("{TEMP_PREFIX}{id}"));
        if temp.exists() {
            fs::remove_dir_all(&temp).map_err(io_error("remove", &temp))?;
        }
        let files = temp.join(FILES_DIR);
        for dir in [&temp, &files, &files.join(CAVS_DIR)] {
            create_within(dir).map_err(io_error("create", dir))?;
        }
        Ok(UnitWriter {
            temp,
            done: self.path(id),
        })
    }

    /// Removes the folder (once the run's tables are written from it).
    pub fn remove(self) -> Result<(), UnitError> {
        fs::remove_dir_all(&self.dir).map_err(io_error("remove", &self.dir))
    }
}

/// The folder of unit `id` in the `units/` folder `dir`.
pub fn unit_path(dir: &Path, id: &UnitId) -> PathBuf {
    dir.join(id.to_string())
}

/// A unit being saved; nothing of it counts until [`UnitWriter::finish`].
#[derive(Debug)]
pub struct UnitWriter {
    temp: PathBuf,
    done: PathBuf,
}

impl UnitWriter {
    /// Where the unit's other files go, laid out as in a run folder (with its `cavs/`).
    pub fn files_dir(&self) -> PathBuf {
        self.temp.join(FILES_DIR)
    }

    /// Saves the rows of `tables` (those that have rows) and marks the unit done.
    pub fn finish(self, tables: Vec<&mut dyn Rows>) -> Result<(), UnitError> {
        for table in tables.into_iter().filter(|t| !t.is_empty()) {
            let path = self.temp.join(format!("{}.cbor", table.info().name));
            let bytes = table.to_cbor().map_err(|detail| UnitError::Rows {
                path: path.clone(),
                detail,
            })?;
            fs::write(&path, bytes).map_err(io_error("write", &path))?;
        }
        fs::rename(&self.temp, &self.done).map_err(io_error("finish", &self.done))
    }
}

/// Reads the rows unit folder `unit` saved into `tables` (an empty table where it saved none).
pub fn load(unit: &Path, tables: Vec<&mut dyn Rows>) -> Result<(), UnitError> {
    for table in tables {
        let path = unit.join(format!("{}.cbor", table.info().name));
        match fs::read(&path) {
            Ok(bytes) => table
                .load_cbor(&bytes)
                .map_err(|detail| UnitError::Rows { path, detail })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(UnitError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Copies the other files unit folder `unit` saved into the run folder `run`.
pub fn copy_files(unit: &Path, run: &Path) -> Result<(), UnitError> {
    copy_tree(&unit.join(FILES_DIR), run)
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), UnitError> {
    let entries = match fs::read_dir(from) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(UnitError::Io {
                action: "read",
                path: from.to_owned(),
                source,
            });
        }
    };
    create_within(to).map_err(io_error("create", to))?;
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(io_error("read", from))?;
    paths.sort();
    for path in paths {
        let target = to.join(path.file_name().unwrap_or_default());
        if path.is_dir() {
            copy_tree(&path, &target)?;
        } else {
            fs::copy(&path, &target).map_err(io_error("copy", &path))?;
        }
    }
    Ok(())
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> UnitError {
    let path = path.to_owned();
    move |source| UnitError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    crate::table_rows! {
        /// A test row.
        #[table("scores", keys = [name])]
        pub struct Score {
            /// name
            pub name: String,
            /// value
            pub value: f64,
        }
    }

    fn identity(seed: u64) -> UnitsIdentity {
        UnitsIdentity {
            experiment_sha256: "ab".into(),
            model_sha256: "cd".into(),
            seed,
            cavern_version: "0".into(),
            shard: None,
        }
    }

    #[test]
    fn unit_ids_print_and_parse_as_kind_dash_index() {
        let id: UnitId = "logit_lens-12".parse().unwrap();
        assert_eq!((id.kind.as_str(), id.index), ("logit_lens", 12));
        assert_eq!(id.to_string(), "logit_lens-12");
        for bad in ["probe", "-3", "probe-x", "probe-"] {
            assert!(bad.parse::<UnitId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_finished_unit_comes_back_with_its_rows_and_files() {
        let run = tempfile::tempdir().unwrap();
        let units = Units::open(run.path(), &identity(1)).unwrap();
        let id = UnitId {
            kind: "probe".into(),
            index: 0,
        };
        let writer = units.begin(&id).unwrap();
        assert!(!units.is_done(&id), "done before finish");
        fs::write(writer.files_dir().join("cavs/a.npy"), b"npy").unwrap();
        let mut rows = vec![Score {
            name: "x".into(),
            value: f64::NAN,
        }];
        writer.finish(vec![&mut rows]).unwrap();
        assert!(units.is_done(&id));

        let mut read: Vec<Score> = Vec::new();
        load(&units.path(&id), vec![&mut read]).unwrap();
        assert_eq!(read.len(), 1);
        assert!(read[0].value.is_nan());
        let out = tempfile::tempdir().unwrap();
        copy_files(&units.path(&id), out.path()).unwrap();
        assert_eq!(fs::read(out.path().join("cavs/a.npy")).unwrap(), b"npy");
    }

    #[test]
    fn reopening_drops_half_written_units_and_identity_is_checked() {
        let run = tempfile::tempdir().unwrap();
        let units = Units::open(run.path(), &identity(1)).unwrap();
        let id = UnitId {
            kind: "tcav".into(),
            index: 1,
        };
        let half = units.begin(&id).unwrap();
        let temp = half.temp.clone();
        drop(half);
        assert!(Units::belong_to(run.path(), &identity(1)));
        assert!(!Units::belong_to(run.path(), &identity(2)));
        Units::open(run.path(), &identity(1)).unwrap();
        assert!(!temp.exists());
        assert!(!units.is_done(&id));
    }
}
