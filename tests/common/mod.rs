//! Helpers shared by the integration tests that drive the `cavern` binary.

// Each integration test crate uses a different subset of these helpers.
#![allow(dead_code)]

use safetensors::SafeTensors;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (the root package's manifest directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The folder with the toy-sentiment concept sets.
pub fn concepts_dir() -> PathBuf {
    repo_root().join("concepts").join("toy-sentiment")
}

/// A `cavern` command that runs in the repository root.
pub fn cavern() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cavern"));
    cmd.current_dir(repo_root());
    cmd
}

/// Runs `cavern` with `args` in the repository root and returns its output.
pub fn run_cavern<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    cavern()
        .args(args)
        .output()
        .expect("cannot start the cavern binary")
}

/// Runs `cavern run FILE --out OUT --resume` in the repository root and returns its output.
pub fn resume(file: &Path, out: &Path) -> Output {
    cavern()
        .arg("run")
        .arg(file)
        .arg("--out")
        .arg(out)
        .arg("--resume")
        .output()
        .expect("cannot start the cavern binary")
}

/// Standard output as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Describes an output for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "status: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        stdout(out),
        stderr(out)
    )
}

/// Asserts the process exited with `code`.
pub fn assert_exit(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit code {code}\n{}",
        describe(out)
    );
}

/// Asserts standard error shows no panic.
pub fn assert_no_panic(out: &Output) {
    assert!(
        !stderr(out).contains("panicked"),
        "cavern panicked\n{}",
        describe(out)
    );
}

/// Runs the quickstart experiment into `out` (which must not exist yet) with
/// extra arguments, asserts success and returns `out`.
pub fn run_quickstart(out: &Path, extra: &[&str]) -> PathBuf {
    run_experiment(Path::new("experiments/quickstart.toml"), out, extra)
}

/// Runs the experiment `file` into `out` (which must not exist yet) with extra
/// arguments, asserts success and returns `out`.
pub fn run_experiment(file: &Path, out: &Path, extra: &[&str]) -> PathBuf {
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        file.into(),
        "--quiet".into(),
        "--out".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(Into::into));
    let output = run_cavern(&args);
    assert_exit(&output, 0);
    assert_no_panic(&output);
    assert!(out.is_dir(), "no run folder at {}", out.display());
    out.to_owned()
}

/// Names of the entries of a folder, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A CSV table: header and rows, with quoted fields (texts and tokens may hold commas).
pub struct Csv {
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Csv {
    /// Reads and parses a CSV file; every row must have the header's width.
    pub fn read(path: &Path) -> Csv {
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let mut records = Vec::new();
        let (mut record, mut field, mut quoted) = (Vec::new(), String::new(), false);
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => record.push(std::mem::take(&mut field)),
                ('\n', false) => {
                    record.push(std::mem::take(&mut field));
                    records.push(std::mem::take(&mut record));
                }
                (c, _) => field.push(c),
            }
        }
        let mut records = records.into_iter();
        let header = records.next().expect("empty CSV");
        let rows: Vec<Vec<String>> = records.collect();
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(
                row.len(),
                header.len(),
                "{} row {i} has {} fields, header has {}",
                path.display(),
                row.len(),
                header.len()
            );
        }
        Csv { header, rows }
    }

    /// Index of a column by header name.
    pub fn col(&self, name: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column `{name}` in {:?}", self.header))
    }

    /// A text field of a row.
    pub fn get<'a>(&self, row: &'a [String], name: &str) -> &'a str {
        &row[self.col(name)]
    }

    /// A numeric field of a row.
    pub fn num(&self, row: &[String], name: &str) -> f64 {
        let field = self.get(row, name);
        field
            .parse()
            .unwrap_or_else(|e| panic!("column `{name}`: `{field}` is not a number: {e}"))
    }

    /// A boolean field of a row (`true` / `false`).
    pub fn bool(&self, row: &[String], name: &str) -> bool {
        match self.get(row, name) {
            "true" => true,
            "false" => false,
            other => panic!("column `{name}`: `{other}` is not a boolean"),
        }
    }
}

/// The safetensors bytes `cavern extract` writes for every layer's `resid_post` of `input`'s
/// texts at `batch_size` (one row per token unless `extra` asks for pooling).
pub fn extract_every_layer(
    model: &str,
    input: &Path,
    extra: &[&str],
    batch_size: usize,
    dir: &Path,
) -> Vec<u8> {
    let out = dir.join(format!("{model}-{batch_size}.safetensors"));
    let batch_size = batch_size.to_string();
    let mut args = vec![
        "extract",
        "-q",
        "--model",
        model,
        "--input",
        input.to_str().unwrap(),
        "--batch-size",
        &batch_size,
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    assert_exit(&run_cavern(args), 0);
    let bytes = fs::read(&out).unwrap();
    fs::remove_file(out).unwrap();
    bytes
}

/// Largest |a − b| over the f32 tensors of two safetensors files with the same tensors.
pub fn max_difference(a: &[u8], b: &[u8]) -> f32 {
    let (a, b) = (
        SafeTensors::deserialize(a).unwrap(),
        SafeTensors::deserialize(b).unwrap(),
    );
    let floats = |t: safetensors::tensor::TensorView<'_>| -> Vec<f32> {
        t.data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect()
    };
    let mut diff = 0.0f32;
    for (name, x) in a.tensors() {
        if x.dtype() != safetensors::Dtype::F32 {
            continue;
        }
        let y = b.tensor(&name).unwrap();
        assert_eq!(x.shape(), y.shape(), "{name}");
        for (p, q) in floats(x).iter().zip(floats(y)) {
            diff = diff.max((p - q).abs());
        }
    }
    diff
}
