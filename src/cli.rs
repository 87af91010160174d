//! Command-line arguments and the thin dispatch onto the library crates.

use cavern_model::builtin::{builtin_names, load_builtin, save_checkpoint, train_toy};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

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

#[derive(Subcommand)]
enum ModelsCommand {
    /// List the built-in models with their architecture and held-out accuracy.
    List,
}

/// Runs the parsed command.
pub fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.command {
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

fn train(name: &str, seed: u64, out_dir: &std::path::Path, quiet: bool) -> Result<(), Failure> {
    let mut report = |step: usize, loss: f32| {
        if !quiet && step % 100 == 0 {
            eprintln!("step {step:>5}  loss {loss:.4}");
        }
    };
    let (card, model) = train_toy(name, seed, &mut report).map_err(Failure::invalid)?;
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
