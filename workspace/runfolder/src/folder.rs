//! Reading a run folder back: its manifest and its tables as typed cells.

use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::run_dir::{CAVS_DIR, TABLES_DIR};
use polars::prelude::{CsvReadOptions, DataFrame, DataType, ParquetReader, PolarsError, SerReader};
use serde::Serialize;
use serde_json::Value;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Why a run folder could not be read. All of these are about the input, not about running.
#[derive(Debug, thiserror::Error)]
pub enum RunFolderError {
    /// Nothing at the path.
    #[error("run folder {} does not exist", .0.display())]
    Missing(PathBuf),
    /// A folder (or file) that is not a run folder.
    #[error("{} is not a run folder: it has no {MANIFEST_FILE}", .0.display())]
    NotARun(PathBuf),
    /// `manifest.json` is not a cavern manifest.
    #[error("{} is not a valid cavern manifest: {source}", path.display())]
    BadManifest {
        /// The manifest file.
        path: PathBuf,
        /// Parse error.
        source: serde_json::Error,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// A table file could not be parsed.
    #[error("cannot read table {}: {source}", path.display())]
    Table {
        /// The table file.
        path: PathBuf,
        /// Underlying error.
        source: PolarsError,
    },
    /// A table lacks a column, or a cell has the wrong type.
    #[error("table {}: {detail}", path.display())]
    Column {
        /// The table file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
}

/// One cell of a table, typed as the table file stores it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Cell {
    /// A missing value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer (signed or unsigned).
    Int(i128),
    /// A float (non-finite values become `null` in JSON).
    Float(f64),
    /// Text.
    Str(String),
}

impl Cell {
    /// The cell as a number, for integers and floats.
    pub fn number(&self) -> Option<f64> {
        match self {
            Cell::Int(i) => Some(*i as f64),
            Cell::Float(f) => Some(*f),
            _ => None,
        }
    }
}

impl fmt::Display for Cell {
    /// Floats print as the shortest decimal that reads back as the same `f64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cell::Null => f.write_str("null"),
            Cell::Bool(b) => write!(f, "{b}"),
            Cell::Int(i) => write!(f, "{i}"),
            Cell::Float(x) => write!(f, "{x:?}"),
            Cell::Str(s) => f.write_str(s),
        }
    }
}

/// A table of a run folder, read from `tables/NAME.parquet` (or `NAME.csv` without it).
#[derive(Debug, Clone, PartialEq)]
pub struct TableData {
    /// Table name (file stem).
    pub name: String,
    /// The file it was read from.
    pub path: PathBuf,
    /// Column names, in file order.
    pub columns: Vec<String>,
    /// Cells, one vector per column.
    cells: Vec<Vec<Cell>>,
}

impl TableData {
    /// Reads a Parquet or CSV table file (by its extension).
    pub fn read(name: &str, path: &Path) -> Result<TableData, RunFolderError> {
        let table_error = |source| RunFolderError::Table {
            path: path.to_owned(),
            source,
        };
        let frame = if path.extension().is_some_and(|e| e == "csv") {
            CsvReadOptions::default()
                .with_has_header(true)
                .with_infer_schema_length(None)
                .try_into_reader_with_file_path(Some(path.to_owned()))
                .and_then(|reader| reader.finish())
        } else {
            let file = fs::File::open(path).map_err(|source| RunFolderError::Io {
                path: path.to_owned(),
                source,
            })?;
            ParquetReader::new(file).finish()
        }
        .map_err(table_error)?;
        let cells = frame_cells(&frame).map_err(table_error)?;
        Ok(TableData {
            name: name.to_owned(),
            path: path.to_owned(),
            columns: frame
                .get_column_names()
                .iter()
                .map(|c| c.to_string())
                .collect(),
            cells,
        })
    }

    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        self.cells.first().map_or(0, Vec::len)
    }

    /// Index of a column by name.
    pub fn column_index(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The cell of column `column` (an index) in row `row`.
    pub fn cell(&self, column: usize, row: usize) -> &Cell {
        &self.cells[column][row]
    }

    /// An error about this table's contents.
    pub(crate) fn column_error(&self, detail: String) -> RunFolderError {
        RunFolderError::Column {
            path: self.path.clone(),
            detail,
        }
    }
}

/// Every column of a data frame as cells.
fn frame_cells(frame: &DataFrame) -> Result<Vec<Vec<Cell>>, PolarsError> {
    let mut out = Vec::new();
    for column in frame.columns() {
        let series = column.as_materialized_series();
        let dtype = series.dtype();
        let cells: Vec<Cell> = if dtype.is_bool() {
            let values = series.bool()?;
            values
                .iter()
                .map(|v| v.map_or(Cell::Null, Cell::Bool))
                .collect()
        } else if dtype.is_unsigned_integer() {
            let cast = series.cast(&DataType::UInt64)?;
            let values = cast.u64()?;
            let cell = |v: Option<u64>| v.map_or(Cell::Null, |v| Cell::Int(v.into()));
            values.iter().map(cell).collect()
        } else if dtype.is_integer() {
            let cast = series.cast(&DataType::Int64)?;
            let values = cast.i64()?;
            let cell = |v: Option<i64>| v.map_or(Cell::Null, |v| Cell::Int(v.into()));
            values.iter().map(cell).collect()
        } else if dtype.is_float() {
            let cast = series.cast(&DataType::Float64)?;
            let values = cast.f64()?;
            values
                .iter()
                .map(|v| v.map_or(Cell::Null, Cell::Float))
                .collect()
        } else {
            let cast = series.cast(&DataType::String)?;
            let values = cast.str()?;
            let cell = |v: Option<&str>| v.map_or(Cell::Null, |v| Cell::Str(v.to_owned()));
            values.iter().map(cell).collect()
        };
        out.push(cells);
    }
    Ok(out)
}

/// A run folder opened for reading: its path and manifest.
#[derive(Debug, Clone)]
pub struct RunFolder {
    /// The folder.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The manifest as generic JSON, for field-by-field comparison.
    pub manifest_json: Value,
}

impl RunFolder {
    /// Opens a run folder: it must exist and hold a valid `manifest.json`.
    pub fn open(path: &Path) -> Result<RunFolder, RunFolderError> {
        if !path.exists() {
            return Err(RunFolderError::Missing(path.to_owned()));
        }
        let manifest_path = path.join(MANIFEST_FILE);
        if !path.is_dir() || !manifest_path.is_file() {
            return Err(RunFolderError::NotARun(path.to_owned()));
        }
        let text = fs::read_to_string(&manifest_path).map_err(|source| RunFolderError::Io {
            path: manifest_path.clone(),
            source,
        })?;
        let (manifest, manifest_json) =
            Manifest::parse(&text).map_err(|source| RunFolderError::BadManifest {
                path: manifest_path,
                source,
            })?;
        Ok(RunFolder {
            path: path.to_owned(),
            manifest,
            manifest_json,
        })
    }

    /// Names of the tables in `tables/` (a `.parquet` or `.csv` file), sorted.
    pub fn table_names(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path.join(TABLES_DIR))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|entry| {
                let path = entry.path();
                let ext = path.extension()?.to_str()?;
                matches!(ext, "parquet" | "csv")
                    .then(|| path.file_stem()?.to_str().map(str::to_owned))
                    .flatten()
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Reads table `name` from `tables/NAME.parquet`, or `tables/NAME.csv` when there is no
    /// Parquet file; `None` when the run has neither.
    pub fn table(&self, name: &str) -> Result<Option<TableData>, RunFolderError> {
        let dir = self.path.join(TABLES_DIR);
        for ext in ["parquet", "csv"] {
            let path = dir.join(format!("{name}.{ext}"));
            if path.is_file() {
                return TableData::read(name, &path).map(Some);
            }
        }
        Ok(None)
    }

    /// The rows of table `R` (none when the run has no such table).
    pub fn rows<R: crate::rows::Row>(&self) -> Result<Vec<R>, RunFolderError> {
        match self.table(R::TABLE.name)? {
            Some(table) => crate::rows::from_table(&table),
            None => Ok(Vec::new()),
        }
    }

    /// The `cavs/` folder.
    pub fn cavs_dir(&self) -> PathBuf {
        self.path.join(CAVS_DIR)
    }
}
