//! `cavern`: concept probing and causal interventions on transformer models.

mod cli;
mod interrupt;
mod model_commands;
mod slurm;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    cavern_model::memory::retain_freed_memory();
    let args = cli::Cli::parse();
    let result = match args.runs_in_thread_pool() {
        true => cavern_model::threads::in_thread_pool(|| cli::dispatch(args)),
        false => cli::dispatch(args),
    };
    interrupt::settle();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}
