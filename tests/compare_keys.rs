//! `cavern compare` pairs the rows of every table by the key columns the manifest records: a run
//! of every study kind (two runs: the decoder-only kinds need a language model) compared with a
//! copy whose tables' rows are reversed has no differences, and with a copy in which one value of
//! each table changed has exactly those differences.

mod common;

use cavern_experiment::registry::KINDS;
use common::{assert_exit, describe, run_cavern, run_experiment};
use polars::prelude::{
    Column, DataFrame, DataType, NamedFrom, ParquetReader, ParquetWriter, SerReader, Series,
};
use serde_json::Value;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// Runs `tests/fixtures/NAME.toml` into `dir/NAME/a`.
fn every_kind(dir: &Path, name: &str) -> PathBuf {
    let file = Path::new("tests/fixtures").join(format!("{name}.toml"));
    run_experiment(&file, &dir.join(name).join("a"), &[])
}

/// A copy of run folder `from` at `to`.
fn copy(from: &Path, to: &Path) {
    fs::create_dir_all(to.join("tables")).unwrap();
    fs::create_dir_all(to.join("cavs")).unwrap();
    for sub in ["", "tables", "cavs"] {
        for entry in fs::read_dir(from.join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                fs::copy(&path, to.join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
}

/// The tables of run `run` with their key columns, from its manifest.
fn tables(run: &Path) -> Vec<(String, Vec<String>)> {
    let manifest: Value =
        serde_json::from_str(&fs::read_to_string(run.join("manifest.json")).unwrap()).unwrap();
    let keys = &manifest["table_keys"];
    (manifest["tables"].as_array().unwrap().iter())
        .map(|t| {
            let name = t.as_str().unwrap().to_owned();
            let columns = keys[&name].as_array().expect("keys of every table");
            let columns = columns.iter().map(|c| c.as_str().unwrap().to_owned());
            (name, columns.collect())
        })
        .collect()
}

/// Rewrites table `name` of `run` as `edit` changes it: the Parquet file (which `compare`
/// reads first) in its place, the CSV file removed.
fn rewrite(run: &Path, name: &str, edit: impl FnOnce(DataFrame) -> DataFrame) {
    let parquet = run.join("tables").join(format!("{name}.parquet"));
    let frame = ParquetReader::new(File::open(&parquet).unwrap())
        .finish()
        .unwrap();
    let mut frame = edit(frame);
    ParquetWriter::new(File::create(&parquet).unwrap())
        .finish(&mut frame)
        .unwrap();
    fs::remove_file(run.join("tables").join(format!("{name}.csv"))).unwrap();
}

/// `frame` with the first row's value of `column` changed.
fn change_first(mut frame: DataFrame, column: &str) -> DataFrame {
    let series = frame
        .column(column)
        .unwrap()
        .as_materialized_series()
        .clone();
    let name = series.name().clone();
    let changed = match series.dtype() {
        DataType::Float64 => {
            let mut v: Vec<Option<f64>> = series.f64().unwrap().iter().collect();
            v[0] = Some(v[0].filter(|x| x.is_finite()).map_or(0.5, |x| x + 1.0));
            Series::new(name, v)
        }
        DataType::UInt64 => {
            let mut v: Vec<Option<u64>> = series.u64().unwrap().iter().collect();
            v[0] = Some(v[0].map_or(7, |x| x + 1));
            Series::new(name, v)
        }
        DataType::Boolean => {
            let mut v: Vec<Option<bool>> = series.bool().unwrap().iter().collect();
            v[0] = Some(!v[0].unwrap_or(false));
            Series::new(name, v)
        }
        DataType::String => {
            let mut v: Vec<Option<String>> = (series.str().unwrap().iter())
                .map(|s| s.map(str::to_owned))
                .collect();
            v[0] = Some(format!("{}~", v[0].clone().unwrap_or_default()));
            Series::new(name, v)
        }
        other => panic!("column {column} has type {other}"),
    };
    frame.replace(column, Column::from(changed)).unwrap();
    frame
}

/// `cavern compare a b --json`.
fn compare(a: &Path, b: &Path) -> Value {
    let out = run_cavern([
        "compare".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}\n{}", describe(&out)))
}

#[test]
fn compare_pairs_every_table_s_rows_by_its_keys() {
    let dir = tempfile::tempdir().unwrap();
    let runs = ["every_kind", "every_decoder_kind"].map(|name| every_kind(dir.path(), name));
    let all: Vec<(String, Vec<String>)> = runs.iter().flat_map(|a| tables(a)).collect();
    let written: Vec<&str> = all.iter().map(|(t, _)| t.as_str()).collect();
    for table in KINDS.iter().flat_map(|k| k.tables()) {
        assert!(
            written.contains(&table.name),
            "the fixture writes no {} table",
            table.name
        );
    }
    assert!(
        written.contains(&"examples") && written.contains(&"head"),
        "{written:?}"
    );
    for a in &runs {
        reordered_and_changed_rows_are_paired_by_keys(a);
    }
}

/// Run `a` against a copy with every table's rows reversed (no differences), and against one
/// with one value of each table changed (exactly that difference).
fn reordered_and_changed_rows_are_paired_by_keys(a: &Path) {
    let dir = a.parent().unwrap();
    let tables = tables(a);

    // Every table's rows reversed: nothing differs.
    let reversed = dir.join("reversed");
    copy(a, &reversed);
    for (name, _) in &tables {
        rewrite(&reversed, name, |frame| frame.reverse());
    }
    let report = compare(a, &reversed);
    assert_eq!(report["differs"], false, "{report:#}");

    // One value of each table changed (the first row's first column that is not a key): each
    // table has exactly that one difference.
    let changed = dir.join("changed");
    copy(a, &changed);
    let mut expected = Vec::new();
    for (name, keys) in &tables {
        let mut column = String::new();
        rewrite(&changed, name, |frame| {
            let names: Vec<String> = frame
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect();
            column = names.into_iter().find(|c| !keys.contains(c)).unwrap();
            change_first(frame, &column).reverse()
        });
        expected.push((name.clone(), column));
    }
    let report = compare(a, &changed);
    for (name, column) in expected {
        let table = (report["tables"].as_array().unwrap().iter())
            .find(|t| t["table"] == name.as_str())
            .unwrap_or_else(|| panic!("no table {name}"));
        let cells = table["changed"].as_array().unwrap();
        assert_eq!(cells.len(), 1, "{name}: {table:#}");
        assert_eq!(cells[0]["column"], column.as_str(), "{name}: {table:#}");
        assert_eq!(table["only_in_a"], Value::Array(Vec::new()), "{name}");
        assert_eq!(table["only_in_b"], Value::Array(Vec::new()), "{name}");
    }
}
