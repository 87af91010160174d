//! The runner: turns a validated [`Experiment`] into a run folder.

use crate::manifest::{ExperimentInfo, Manifest, ModelInfo, Timing, git_revision};
use crate::report::{ReportInput, write_report};
use crate::run_dir::{RunDir, default_run_path};
use crate::schema::{Experiment, ProbeStudy, Target};
use crate::studies::{self, Activations, RandomSets};
use cavern_model::LoadedModel;
use indicatif::{ProgressBar, ProgressStyle};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::path::PathBuf;
use std::time::Instant;
use thiserror::Error;

/// A failure while running (the experiment itself was valid).
#[derive(Debug, Error)]
pub enum RunError {
    /// The run folder could not be created or committed.
    #[error(transparent)]
    RunDir(#[from] crate::run_dir::RunDirError),
    /// A table could not be written.
    #[error(transparent)]
    Table(#[from] crate::table::TableError),
    /// The manifest could not be written.
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    /// The report could not be rendered.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// A study failed.
    #[error(transparent)]
    Study(#[from] studies::StudyError),
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
}

/// Runs every study of `experiment` on `model` (after training and attaching its `[head]`, if
/// any) and returns the committed run folder.
pub fn run(
    experiment: &Experiment,
    mut model: LoadedModel,
    options: &RunOptions,
) -> Result<PathBuf, RunError> {
    let seed = options.seed.unwrap_or(experiment.seed);
    let final_path = match &options.out {
        Some(out) => out.clone(),
        None => default_run_path(
            &options.runs_root,
            &experiment.name,
            &run_hash(experiment, seed),
        ),
    };
    let run_dir = RunDir::create(&final_path)?;
    let mut timings = Timings::default();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let random = experiment
        .random
        .as_ref()
        .map(|pool| RandomSets::draw(pool, &mut rng))
        .unwrap_or_default();
    let head = timings.time("head", || {
        experiment
            .head
            .as_ref()
            .map(|spec| studies::head::train_and_attach(spec, experiment, &mut model, &mut rng))
            .transpose()
    })?;
    let model = &model;
    let progress = progress_bar(experiment, options.quiet);

    let mut activations = Activations::new(model, experiment.batch_size);
    let probes = timings.time("probe", || {
        run_probes(
            &experiment.probes,
            experiment,
            &random,
            &mut activations,
            &mut rng,
            &progress,
        )
    })?;
    let mut tcav = studies::tcav::TcavOutput::default();
    timings.time("tcav", || -> Result<(), RunError> {
        for (index, study) in experiment.tcavs.iter().enumerate() {
            let out = studies::tcav::run(
                index,
                study,
                experiment,
                &random,
                &mut activations,
                &mut rng,
                &progress,
            )?;
            tcav.extend(out);
        }
        Ok(())
    })?;
    let mut attention = studies::attention::AttentionOutput::default();
    let mut attention_flow = Vec::new();
    timings.time("attention", || -> Result<(), RunError> {
        for (index, study) in experiment.attentions.iter().enumerate() {
            let batch = experiment.batch_size;
            attention.extend(studies::attention::run(
                index, study, model, batch, &progress,
            )?);
            attention_flow.extend(studies::attention_flow::run(index, study, model, batch)?);
        }
        Ok(())
    })?;
    let mut attribution = studies::attribution::AttributionOutput::default();
    timings.time("attribution", || -> Result<(), RunError> {
        for (index, study) in experiment.attributions.iter().enumerate() {
            let batch = experiment.batch_size;
            attribution.extend(studies::attribution::run(
                index, study, model, batch, seed, &progress,
            )?);
        }
        Ok(())
    })?;
    let mut neighbors = studies::neighbors::NeighborsOutput::default();
    timings.time("neighbors", || -> Result<(), RunError> {
        for (index, study) in experiment.neighbors.iter().enumerate() {
            neighbors.extend(studies::neighbors::run(
                index,
                study,
                &experiment.concepts,
                &mut activations,
                &progress,
            )?);
        }
        Ok(())
    })?;
    let mut patching = studies::patching::PatchingOutput::default();
    timings.time("patching", || -> Result<(), RunError> {
        for (index, study) in experiment.patchings.iter().enumerate() {
            patching.extend(studies::patching::run(index, study, model, &progress)?);
        }
        Ok(())
    })?;
    let mut pruning = studies::pruning::PruningOutput::default();
    timings.time("pruning", || -> Result<(), RunError> {
        for (index, study) in experiment.prunings.iter().enumerate() {
            pruning.extend(studies::pruning::run(index, study, model, &progress)?);
        }
        Ok(())
    })?;
    let mut steering = studies::steering::SteeringOutput::default();
    timings.time("steering", || -> Result<(), RunError> {
        for (index, study) in experiment.steerings.iter().enumerate() {
            steering.extend(studies::steering::run(
                index,
                study,
                experiment,
                &random,
                &mut activations,
                &mut rng,
                &progress,
            )?);
        }
        Ok(())
    })?;
    let mut erasure = Vec::new();
    timings.time("erasure", || -> Result<(), RunError> {
        for (index, study) in experiment.erasures.iter().enumerate() {
            erasure.extend(studies::erasure::run(
                index,
                study,
                experiment,
                &random,
                &mut activations,
                &mut rng,
                &progress,
            )?);
        }
        Ok(())
    })?;
    let mut counterfactual = studies::counterfactual::CounterfactualOutput::default();
    timings.time("counterfactual", || -> Result<(), RunError> {
        for (index, study) in experiment.counterfactuals.iter().enumerate() {
            let batch = experiment.batch_size;
            counterfactual.extend(studies::counterfactual::run(
                index, study, model, batch, &progress,
            )?);
        }
        Ok(())
    })?;
    progress.finish_and_clear();

    let example_sets = studies::examples::example_sets(experiment);
    let mut tables = Vec::new();
    timings.time("write", || -> Result<(), RunError> {
        for table in [
            studies::examples::table(&example_sets)?,
            studies::head::table(head.as_ref())?,
            studies::probe::table(&probes.rows)?,
            studies::probe::relative_table(&probes.relative)?,
            studies::probe::decomposition_table(&probes.decomposition)?,
            studies::tcav::summary_table(&tcav.rows)?,
            studies::tcav::runs_table(&tcav.runs)?,
            studies::attention::heads_table(&attention.heads)?,
            studies::attention::pattern_table(&attention.pattern)?,
            studies::attribution::tokens_table(&attribution.tokens)?,
            studies::attribution::summary_table(&attribution.summary)?,
            studies::patching::table(&patching.rows)?,
            studies::patching::summary_table(&patching.summary)?,
            studies::patching::pairs_table(&patching.pairs)?,
            studies::pruning::heads_table(&pruning.heads)?,
            studies::pruning::curve_table(&pruning.curve)?,
            studies::attention_flow::table(&attention_flow)?,
            studies::neighbors::neighbors_table(&neighbors.neighbors)?,
            studies::neighbors::prototypes_table(&neighbors.prototypes)?,
            studies::steering::rows_table(&steering.rows)?,
            studies::steering::summary_table(&steering.summary)?,
            studies::steering::flips_table(&steering.flips)?,
            studies::erasure::table(&erasure)?,
            studies::counterfactual::rows_table(&counterfactual.rows)?,
            studies::counterfactual::summary_table(&counterfactual.swaps)?,
        ] {
            if table.n_rows() > 0 {
                table.write(&run_dir.tables_dir())?;
                tables.push(table.name().to_string());
            }
        }
        for cav in &tcav.cavs {
            cav.write(&run_dir.cavs_dir())?;
        }
        Ok(())
    })?;
    let manifest = Manifest {
        cavern_version: env!("CARGO_PKG_VERSION").to_string(),
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
            head: head.clone(),
        },
        backend: options.backend.clone(),
        seed,
        timings: timings.0,
        tables,
    };
    manifest.write(run_dir.path())?;
    write_report(
        run_dir.path(),
        &ReportInput {
            title: experiment.name.clone(),
            experiment_toml: experiment.source_text.clone(),
            manifest: &manifest,
            tcav: tcav.rows.clone(),
            tcav_runs: tcav.runs.clone(),
            example_sets,
            probes: probes.rows.clone(),
            attention: attention.heads,
            attributions: attribution.tokens,
            attribution_summary: attribution.summary,
            patching: patching.rows,
            patching_summary: patching.summary,
            pruning_heads: pruning.heads,
            pruning_curve: pruning.curve,
            attention_flow,
            neighbors: neighbors.neighbors,
            prototypes: neighbors.prototypes,
            steering: studies::SteeringResults {
                steering: steering.rows,
                steering_summary: steering.summary,
                steering_flips: steering.flips,
                erasure,
                counterfactual_swaps: counterfactual.swaps,
            },
        },
    )?;
    Ok(run_dir.commit()?)
}

fn run_probes(
    probes: &[ProbeStudy],
    experiment: &Experiment,
    random: &RandomSets,
    activations: &mut Activations,
    rng: &mut ChaCha8Rng,
    progress: &ProgressBar,
) -> Result<studies::probe::ProbeOutput, RunError> {
    let mut out = studies::probe::ProbeOutput::default();
    for study in probes {
        let study_out = studies::probe::run(study, experiment, random, activations, rng, progress)?;
        out.rows.extend(study_out.rows);
        out.relative.extend(study_out.relative);
        out.decomposition.extend(study_out.decomposition);
    }
    Ok(out)
}

/// Short hash naming a default run folder: the experiment file and the effective seed.
fn run_hash(experiment: &Experiment, seed: u64) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{}:{seed}", experiment.source_sha256));
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn progress_bar(experiment: &Experiment, quiet: bool) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let cells: usize = experiment
        .probes
        .iter()
        .map(|p| p.concepts.len() * p.layers.len() * p.sites.len())
        .chain(
            experiment
                .tcavs
                .iter()
                .map(|t| t.concepts.len() * t.layers.len()),
        )
        .chain(experiment.attentions.iter().map(|a| a.layers.len()))
        .chain(experiment.attributions.iter().map(|a| a.inputs.len()))
        .chain(
            experiment
                .patchings
                .iter()
                .map(|p| p.sites.len() * p.directions.len()),
        )
        .chain(experiment.prunings.iter().map(|_| 2))
        .chain(experiment.neighbors.iter().map(|_| 1))
        .chain(experiment.steerings.iter().map(|s| s.layers.len()))
        .chain(experiment.erasures.iter().map(|e| e.methods.len()))
        .chain(experiment.counterfactuals.iter().map(|_| 1))
        .sum();
    let bar = ProgressBar::new(cells as u64);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} {msg:<28} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}

/// Wall-clock seconds per step, in the order the steps ran.
#[derive(Default)]
struct Timings(Vec<Timing>);

impl Timings {
    fn time<T>(&mut self, step: &str, work: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = work();
        self.0.push(Timing {
            step: step.to_string(),
            seconds: start.elapsed().as_secs_f64(),
        });
        out
    }
}

/// The name of a target in tables: `class:positive` or `token:Paris`.
pub fn target_label(target: &Target) -> String {
    match target {
        Target::Class(c) => format!("class:{c}"),
        Target::Token(t) => format!("token:{t}"),
    }
}
