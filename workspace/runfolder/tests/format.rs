//! The run folder's files: tables written as Parquet and CSV, atomic run folders and the
//! manifest.

use cavern_runfolder::manifest::{ExperimentInfo, MANIFEST_FILE, Manifest, ModelInfo, Timing};
use cavern_runfolder::run_dir::{RunDir, RunDirError, default_run_path};
use cavern_runfolder::table::{Table, TableError};
use polars::prelude::{
    CsvReadOptions, DataFrame, DataType, Field, ParquetReader, Schema, SerReader,
};
use std::error::Error;
use std::fs::{self, File};
use std::path::Path;
use std::sync::Arc;

type TestResult = Result<(), Box<dyn Error>>;

const FLOATS: [f64; 6] = [0.1, 1.0 / 3.0, 1e-300, -2.5e10, f64::NAN, f64::INFINITY];

fn strings() -> Vec<String> {
    [
        "plain",
        "with,comma",
        "with \"quote\"",
        "ünïcødé",
        "",
        "two\nlines",
    ]
    .map(String::from)
    .to_vec()
}

fn sample_table() -> Result<Table, TableError> {
    Table::new("sample")?
        .with_str("concept", strings())?
        .with_f64("score", FLOATS.to_vec())?
        .with_u64("layer", vec![0, 1, 2, 3, 4, u64::from(u32::MAX) + 7])?
        .with_i64("delta", vec![-3, 0, 3, i64::MIN, i64::MAX, 42])?
        .with_bool("significant", vec![true, false, true, false, false, true])
}

fn read_parquet(path: &Path) -> Result<DataFrame, Box<dyn Error>> {
    Ok(ParquetReader::new(File::open(path)?).finish()?)
}

fn read_csv(path: &Path) -> Result<DataFrame, Box<dyn Error>> {
    let schema = Schema::from_iter([
        Field::new("concept".into(), DataType::String),
        Field::new("score".into(), DataType::Float64),
        Field::new("layer".into(), DataType::UInt64),
        Field::new("delta".into(), DataType::Int64),
        Field::new("significant".into(), DataType::Boolean),
    ]);
    Ok(CsvReadOptions::default()
        .with_schema(Some(Arc::new(schema)))
        .try_into_reader_with_file_path(Some(path.to_owned()))?
        .finish()?)
}

/// Checks names, order and every value; floats compared bit for bit.
fn assert_sample(df: &DataFrame) -> TestResult {
    let names: Vec<&str> = df.get_column_names().iter().map(|n| n.as_str()).collect();
    assert_eq!(names, ["concept", "score", "layer", "delta", "significant"]);
    let concepts: Vec<Option<&str>> = df.column("concept")?.str()?.iter().collect();
    let expected = strings();
    assert_eq!(
        concepts,
        expected
            .iter()
            .map(|s| Some(s.as_str()))
            .collect::<Vec<_>>()
    );
    let scores: Vec<u64> = df
        .column("score")?
        .f64()?
        .into_no_null_iter()
        .map(f64::to_bits)
        .collect();
    assert_eq!(scores, FLOATS.map(f64::to_bits));
    let layers: Vec<u64> = df.column("layer")?.u64()?.into_no_null_iter().collect();
    assert_eq!(layers, [0, 1, 2, 3, 4, u64::from(u32::MAX) + 7]);
    let deltas: Vec<i64> = df.column("delta")?.i64()?.into_no_null_iter().collect();
    assert_eq!(deltas, [-3, 0, 3, i64::MIN, i64::MAX, 42]);
    let flags: Vec<Option<bool>> = df.column("significant")?.bool()?.iter().collect();
    assert_eq!(flags, [true, false, true, false, false, true].map(Some));
    Ok(())
}

#[test]
fn table_round_trips_through_parquet_and_csv() -> TestResult {
    let dir = tempfile::tempdir()?;
    sample_table()?.write(dir.path())?;
    assert_sample(&read_parquet(&dir.path().join("sample.parquet"))?)?;
    assert_sample(&read_csv(&dir.path().join("sample.csv"))?)?;
    Ok(())
}

#[test]
fn csv_uses_plain_conventions() -> TestResult {
    let dir = tempfile::tempdir()?;
    Table::new("conv")?
        .with_f64("x", vec![0.1, 1.0, f64::NAN])?
        .with_bool("b", vec![true, false, true])?
        .write(dir.path())?;
    let csv = fs::read_to_string(dir.path().join("conv.csv"))?;
    assert_eq!(csv, "x,b\n0.1,true\n1.0,false\nNaN,true\n");
    Ok(())
}

#[test]
fn double_write_is_byte_identical() -> TestResult {
    let (a, b) = (tempfile::tempdir()?, tempfile::tempdir()?);
    sample_table()?.write(a.path())?;
    sample_table()?.write(b.path())?;
    for file in ["sample.parquet", "sample.csv"] {
        let (x, y) = (
            fs::read(a.path().join(file))?,
            fs::read(b.path().join(file))?,
        );
        assert!(!x.is_empty());
        assert_eq!(x, y, "{file} differs between writes");
    }
    Ok(())
}

#[test]
fn column_length_mismatch_is_an_error() -> TestResult {
    let result = Table::new("bad")?
        .with_u64("a", vec![1, 2, 3])?
        .with_f64("b", vec![1.0]);
    match result {
        Err(TableError::LengthMismatch {
            column,
            expected,
            found,
            ..
        }) => assert_eq!((column.as_str(), expected, found), ("b", 3, 1)),
        other => panic!("expected a length mismatch, got {other:?}"),
    }
    Ok(())
}

#[test]
fn run_dir_commit_renames_into_place() -> TestResult {
    let root = tempfile::tempdir()?;
    let target = root.path().join("runs/colors-01234567");
    let run = RunDir::create(&target)?;
    assert!(run.path().join("tables").is_dir());
    assert!(run.path().join("cavs").is_dir());
    assert!(
        !target.exists(),
        "final folder must not exist before commit"
    );
    fs::write(run.path().join("marker"), "x")?;
    let committed = run.commit()?;
    assert_eq!(committed, target);
    assert_eq!(fs::read_to_string(target.join("marker"))?, "x");
    assert!(target.join("tables").is_dir());
    assert_eq!(fs::read_dir(root.path().join("runs"))?.count(), 1);
    Ok(())
}

#[test]
fn run_dir_dropped_without_commit_leaves_nothing() -> TestResult {
    let root = tempfile::tempdir()?;
    let target = root.path().join("run");
    let run = RunDir::create(&target)?;
    let temp = run.path().to_owned();
    assert!(temp.is_dir());
    assert!(
        temp.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(".run.partial-"))
    );
    fs::write(temp.join("tables/t.csv"), "a\n1\n")?;
    drop(run);
    assert!(!temp.exists() && !target.exists());
    assert_eq!(fs::read_dir(root.path())?.count(), 0);
    Ok(())
}

#[test]
fn run_dir_is_removed_when_unwinding_from_a_panic() -> TestResult {
    let root = tempfile::tempdir()?;
    let target = root.path().join("run");
    let outcome = std::panic::catch_unwind(|| {
        let _run = RunDir::create(&target).map_err(|e| e.to_string());
        panic!("simulated failure mid-run");
    });
    assert!(outcome.is_err());
    assert_eq!(fs::read_dir(root.path())?.count(), 0);
    Ok(())
}

#[test]
fn run_dir_refuses_an_existing_target() -> TestResult {
    let root = tempfile::tempdir()?;
    let target = root.path().join("run");
    fs::create_dir(&target)?;
    match RunDir::create(&target) {
        Err(err @ RunDirError::AlreadyExists(_)) => {
            let msg = err.to_string();
            assert!(msg.contains(&target.display().to_string()) && msg.contains("--out"));
        }
        other => panic!("expected AlreadyExists, got {other:?}"),
    }
    assert_eq!(fs::read_dir(root.path())?.count(), 1, "no temp folder left");
    Ok(())
}

#[test]
fn default_run_path_appends_short_hash() {
    let path = default_run_path(Path::new("runs"), "colors", &"ab12cd34ef".repeat(6));
    assert_eq!(path, Path::new("runs/colors-ab12cd34"));
}

fn sample_manifest() -> Manifest {
    Manifest {
        cavern_version: "0.1.0".into(),
        git_revision: Some("0123abcd".into()),
        experiment: ExperimentInfo {
            path: "experiments/colors.toml".into(),
            name: "colors".into(),
            sha256: "ab".repeat(32),
        },
        model: ModelInfo {
            name: "tiny-gpt".into(),
            source: "built-in".into(),
            sha256: "cd".repeat(32),
            head: None,
        },
        backend: "flex (cpu)".into(),
        seed: 7,
        timings: vec![
            Timing {
                step: "activations".into(),
                seconds: 1.25,
            },
            Timing {
                step: "tcav".into(),
                seconds: 0.1,
            },
        ],
        tables: vec!["tcav".into(), "probes".into()],
        table_keys: [("tcav".to_string(), vec!["concept".to_string()])].into(),
        shard: None,
        merged_from: Vec::new(),
    }
}

#[test]
fn manifest_round_trips_through_json() -> TestResult {
    let dir = tempfile::tempdir()?;
    let manifest = sample_manifest();
    manifest.write(dir.path())?;
    let text = fs::read_to_string(dir.path().join(MANIFEST_FILE))?;
    assert!(text.ends_with("}\n") && text.contains("\n  \"seed\": 7"));
    let back: Manifest = serde_json::from_str(&text)?;
    assert_eq!(back, manifest);
    Ok(())
}
