//! Tidy result tables, written as both Parquet and CSV.
//!
//! A [`Table`] is a named list of equally long, typed columns. [`Table::write`]
//! stores it as `NAME.parquet` and `NAME.csv`. Both files are byte-identical
//! for identical input: no timestamps or random state enter either format.
//!
//! CSV conventions: a header row, `,` as separator, `\n` line endings,
//! `true`/`false` for booleans, and floats printed as the shortest decimal that
//! round-trips to the same `f64` (so `0.1` stays `0.1` and no precision is
//! lost). Non-finite floats are written as `NaN`, `inf` and `-inf`.

use std::path::{Path, PathBuf};

use polars::prelude::{
    Column as PlColumn, CsvWriter, DataFrame, IntoColumn, NamedFrom, ParquetCompression,
    ParquetWriter, PolarsError, SerWriter, Series,
};

/// Why a table could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The table name is not usable as a file stem.
    #[error("invalid table name {0:?}: use only ASCII letters, digits, '_' and '-'")]
    InvalidName(String),
    /// Two columns share a name.
    #[error("table {table}: column {column:?} appears twice")]
    DuplicateColumn {
        /// Table name.
        table: String,
        /// Repeated column name.
        column: String,
    },
    /// A column's length differs from the table's first column.
    #[error("table {table}: column {column:?} has {found} rows, expected {expected}")]
    LengthMismatch {
        /// Table name.
        table: String,
        /// Offending column name.
        column: String,
        /// Rows in the first column.
        expected: usize,
        /// Rows in the offending column.
        found: usize,
    },
    /// A row could not be turned into the table's columns.
    #[error("table {table}: {detail}")]
    Row {
        /// Table name.
        table: String,
        /// What does not fit.
        detail: String,
    },
    /// Writing an output file failed.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// File that could not be written.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Polars failed to build or serialize the table.
    #[error("cannot write {}: {source}", path.display())]
    Polars {
        /// File being written.
        path: PathBuf,
        /// Underlying error.
        source: PolarsError,
    },
}

/// Typed values of one column.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    Str(Vec<String>),
    F64(Vec<f64>),
    U64(Vec<u64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    /// Unsigned integers, `None` written as null.
    OptU64(Vec<Option<u64>>),
    /// Floats, `None` written as null.
    OptF64(Vec<Option<f64>>),
    /// One `f32` vector per row (Parquet only: CSV has no list type).
    F32List(Vec<Vec<f32>>),
}

impl Values {
    pub(crate) fn len(&self) -> usize {
        match self {
            Values::Str(v) => v.len(),
            Values::F64(v) => v.len(),
            Values::U64(v) => v.len(),
            Values::I64(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::OptU64(v) => v.len(),
            Values::OptF64(v) => v.len(),
            Values::F32List(v) => v.len(),
        }
    }

    fn to_polars(&self, name: &str) -> PlColumn {
        let name = name.into();
        match self {
            Values::Str(v) => PlColumn::new(name, v),
            Values::F64(v) => PlColumn::new(name, v),
            Values::U64(v) => PlColumn::new(name, v),
            Values::I64(v) => PlColumn::new(name, v),
            Values::Bool(v) => PlColumn::new(name, v),
            Values::OptU64(v) => PlColumn::new(name, v),
            Values::OptF64(v) => PlColumn::new(name, v),
            Values::F32List(v) => {
                let rows: Vec<Series> = v.iter().map(|r| Series::new("".into(), r)).collect();
                Series::new(name, rows).into_column()
            }
        }
    }
}

/// A named table of equally long, typed columns in a fixed order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    name: String,
    columns: Vec<(String, Values)>,
}

impl Table {
    /// Starts an empty table; `name` becomes the file stem and may contain
    /// only ASCII letters, digits, `_` and `-`.
    pub fn new(name: impl Into<String>) -> Result<Self, TableError> {
        let name = name.into();
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(TableError::InvalidName(name));
        }
        Ok(Self {
            name,
            columns: Vec::new(),
        })
    }

    /// The table name (file stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of rows (0 for a table without columns).
    pub fn n_rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, v)| v.len())
    }

    /// Appends a string column.
    pub fn with_str(self, column: &str, values: Vec<String>) -> Result<Self, TableError> {
        self.push(column, Values::Str(values))
    }

    /// Appends a 64-bit float column.
    pub fn with_f64(self, column: &str, values: Vec<f64>) -> Result<Self, TableError> {
        self.push(column, Values::F64(values))
    }

    /// Appends an unsigned 64-bit integer column.
    pub fn with_u64(self, column: &str, values: Vec<u64>) -> Result<Self, TableError> {
        self.push(column, Values::U64(values))
    }

    /// Appends a signed 64-bit integer column.
    pub fn with_i64(self, column: &str, values: Vec<i64>) -> Result<Self, TableError> {
        self.push(column, Values::I64(values))
    }

    /// Appends an unsigned integer column with missing values (nulls).
    pub fn with_opt_u64(self, column: &str, values: Vec<Option<u64>>) -> Result<Self, TableError> {
        self.push(column, Values::OptU64(values))
    }

    /// Appends a float column with missing values (nulls).
    pub fn with_opt_f64(self, column: &str, values: Vec<Option<f64>>) -> Result<Self, TableError> {
        self.push(column, Values::OptF64(values))
    }

    /// Appends a boolean column.
    pub fn with_bool(self, column: &str, values: Vec<bool>) -> Result<Self, TableError> {
        self.push(column, Values::Bool(values))
    }

    /// Appends a column holding one `f32` vector per row; such a table can only be written
    /// with [`Table::write_parquet_to`].
    pub fn with_f32_lists(self, column: &str, values: Vec<Vec<f32>>) -> Result<Self, TableError> {
        self.push(column, Values::F32List(values))
    }

    /// Appends a column of already typed values.
    pub(crate) fn with_values(self, column: &str, values: Values) -> Result<Self, TableError> {
        self.push(column, values)
    }

    fn push(mut self, column: &str, values: Values) -> Result<Self, TableError> {
        if self.columns.iter().any(|(name, _)| name == column) {
            return Err(TableError::DuplicateColumn {
                table: self.name,
                column: column.to_owned(),
            });
        }
        if !self.columns.is_empty() && values.len() != self.n_rows() {
            return Err(TableError::LengthMismatch {
                expected: self.n_rows(),
                found: values.len(),
                table: self.name,
                column: column.to_owned(),
            });
        }
        self.columns.push((column.to_owned(), values));
        Ok(self)
    }

    /// Writes `NAME.parquet` (zstd-compressed) and `NAME.csv` into `tables_dir`,
    /// which must exist.
    pub fn write(&self, tables_dir: &Path) -> Result<(), TableError> {
        let parquet = tables_dir.join(format!("{}.parquet", self.name));
        let mut df = self.to_frame(&parquet)?;
        write_parquet(&mut df, &parquet)?;
        write_csv(&mut df, &tables_dir.join(format!("{}.csv", self.name)))
    }

    /// Writes the table as one Parquet file at `path` (zstd-compressed).
    pub fn write_parquet_to(&self, path: &Path) -> Result<(), TableError> {
        let mut df = self.to_frame(path)?;
        write_parquet(&mut df, path)
    }

    fn to_frame(&self, path: &Path) -> Result<DataFrame, TableError> {
        let columns = self
            .columns
            .iter()
            .map(|(name, values)| values.to_polars(name))
            .collect();
        DataFrame::new(self.n_rows(), columns).map_err(|source| polars_error(path, source))
    }
}

fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<(), TableError> {
    let mut bytes = Vec::new();
    ParquetWriter::new(&mut bytes)
        .with_compression(ParquetCompression::Zstd(None))
        .finish(df)
        .map_err(|source| polars_error(path, source))?;
    write_file(path, &bytes)
}

fn write_csv(df: &mut DataFrame, path: &Path) -> Result<(), TableError> {
    let mut bytes = Vec::new();
    CsvWriter::new(&mut bytes)
        .include_header(true)
        .with_separator(b',')
        .finish(df)
        .map_err(|source| polars_error(path, source))?;
    write_file(path, &bytes)
}

/// Writes a table file whole: encoded in memory first, so a failing write (a full disk, a file
/// size limit) reports the operating system's error rather than the encoder's.
fn write_file(path: &Path, bytes: &[u8]) -> Result<(), TableError> {
    std::fs::write(path, bytes).map_err(|source| TableError::Io {
        path: path.to_owned(),
        source,
    })
}

fn polars_error(path: &Path, source: PolarsError) -> TableError {
    TableError::Polars {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_names_that_are_not_file_stems() {
        for bad in ["", "a/b", "..", "a b", "x.csv"] {
            assert!(matches!(Table::new(bad), Err(TableError::InvalidName(_))));
        }
        assert!(Table::new("tcav_scores-2").is_ok());
    }

    #[test]
    fn rejects_duplicate_columns() {
        let err = Table::new("t")
            .and_then(|t| t.with_u64("a", vec![1]))
            .and_then(|t| t.with_f64("a", vec![1.0]));
        assert!(matches!(err, Err(TableError::DuplicateColumn { .. })));
    }

    #[test]
    fn counts_rows() {
        let t = Table::new("t").and_then(|t| t.with_bool("b", vec![true, false]));
        assert_eq!(t.map(|t| t.n_rows()).ok(), Some(2));
    }
}
