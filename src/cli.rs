//! Command-line arguments and the thin dispatch onto the library crates.

use burn::tensor::Device;
use cavern_experiment::models::{facts, known_models};
use cavern_experiment::reference::SCHEMA_REFERENCE;
use cavern_experiment::run_dir::RunDirError;
use cavern_experiment::runner::{RunError, RunOptions, run};
use cavern_experiment::schema::{DeviceChoice, Experiment};
use cavern_experiment::validate::load_experiment;
use cavern_model::builtin::{builtin_names, load_builtin, save_checkpoint, train_toy};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
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
    fn invalid(message: impl ToString) -> Failure {
        Failure {
            message: message.to_string(),
            code: EXIT_INVALID,
        }
    }

    fn failed(message: impl ToString) -> Failure {
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
    after_help = "Exit codes: 0 success, 1 failure while running, 2 invalid input (experiment file, arguments, unknown model)."
)]
pub struct Cli {
    /// Silence progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an experiment file and write a run folder (tables, CAVs, manifest, report.html).
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
    },
    /// Check an experiment file without running it.
    Validate {
        /// The experiment file (TOML).
        file: PathBuf,
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
    /// An NVIDIA GPU (needs a build with `--features cuda`).
    Cuda,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// List the built-in models with their architecture and held-out accuracy.
    List,
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
        } => {
            let experiment = validated(&file)?;
            let choice = match device {
                Some(DeviceArg::Cpu) => DeviceChoice::Cpu,
                Some(DeviceArg::Cuda) => DeviceChoice::Cuda,
                None => experiment.device,
            };
            let options = RunOptions {
                out,
                runs_root,
                seed,
                backend: String::new(),
                quiet: cli.quiet,
            };
            run_experiment(&experiment, choice, options)
        }
        Command::Validate { file } => {
            let experiment = validated(&file)?;
            println!(
                "{}: ok ({} concept sets, {} probe and {} tcav studies on {})",
                file.display(),
                experiment.concepts.len(),
                experiment.probes.len(),
                experiment.tcavs.len(),
                experiment.model
            );
            Ok(())
        }
        Command::Schema => {
            print!("{SCHEMA_REFERENCE}");
            Ok(())
        }
        Command::TrainToy {
            name,
            seed,
            out_dir,
        } => train(&name, seed, &out_dir, cli.quiet),
        Command::Models {
            command: ModelsCommand::List,
        } => list_models(),
    }
}

/// Loads and validates an experiment file; invalid files exit with [`EXIT_INVALID`].
fn validated(file: &Path) -> Result<Experiment, Failure> {
    load_experiment(file, &facts, known_models()).map_err(Failure::invalid)
}

/// The burn device for a choice, and how the manifest names it.
fn device(choice: DeviceChoice) -> Result<(Device, String), Failure> {
    match choice {
        DeviceChoice::Cpu => Ok((Device::flex(), "flex (cpu)".into())),
        #[cfg(feature = "cuda")]
        DeviceChoice::Cuda => Ok((Device::cuda(0), "cuda:0".into())),
        #[cfg(not(feature = "cuda"))]
        DeviceChoice::Cuda => Err(Failure::invalid(
            "error: this cavern was built without CUDA; rebuild with `cargo build --release --features cuda` or use `--device cpu`",
        )),
    }
}

fn run_experiment(
    experiment: &Experiment,
    choice: DeviceChoice,
    mut options: RunOptions,
) -> Result<(), Failure> {
    let (device, backend) = device(choice)?;
    options.backend = backend;
    let model = load_builtin(&experiment.model, &device).map_err(Failure::invalid)?;
    let folder = run(experiment, &model, &options).map_err(|e| match e {
        RunError::RunDir(RunDirError::AlreadyExists(_)) => Failure::invalid(format!("error: {e}")),
        e => Failure::failed(e),
    })?;
    println!("wrote {}", folder.display());
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
    Ok(())
}

fn list_models() -> Result<(), Failure> {
    let device = burn::tensor::Device::flex();
    for name in builtin_names() {
        match load_builtin(name, &device) {
            Ok(model) => println!(
                "{name:<16} built-in  {} layers, d={}, held-out accuracy {:.4}  {}",
                model.n_layers(),
                model.card.config.d_model,
                model.card.training.heldout_accuracy,
                model.card.description
            ),
            Err(e) => println!("{name:<16} built-in  unavailable: {e}"),
        }
    }
    Ok(())
}
