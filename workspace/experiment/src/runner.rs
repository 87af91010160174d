//! The runner: turns a validated [`Experiment`] into a run folder.
//!
//! The random sets are drawn, the `[head]` is trained, then every study kind in the registry's
//! order runs its studies, each saved as a unit of work, and the tables are written from the
//! units. The manifest lists the tables with their key
//! columns and the time of each step that ran, and the report is rendered from the tables read
//! back from the folder, as `cavern report` renders it.

use crate::engine::activations::Activations;
use crate::engine::head::{self, train_and_attach};
use crate::engine::random::RandomSets;
use crate::engine::units::UnitWork;
use crate::engine::{StudyContext, StudyError};
use crate::plan::Experiment;
use crate::registry::KINDS;
use crate::report::{ReportBuildError, write_report};
use crate::shard::{Shard, all_units};
use crate::study::KindError;
use cavern_model::LoadedModel;
use cavern_runfolder::TableInfo;
use cavern_runfolder::examples::{self, ExampleSet};
use cavern_runfolder::manifest::{
    ExperimentInfo, Manifest, ManifestError, ModelInfo, ShardInfo, Timing,
};
use cavern_runfolder::report::ReportError;
use cavern_runfolder::rows::Rows;
use cavern_runfolder::run_dir::{RunDir, RunDirError, default_run_path};
use cavern_runfolder::table::TableError;
use cavern_runfolder::units::{UnitError, UnitId, Units, UnitsIdentity};
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;
use thiserror::Error;

/// A failure while running (the experiment itself was valid).
#[derive(Debug, Error)]
pub enum RunError {
    /// The run folder could not be created or committed.
    #[error(transparent)]
    RunDir(#[from] cavern_runfolder::run_dir::RunDirError),
    /// A table could not be written.
    #[error(transparent)]
    Table(#[from] cavern_runfolder::table::TableError),
    /// The manifest could not be written.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The report could not be rendered.
    #[error(transparent)]
    Report(#[from] ReportBuildError),
    /// A study failed.
    #[error(transparent)]
    Study(#[from] StudyError),
    /// A unit of work could not be saved or read back.
    #[error(transparent)]
    Unit(#[from] UnitError),
    /// A file of the run folder could not be written.
    #[error("cannot write {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A file of the run folder could not be written (a read-only destination, a full disk);
    /// the partial folder has been removed.
    #[error("cannot write the run folder {} (nothing was left there): {source}", folder.display())]
    Write {
        /// The run folder's final path.
        folder: PathBuf,
        /// What failed.
        source: Box<RunError>,
    },
}

impl RunError {
    /// A failure to write into the run folder `folder` as [`RunError::Write`]; other failures
    /// (a study's, a folder that already exists) as they are.
    fn writing(self, folder: &Path) -> RunError {
        match self {
            RunError::RunDir(RunDirError::Io { .. })
            | RunError::Table(TableError::Io { .. })
            | RunError::Manifest(ManifestError::Io { .. })
            | RunError::Report(ReportBuildError::Render(ReportError::Io { .. }))
            | RunError::Study(StudyError::File { .. })
            | RunError::Unit(UnitError::Io { .. })
            | RunError::File { .. } => RunError::Write {
                folder: folder.to_owned(),
                source: Box::new(self),
            },
            other => other,
        }
    }
}

impl From<KindError> for RunError {
    fn from(error: KindError) -> Self {
        match error {
            KindError::Study(e) => RunError::Study(e),
            KindError::Table(e) => RunError::Table(e),
            KindError::Unit(e) => RunError::Unit(e),
        }
    }
}

/// Where and how to run.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Exact output folder; `runs_root/<name>-<hash>` when absent.
    pub out: Option<PathBuf>,
    /// Parent of default run folders.
    pub runs_root: PathBuf,
    /// Overrides the experiment's seed.
    pub seed: Option<u64>,
    /// Backend description for the manifest.
    pub backend: String,
    /// Hide progress bars.
    pub quiet: bool,
    /// Run only this shard of the studies and write a shard folder for `cavern merge`.
    pub shard: Option<Shard>,
    /// Continue the partial folder a killed run of the same experiment left, if there is one.
    pub resume: bool,
}

/// File of a shard folder holding the experiment file's text, for the merged run's report.
pub const EXPERIMENT_COPY: &str = "experiment.toml";

/// Runs every study of `experiment` on `model` (after training and attaching its `[head]`, if
/// any) and returns the committed run folder; with a shard, runs that shard's studies and
/// returns the shard folder.
///
/// Each study is a unit of work, saved in the folder being written as it finishes: a killed
/// run continued with [`RunOptions::resume`] redoes only the units it had not finished, and
/// the tables are always written from the saved units, as `cavern merge` writes them from the
/// shards', so all three give the same tables.
pub fn run(
    experiment: &Experiment,
    model: LoadedModel,
    options: &RunOptions,
) -> Result<PathBuf, RunError> {
    let seed = options.seed.unwrap_or(experiment.seed);
    let final_path = options.out.clone().unwrap_or_else(|| {
        let run = default_run_folder(experiment, &options.runs_root, seed);
        match options.shard {
            Some(shard) => run.with_file_name(format!(
                "{}.shard-{}-of-{}",
                run.file_name().unwrap_or_default().to_string_lossy(),
                shard.index,
                shard.count
            )),
            None => run,
        }
    });
    run_into(experiment, model, options, seed, &final_path).map_err(|e| e.writing(&final_path))
}

/// [`run`] into the run folder `final_path`.
fn run_into(
    experiment: &Experiment,
    mut model: LoadedModel,
    options: &RunOptions,
    seed: u64,
    final_path: &Path,
) -> Result<PathBuf, RunError> {
    let identity = UnitsIdentity {
        experiment_sha256: experiment.source_sha256.clone(),
        model_sha256: model.sha256.clone(),
        seed,
        cavern_version: env!("CARGO_PKG_VERSION").to_string(),
        shard: options.shard.map(|s| s.to_string()),
    };
    let (run_dir, continued) = if options.resume {
        RunDir::resume(final_path, |partial| Units::belong_to(partial, &identity))?
    } else {
        (RunDir::create(final_path)?, None)
    };
    let units = Units::open(run_dir.path(), &identity)?;
    let all = all_units(experiment);
    let mine: HashSet<UnitId> = match options.shard {
        Some(shard) => shard.units(&all).into_iter().collect(),
        None => all.iter().map(|(id, _)| id.clone()).collect(),
    };
    let work = UnitWork {
        units: &units,
        mine: &mine,
    };
    if let Some(partial) = continued.filter(|_| !options.quiet) {
        let done = mine.iter().filter(|id| units.is_done(id)).count();
        eprintln!(
            "continuing {}: {done} of {} studies already done",
            partial.display(),
            mine.len()
        );
    }
    let mut timings = Vec::new();
    // The run's own random stream draws the random sets, then trains the head; each study
    // draws from its unit's stream.
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let random = experiment
        .random
        .as_ref()
        .map(|pool| RandomSets::draw(pool, &mut rng))
        .unwrap_or_default();
    let head = match &experiment.head {
        Some(spec) => Some(timed(&mut timings, "head", || {
            train_and_attach(spec, experiment, &mut model, &mut rng)
        })?),
        None => None,
    };
    let model = &model;
    let remaining: usize = all
        .iter()
        .filter(|(id, _)| work.wants(id))
        .map(|(_, units)| units)
        .sum();
    let progress = progress_bar(remaining, options.quiet);
    let mut activations = Activations::new(model, experiment.batch_size);
    let mut cx = StudyContext {
        model,
        experiment,
        seed,
        random: &random,
        activations: &mut activations,
        rng: &mut rng,
        progress: &progress,
        index: 0,
    };
    for kind in KINDS {
        let studies: Vec<_> = experiment.studies_of(kind.name()).collect();
        if studies.is_empty() {
            continue;
        }
        timed(&mut timings, kind.name(), || {
            kind.run(&studies, &mut cx, &work)
        })?;
    }
    progress.finish_and_clear();

    let tables_dir = run_dir.tables_dir();
    let sets = example_sets(experiment);
    let files: Vec<&'static TableInfo> = timed(&mut timings, "write", || {
        let mut files = Vec::new();
        let examples = examples::rows(&sets);
        if !examples.is_empty() {
            examples.write(&tables_dir)?;
            files.push(examples.info());
        }
        if let Some(head) = &head {
            let rows = head::rows(head);
            rows.write(&tables_dir)?;
            files.push(rows.info());
        }
        if options.shard.is_none() {
            let ids: Vec<UnitId> = all.iter().map(|(id, _)| id.clone()).collect();
            files.extend(write_studies(&ids, &|id| units.path(id), run_dir.path())?);
        }
        Ok::<_, RunError>(files)
    })?;
    let mut manifest = Manifest {
        cavern_version: identity.cavern_version.clone(),
        git_revision: git_revision(),
        experiment: ExperimentInfo {
            path: experiment.path.display().to_string(),
            name: experiment.name.clone(),
            sha256: experiment.source_sha256.clone(),
        },
        model: ModelInfo {
            name: model.name().to_string(),
            source: model.source.clone(),
            sha256: model.sha256.clone(),
            head,
        },
        backend: options.backend.clone(),
        seed,
        timings,
        tables: Vec::new(),
        table_keys: BTreeMap::new(),
        shard: None,
        merged_from: Vec::new(),
    };
    add_tables(&mut manifest, &files);
    match options.shard {
        Some(shard) => {
            let copy = run_dir.path().join(EXPERIMENT_COPY);
            fs::write(&copy, &experiment.source_text)
                .map_err(|source| RunError::File { path: copy, source })?;
            manifest.shard = Some(ShardInfo {
                index: shard.index,
                count: shard.count,
                units: all
                    .iter()
                    .map(|(id, _)| id)
                    .filter(|id| mine.contains(*id))
                    .cloned()
                    .collect(),
                all_units: all.into_iter().map(|(id, _)| id).collect(),
            });
            manifest.write(run_dir.path())?;
        }
        None => {
            units.remove()?;
            manifest.write(run_dir.path())?;
            write_report(run_dir.path(), &experiment.source_text)?;
        }
    }
    Ok(run_dir.commit()?)
}

/// Writes every study kind's tables (and other files) into the run folder `run` from the saved
/// units `ids` (every unit of the experiment, in run order), each found by `locate`; returns
/// the tables written.
pub fn write_studies(
    ids: &[UnitId],
    locate: &dyn Fn(&UnitId) -> PathBuf,
    run: &Path,
) -> Result<Vec<&'static TableInfo>, KindError> {
    let mut written = Vec::new();
    for kind in KINDS {
        let units: Vec<PathBuf> = ids
            .iter()
            .filter(|id| id.kind == kind.name())
            .map(locate)
            .collect();
        if !units.is_empty() {
            written.extend(kind.write(&units, run)?);
        }
    }
    Ok(written)
}

/// Records `files` after the manifest's tables, with their key columns.
pub fn add_tables(manifest: &mut Manifest, files: &[&'static TableInfo]) {
    for table in files {
        manifest.tables.push(table.name.to_owned());
        let keys = table.keys.iter().map(|k| k.to_string()).collect();
        manifest.table_keys.insert(table.name.to_owned(), keys);
    }
}

/// Runs `work` and records its wall-clock time as step `step`.
fn timed<T>(timings: &mut Vec<Timing>, step: &str, work: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = work();
    timings.push(Timing {
        step: step.to_string(),
        seconds: start.elapsed().as_secs_f64(),
    });
    out
}

/// Every set of texts the experiment names, for the `examples` table: the concepts, the pool,
/// then each study's inputs, kind by kind in the registry's order.
pub fn example_sets(experiment: &Experiment) -> Vec<ExampleSet> {
    let set = |kind: &str, name: String, texts: Vec<String>| ExampleSet {
        kind: kind.to_string(),
        name,
        texts,
    };
    let mut sets: Vec<ExampleSet> = experiment
        .concepts
        .iter()
        .map(|(name, texts)| set("concept", name.clone(), texts.clone()))
        .collect();
    if let Some(pool) = &experiment.random {
        sets.push(set("random", "pool".into(), pool.examples.clone()));
    }
    for kind in KINDS {
        let Some(label) = kind.inputs_set() else {
            continue;
        };
        for study in experiment.studies_of(kind.name()) {
            sets.push(set(
                label,
                study.index.to_string(),
                kind.inputs(&*study.spec),
            ));
        }
    }
    sets
}

/// The folder `cavern run` writes under `runs_root` when not told where: `NAME-HASH`.
pub fn default_run_folder(experiment: &Experiment, runs_root: &Path, seed: u64) -> PathBuf {
    default_run_path(runs_root, &experiment.name, &run_hash(experiment, seed))
}

/// Short hash naming a default run folder: the experiment file and the effective seed.
fn run_hash(experiment: &Experiment, seed: u64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}:{seed}", experiment.source_sha256));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A progress bar `units` units of work long.
fn progress_bar(units: usize, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(units as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// The git revision baked in at compile time through the `CAVERN_GIT_REVISION` environment
/// variable (see build.rs); `None` if it was unset.
pub fn git_revision() -> Option<String> {
    option_env!("CAVERN_GIT_REVISION")
        .filter(|rev| !rev.is_empty())
        .map(str::to_owned)
}
