//! `cavern merge`: the shard folders of one sharded run (`cavern run FILE --shard I/N`) put back
//! together into the run folder `cavern run FILE` writes without sharding — the same tables,
//! CAVs and report; the manifest differs only in its timings (each step's, summed over the
//! shards) and in listing the shards it was merged from.

use crate::report::write_report;
use crate::runner::{EXPERIMENT_COPY, RunError, add_tables, write_studies};
use cavern_runfolder::manifest::{Manifest, ShardInfo, Timing};
use cavern_runfolder::run_dir::{RunDir, TABLES_DIR};
use cavern_runfolder::units::{UNITS_DIR, UnitId, unit_path};
use cavern_runfolder::{RunFolder, RunFolderError};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why shards could not be merged.
#[derive(Debug, Error)]
pub enum MergeError {
    /// A folder is not a readable run folder.
    #[error(transparent)]
    Folder(#[from] RunFolderError),
    /// A folder is not a shard of the same run as the others, or is not complete.
    #[error("{}: {detail}", shard.display())]
    Shard {
        /// The shard folder.
        shard: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// No folder given is shard `index`.
    #[error(
        "shard {index}/{count} is missing: run it with `cavern run FILE --shard {index}/{count}` and give its folder too"
    )]
    Missing {
        /// The missing shard's number.
        index: usize,
        /// Shards in all.
        count: usize,
    },
    /// No folder was given.
    #[error("no shard folders given")]
    NoShards,
    /// The merged run could not be written.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// One shard folder, opened and checked on its own.
struct ShardFolder {
    path: PathBuf,
    manifest: Manifest,
    shard: ShardInfo,
}

impl ShardFolder {
    fn open(path: &Path) -> Result<ShardFolder, MergeError> {
        let folder = RunFolder::open(path)?;
        let Some(shard) = folder.manifest.shard.clone() else {
            return Err(problem(
                path,
                "not a shard folder (its manifest records no shard; it is a whole run)",
            ));
        };
        for id in &shard.units {
            if !unit_path(&path.join(UNITS_DIR), id).is_dir() {
                return Err(problem(
                    path,
                    format!("unit {id} is missing from its units/ folder; run the shard again"),
                ));
            }
        }
        Ok(ShardFolder {
            path: path.to_owned(),
            manifest: folder.manifest,
            shard,
        })
    }

    /// What differs between this shard's run and `first`'s, if anything.
    fn mismatch(&self, first: &ShardFolder) -> Option<String> {
        let (a, b) = (&self.manifest, &first.manifest);
        let differs = |what: &str, mine: &dyn std::fmt::Display, theirs: &dyn std::fmt::Display| {
            Some(format!(
                "{what} {mine}, but {} has {theirs}: it is not a shard of the same run",
                first.path.display()
            ))
        };
        if a.experiment.sha256 != b.experiment.sha256 {
            return differs(
                "comes from another experiment file: SHA-256",
                &short(&a.experiment.sha256),
                &short(&b.experiment.sha256),
            );
        }
        if a.seed != b.seed {
            return differs("has seed", &a.seed, &b.seed);
        }
        if a.model != b.model {
            return differs(
                "ran another model: SHA-256",
                &short(&a.model.sha256),
                &short(&b.model.sha256),
            );
        }
        if a.cavern_version != b.cavern_version {
            return differs("was made by cavern", &a.cavern_version, &b.cavern_version);
        }
        if self.shard.count != first.shard.count || self.shard.all_units != first.shard.all_units {
            return differs(
                "is a shard of",
                &self.shard.count,
                &format!("{} (another split)", first.shard.count),
            );
        }
        None
    }
}

/// Merges the shard folders `shards` into a new run folder at `out` and returns its path.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<PathBuf, MergeError> {
    let folders = shards
        .iter()
        .map(|path| ShardFolder::open(path))
        .collect::<Result<Vec<_>, _>>()?;
    let first = folders.first().ok_or(MergeError::NoShards)?;
    for folder in &folders {
        if let Some(detail) = folder.mismatch(first) {
            return Err(problem(&folder.path, detail));
        }
    }
    let count = first.shard.count;
    let mut by_index: Vec<Option<&ShardFolder>> = vec![None; count];
    for folder in &folders {
        let Some(slot) = by_index.get_mut(folder.shard.index) else {
            return Err(problem(
                &folder.path,
                "its shard number is past the shard count",
            ));
        };
        if let Some(other) = slot {
            return Err(problem(
                &folder.path,
                format!(
                    "is shard {}/{count}, and so is {}: give each shard once",
                    folder.shard.index,
                    other.path.display()
                ),
            ));
        }
        *slot = Some(folder);
    }
    if let Some(index) = by_index.iter().position(Option::is_none) {
        return Err(MergeError::Missing { index, count });
    }
    let mut owner: BTreeMap<&UnitId, &ShardFolder> = BTreeMap::new();
    for folder in &folders {
        for id in &folder.shard.units {
            if let Some(other) = owner.insert(id, folder) {
                return Err(problem(
                    &folder.path,
                    format!("unit {id} was also run by {}", other.path.display()),
                ));
            }
        }
    }
    if let Some(id) = first
        .shard
        .all_units
        .iter()
        .find(|id| !owner.contains_key(id))
    {
        return Err(problem(
            &first.path,
            format!("no shard ran unit {id}: the shards do not cover the experiment"),
        ));
    }

    let source_file = first.path.join(EXPERIMENT_COPY);
    let source = fs::read_to_string(&source_file)
        .map_err(|e| problem(&first.path, format!("cannot read {EXPERIMENT_COPY}: {e}")))?;
    let run_dir = RunDir::create(out).map_err(RunError::from)?;
    for table in &first.manifest.tables {
        copy_table(&first.path, run_dir.path(), table)?;
    }
    let locate = |id: &UnitId| unit_path(&owner[id].path.join(UNITS_DIR), id);
    let written =
        write_studies(&first.shard.all_units, &locate, run_dir.path()).map_err(RunError::from)?;
    let mut manifest = first.manifest.clone();
    manifest.shard = None;
    manifest.timings = summed_timings(&folders);
    manifest.merged_from = shards.iter().map(|p| p.display().to_string()).collect();
    add_tables(&mut manifest, &written);
    manifest.write(run_dir.path()).map_err(RunError::from)?;
    write_report(run_dir.path(), &source).map_err(RunError::from)?;
    Ok(run_dir.commit().map_err(RunError::from)?)
}

/// Copies table `name` (its Parquet and CSV files) from shard folder `shard` into `run`.
fn copy_table(shard: &Path, run: &Path, name: &str) -> Result<(), MergeError> {
    for ext in ["parquet", "csv"] {
        let file = format!("{name}.{ext}");
        let from = shard.join(TABLES_DIR).join(&file);
        let to = run.join(TABLES_DIR).join(&file);
        fs::copy(&from, &to).map_err(|source| RunError::File { path: to, source })?;
    }
    Ok(())
}

/// Each step's time summed over the shards, steps in the order they first appear.
fn summed_timings(folders: &[ShardFolder]) -> Vec<Timing> {
    let mut timings: Vec<Timing> = Vec::new();
    for timing in folders.iter().flat_map(|f| &f.manifest.timings) {
        match timings.iter_mut().find(|t| t.step == timing.step) {
            Some(total) => total.seconds += timing.seconds,
            None => timings.push(timing.clone()),
        }
    }
    timings
}

fn problem(shard: &Path, detail: impl Into<String>) -> MergeError {
    MergeError::Shard {
        shard: shard.to_owned(),
        detail: detail.into(),
    }
}

/// The first 12 hex digits of a SHA-256.
fn short(sha256: &str) -> String {
    sha256.chars().take(12).collect()
}
