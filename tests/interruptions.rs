//! Runs that do not end normally: SIGINT and SIGTERM during `cavern run`, a destination that
//! cannot be written, a full disk. Each ends with one clear message and a non-zero exit code,
//! and leaves nothing at the destination (no run folder, no partial folder).

mod common;

use common::{assert_exit, assert_no_panic, cavern, concepts_dir, describe, entries, stderr};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

/// A toy-sentiment experiment in `dir` whose TCAV study trains `sets` random CAVs per concept
/// and layer (a few thousand keep it busy for many seconds); returns its path.
fn experiment(dir: &Path, sets: usize) -> PathBuf {
    let c = concepts_dir();
    let c = c.display();
    let text = format!(
        r#"[experiment]
name = "long"
seed = 3
model = "toy-sentiment"

[concepts.praise]
file = '{c}/praise.txt'

[random]
file = '{c}/random.txt'
sets = {sets}
size = 20

[[tcav]]
target = {{ class = "positive" }}
inputs = '{c}/positive_inputs.txt'
concepts = ["praise"]
layers = "all"
"#
    );
    let path = dir.join("long.toml");
    fs::write(&path, text).unwrap();
    path
}

/// Starts `cavern run FILE --quiet --out OUT EXTRA...`, waits until its partial folder is
/// there, sends `signal` and returns the partial folder's path and the process's output.
fn interrupt(file: &Path, out: &Path, extra: &[&str], signal: i32) -> (PathBuf, Output) {
    interrupt_once(file, out, extra, signal, Path::new(""))
}

/// [`interrupt`], waiting until `ready` (a path inside the partial folder; empty: the folder
/// itself) is there before the signal.
fn interrupt_once(
    file: &Path,
    out: &Path,
    extra: &[&str],
    signal: i32,
    ready: &Path,
) -> (PathBuf, Output) {
    let child = cavern()
        .args(["run", "--quiet"])
        .arg(file)
        .arg("--out")
        .arg(out)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let parent = out.parent().unwrap();
    let name = out.file_name().unwrap().to_string_lossy();
    let partial = parent.join(format!(".{name}.partial-{}", child.id()));
    let start = Instant::now();
    while !partial.join(ready).exists() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no {} after 2 minutes",
            partial.join(ready).display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let pid = i32::try_from(child.id()).unwrap();
    // SAFETY: kill(2) with the id of our own child, which has not been waited for, so the id
    // still names it.
    assert_eq!(unsafe { libc::kill(pid, signal) }, 0);
    (partial, child.wait_with_output().unwrap())
}

fn check_interruption(signal: i32, name: &str, code: i32) {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), 5000);
    let runs = dir.path().join("runs");
    let out = runs.join("long");
    let (partial, output) = interrupt(&file, &out, &[], signal);
    assert_exit(&output, code);
    assert_no_panic(&output);
    let expected = format!(
        "interrupted by {name}: removed the partial run folder {}\n",
        partial.display()
    );
    assert_eq!(stderr(&output), expected, "{}", describe(&output));
    assert!(
        entries(&runs).is_empty(),
        "left in {}: {:?}",
        runs.display(),
        entries(&runs)
    );
}

#[test]
fn sigterm_keeps_the_partial_folder_of_a_resumable_run_for_the_next_resume() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), 300);
    let out = dir.path().join("runs").join("long");
    // Signalled once the folder records what it is a run of: before that it cannot be resumed.
    let identity = Path::new("units/identity.json");
    let (partial, output) = interrupt_once(&file, &out, &["--resume"], libc::SIGTERM, identity);
    assert_exit(&output, 143);
    assert_eq!(
        stderr(&output),
        format!(
            "interrupted by SIGTERM: kept the partial run folder {} for the next `cavern run \
             FILE --resume`\n",
            partial.display()
        )
    );
    assert!(partial.is_dir() && !out.exists());
    let resumed = common::resume(&file, &out);
    assert_exit(&resumed, 0);
    assert!(
        stderr(&resumed).contains("continuing"),
        "{}",
        describe(&resumed)
    );
    assert!(out.join("manifest.json").is_file() && !partial.exists());
}

#[test]
fn sigint_removes_the_partial_folder_and_exits_130() {
    check_interruption(libc::SIGINT, "SIGINT", 130);
}

#[test]
fn sigterm_removes_the_partial_folder_and_exits_143() {
    check_interruption(libc::SIGTERM, "SIGTERM", 143);
}

#[test]
fn runs_clean_removes_the_partial_folders_of_killed_runs() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), 5000);
    let runs = dir.path().join("runs");
    // SIGKILL cannot be handled: the partial folder stays, and `runs` calls it incomplete.
    let (partial, output) = interrupt(&file, &runs.join("long"), &[], libc::SIGKILL);
    assert_eq!(output.status.code(), None, "{}", describe(&output));
    assert!(partial.is_dir());
    let listed = cavern()
        .args(["runs", "--runs-root"])
        .arg(&runs)
        .output()
        .unwrap();
    assert!(
        common::stdout(&listed).contains(
            "incomplete (interrupted run: `cavern run FILE --resume` continues it, or delete it)"
        ),
        "{}",
        describe(&listed)
    );
    let cleaned = cavern()
        .args(["runs", "--clean", "--runs-root"])
        .arg(&runs)
        .output()
        .unwrap();
    assert_exit(&cleaned, 0);
    assert_eq!(stderr(&cleaned), format!("removed {}\n", partial.display()));
    assert!(entries(&runs).is_empty(), "{:?}", entries(&runs));
}

/// Runs the quickstart-sized experiment into `out` with `prepare` applied to the child before
/// it starts, and asserts it fails (exit 1) with a message naming `names`, without a panic.
fn failed_write(
    file: &Path,
    out: &Path,
    names: &Path,
    prepare: impl FnMut() -> std::io::Result<()> + Send + Sync + 'static,
) -> String {
    let mut command = cavern();
    command
        .args(["run", "--quiet"])
        .arg(file)
        .arg("--out")
        .arg(out);
    // SAFETY: `prepare` only makes async-signal-safe system calls.
    unsafe { command.pre_exec(prepare) };
    let output = command.output().unwrap();
    assert_exit(&output, 1);
    assert_no_panic(&output);
    let err = stderr(&output);
    assert!(err.starts_with("error: "), "{}", describe(&output));
    assert!(
        err.contains(&names.display().to_string()),
        "the message does not name {}\n{}",
        names.display(),
        describe(&output)
    );
    err
}

#[test]
fn a_destination_that_cannot_be_written_is_a_clear_error_that_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), 4);
    let locked = dir.path().join("locked");
    fs::create_dir(&locked).unwrap();
    // Readable and searchable for everyone (the run drops root's privileges below), writable
    // for no one.
    for (path, mode) in [
        (dir.path(), 0o755),
        (file.as_path(), 0o644),
        (&locked, 0o555),
    ] {
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = locked.join("run");
    // SAFETY: geteuid(2) cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let err = failed_write(&file, &out, &out, move || {
        // Root may write anywhere: run as `nobody`, as a user would.
        // SAFETY: setgid(2)/setuid(2) are async-signal-safe.
        if root && unsafe { libc::setgid(65534) != 0 || libc::setuid(65534) != 0 } {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    });
    assert!(err.contains("Permission denied"), "{err}");
    assert!(entries(&locked).is_empty(), "{:?}", entries(&locked));
}

#[test]
fn a_full_disk_is_a_clear_error_that_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path(), 4);
    let runs = dir.path().join("runs");
    let out = runs.join("run");
    let err = failed_write(&file, &out, &runs, || {
        // Files may not grow past 4 KiB; writing more fails with EFBIG ("File too large")
        // instead of raising SIGXFSZ, as a full disk fails a write with ENOSPC.
        let limit = libc::rlimit {
            rlim_cur: 4096,
            rlim_max: 4096,
        };
        // SAFETY: signal(2) and setrlimit(2) are async-signal-safe.
        unsafe {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        Ok(())
    });
    assert!(err.contains("File too large"), "{err}");
    assert!(entries(&runs).is_empty(), "{:?}", entries(&runs));
}
