//! SIGINT and SIGTERM during `cavern run`: the run stops, its partial run folder is removed (or,
//! for a `--resume` run, kept for the next `--resume`: Slurm sends SIGTERM before it preempts or
//! times out a job), one line says so on standard error, and the process exits with 128 + the
//! signal's number (130 for SIGINT, 143 for SIGTERM), as a shell reports a process the signal
//! ended.
//!
//! A thread waits for the signals (signal-hook); when one comes it calls
//! [`abandon_all`], which removes the temporary folder of the run being written under the lock
//! that also guards the final rename, so the folder is either complete at its final path (the
//! run had finished) or gone, and nothing is renamed after it.

use crate::cli::Failure;
use cavern_runfolder::run_dir::{Abandon, abandon_all};
use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once a signal is being handled.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Handles SIGINT and SIGTERM from now on, as the module docs say; `partial` says what becomes
/// of the partial run folder.
pub fn install(partial: Abandon) -> Result<(), Failure> {
    let mut signals = Signals::new([SIGINT, SIGTERM])
        .map_err(|e| Failure::failed(format!("cannot handle SIGINT and SIGTERM: {e}")))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                interrupted(signal, partial);
            }
        })
        .map_err(|e| Failure::failed(format!("cannot start the signal thread: {e}")))?;
    Ok(())
}

/// Waits for the process to end while a signal is being handled, so that what the command was
/// doing (an error from a write into the removed folder, say) prints nothing: the handler's
/// line and exit code are the process's.
pub fn settle() {
    while INTERRUPTED.load(Ordering::SeqCst) {
        std::thread::park();
    }
}

/// Removes (or keeps) the partial run folder, prints what happened and exits.
fn interrupted(signal: i32, partial: Abandon) -> ! {
    INTERRUPTED.store(true, Ordering::SeqCst);
    let name = if signal == SIGINT {
        "SIGINT"
    } else {
        "SIGTERM"
    };
    let line = interruption_line(name, partial, &abandon_all(partial));
    // Start the line at the left edge when a progress bar may be drawn on the terminal.
    let clear = if std::io::stderr().is_terminal() {
        "\r\x1b[2K"
    } else {
        ""
    };
    eprintln!("{clear}{line}");
    std::process::exit(128 + signal)
}

/// The one line an interruption prints, from what [`abandon_all`] did.
fn interruption_line(
    signal: &str,
    partial: Abandon,
    folders: &[Result<std::path::PathBuf, cavern_runfolder::run_dir::RunDirError>],
) -> String {
    let parts: Vec<String> = folders
        .iter()
        .map(|r| match (r, partial) {
            (Ok(path), Abandon::Remove) => {
                format!("removed the partial run folder {}", path.display())
            }
            (Ok(path), Abandon::Keep) => format!(
                "kept the partial run folder {} for the next `cavern run FILE --resume`",
                path.display()
            ),
            (Err(e), _) => format!("{e}; remove it with `cavern runs --clean`"),
        })
        .collect();
    match parts.is_empty() {
        true => format!("interrupted by {signal}: no run folder was being written"),
        false => format!("interrupted by {signal}: {}", parts.join("; ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cavern_runfolder::run_dir::RunDirError;
    use std::path::PathBuf;

    #[test]
    fn the_line_names_the_signal_and_the_folder() {
        let removed = [Ok(PathBuf::from("runs/.q-1.partial-7"))];
        assert_eq!(
            interruption_line("SIGINT", Abandon::Remove, &removed),
            "interrupted by SIGINT: removed the partial run folder runs/.q-1.partial-7"
        );
        assert_eq!(
            interruption_line("SIGTERM", Abandon::Keep, &removed),
            "interrupted by SIGTERM: kept the partial run folder runs/.q-1.partial-7 for the next \
             `cavern run FILE --resume`"
        );
        assert_eq!(
            interruption_line("SIGTERM", Abandon::Remove, &[]),
            "interrupted by SIGTERM: no run folder was being written"
        );
        let failed = [Err(RunDirError::Io {
            action: "remove",
            path: PathBuf::from("runs/.q-1.partial-7"),
            source: std::io::Error::other("busy"),
        })];
        let line = interruption_line("SIGINT", Abandon::Remove, &failed);
        assert!(
            line.contains("cannot remove runs/.q-1.partial-7: busy")
                && line.contains("cavern runs --clean"),
            "{line}"
        );
    }
}
