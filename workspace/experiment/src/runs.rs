//! Reading run folders back: listing the runs under a folder, opening one (its manifest and
//! tables), turning its tables back into study results, re-rendering its report, and the JSON
//! summaries the CLI prints with `--json`.

mod steering;

use crate::error::ExperimentError;
use crate::manifest::{MANIFEST_FILE, Manifest};
use crate::report::{REPORT_FILE, ReportError, ReportInput, render_report};
use crate::run_dir::{CAVS_DIR, TABLES_DIR};
use crate::schema::Experiment;
use crate::studies::attention::AttentionHead;
use crate::studies::attention_flow::FlowCell;
use crate::studies::attribution::{AttributionSummary, TokenAttribution};
use crate::studies::examples::ExampleSet;
use crate::studies::neighbors::{Neighbor, Prototype};
use crate::studies::patching::{PatchingRow, PatchingSummary};
use crate::studies::probe::ProbeResult;
use crate::studies::pruning::{CurveRow, PrunedHead};
use crate::studies::tcav::{TcavResult, TcavRun};
use cavern_probe::measures::Measures;
use polars::prelude::{CsvReadOptions, DataFrame, DataType, ParquetReader, PolarsError, SerReader};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

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

    fn named(&self, column: &str, row: usize) -> Result<&Cell, RunFolderError> {
        let index = self
            .column_index(column)
            .ok_or_else(|| self.column_error(format!("no column `{column}`")))?;
        Ok(self.cell(index, row))
    }

    fn column_error(&self, detail: String) -> RunFolderError {
        RunFolderError::Column {
            path: self.path.clone(),
            detail,
        }
    }

    fn type_error(&self, column: &str, row: usize, expected: &str) -> RunFolderError {
        self.column_error(format!("column `{column}` row {row} is not {expected}"))
    }

    fn text(&self, column: &str, row: usize) -> Result<String, RunFolderError> {
        match self.named(column, row)? {
            Cell::Str(s) => Ok(s.clone()),
            _ => Err(self.type_error(column, row, "text")),
        }
    }

    fn float(&self, column: &str, row: usize) -> Result<f64, RunFolderError> {
        self.named(column, row)?
            .number()
            .ok_or_else(|| self.type_error(column, row, "a number"))
    }

    fn count(&self, column: &str, row: usize) -> Result<usize, RunFolderError> {
        match self.named(column, row)? {
            Cell::Int(i) => {
                usize::try_from(*i).map_err(|_| self.type_error(column, row, "a count"))
            }
            _ => Err(self.type_error(column, row, "an integer")),
        }
    }

    /// A count, or `None` for a null cell.
    fn opt_count(&self, column: &str, row: usize) -> Result<Option<usize>, RunFolderError> {
        match self.named(column, row)? {
            Cell::Null => Ok(None),
            _ => self.count(column, row).map(Some),
        }
    }

    /// A number, or `None` for a null cell.
    fn opt_float(&self, column: &str, row: usize) -> Result<Option<f64>, RunFolderError> {
        match self.named(column, row)? {
            Cell::Null => Ok(None),
            _ => self.float(column, row).map(Some),
        }
    }

    fn flag(&self, column: &str, row: usize) -> Result<bool, RunFolderError> {
        match self.named(column, row)? {
            Cell::Bool(b) => Ok(*b),
            _ => Err(self.type_error(column, row, "true or false")),
        }
    }

    /// The rows as `tcav` results.
    pub fn tcav_results(&self) -> Result<Vec<TcavResult>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(TcavResult {
                    concept: self.text("concept", r)?,
                    target: self.text("target", r)?,
                    layer: self.count("layer", r)?,
                    site: self.text("site", r)?,
                    tcav_mean: self.float("tcav_mean", r)?,
                    tcav_std: self.float("tcav_std", r)?,
                    tcav_ci: (
                        self.float("tcav_ci_low", r)?,
                        self.float("tcav_ci_high", r)?,
                    ),
                    random_mean: self.float("random_mean", r)?,
                    random_std: self.float("random_std", r)?,
                    t_statistic: self.float("t_statistic", r)?,
                    df: self.float("df", r)?,
                    p_value: self.float("p_value", r)?,
                    p_adjusted: self.float("p_adjusted", r)?,
                    significant: self.flag("significant", r)?,
                    cav_accuracy: self.float("cav_accuracy", r)?,
                    random_accuracy: self.float("random_accuracy", r)?,
                    cap_mean: self.float("cap_mean", r)?,
                    runs: self.count("runs", r)?,
                    correction: self.text("correction", r)?,
                    alpha: self.float("alpha", r)?,
                    warning: self.text("warning", r)?,
                })
            })
            .collect()
    }

    /// The rows as `tcav_runs` rows.
    pub fn tcav_runs(&self) -> Result<Vec<TcavRun>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(TcavRun {
                    concept: self.text("concept", r)?,
                    target: self.text("target", r)?,
                    layer: self.count("layer", r)?,
                    site: self.text("site", r)?,
                    run: self.count("run", r)?,
                    tcav_score: self.float("tcav_score", r)?,
                    cav_accuracy: self.float("cav_accuracy", r)?,
                })
            })
            .collect()
    }

    /// The rows as `attention_heads` rows.
    pub fn attention_heads(&self) -> Result<Vec<AttentionHead>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(AttentionHead {
                    study: self.count("study", r)?,
                    layer: self.count("layer", r)?,
                    head: self.count("head", r)?,
                    n_inputs: self.count("n_inputs", r)?,
                    min_tokens: self.count("min_tokens", r)?,
                    max_tokens: self.count("max_tokens", r)?,
                    entropy_mean: self.float("entropy_mean", r)?,
                    entropy_std: self.float("entropy_std", r)?,
                    quality_mean: self.float("quality_mean", r)?,
                    quality_std: self.float("quality_std", r)?,
                    self_mean: self.float("self_mean", r)?,
                    previous_mean: self.float("previous_mean", r)?,
                    first_mean: self.float("first_mean", r)?,
                    special_mean: self.float("special_mean", r)?,
                    average_pattern: self.text("average_pattern", r)?,
                })
            })
            .collect()
    }

    /// The rows as `attributions` rows.
    pub fn token_attributions(&self) -> Result<Vec<TokenAttribution>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(TokenAttribution {
                    study: self.count("study", r)?,
                    input: self.count("input", r)?,
                    text: self.text("text", r)?,
                    target: self.text("target", r)?,
                    position: self.count("position", r)?,
                    token: self.text("token", r)?,
                    is_special: self.flag("is_special", r)?,
                    method: self.text("method", r)?,
                    attribution: self.float("attribution", r)?,
                })
            })
            .collect()
    }

    /// The rows as `patching` rows.
    pub fn patching_rows(&self) -> Result<Vec<PatchingRow>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(PatchingRow {
                    study: self.count("study", r)?,
                    direction: self.text("direction", r)?,
                    site: self.text("site", r)?,
                    layer: self.count("layer", r)?,
                    position: self.opt_count("position", r)?,
                    token: self.text("token", r)?,
                    head: self.opt_count("head", r)?,
                    recovered: self.float("recovered", r)?,
                    recovered_std: self.float("recovered_std", r)?,
                    attribution: self.opt_float("attribution", r)?,
                    pairs: self.count("pairs", r)?,
                })
            })
            .collect()
    }

    /// The rows as `patching_summary` rows.
    pub fn patching_summary(&self) -> Result<Vec<PatchingSummary>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(PatchingSummary {
                    study: self.count("study", r)?,
                    direction: self.text("direction", r)?,
                    site: self.text("site", r)?,
                    correlation: self.opt_float("correlation", r)?,
                    variants_run: self.count("variants_run", r)?,
                    variants: self.count("variants", r)?,
                })
            })
            .collect()
    }

    /// The rows as `pruning_heads` rows.
    pub fn pruning_heads(&self) -> Result<Vec<PrunedHead>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(PrunedHead {
                    study: self.count("study", r)?,
                    layer: self.count("layer", r)?,
                    head: self.count("head", r)?,
                    importance: self.float("importance", r)?,
                    metric: self.float("metric", r)?,
                    metric_change: self.float("metric_change", r)?,
                    accuracy: self.opt_float("accuracy", r)?,
                })
            })
            .collect()
    }

    /// The rows as `pruning_curve` rows.
    pub fn pruning_curve(&self) -> Result<Vec<CurveRow>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(CurveRow {
                    study: self.count("study", r)?,
                    step: self.count("step", r)?,
                    heads_removed: self.count("heads_removed", r)?,
                    fraction_removed: self.float("fraction_removed", r)?,
                    metric: self.float("metric", r)?,
                    accuracy: self.opt_float("accuracy", r)?,
                    removed_now: self.text("removed_now", r)?,
                })
            })
            .collect()
    }

    /// The rows as `attribution_summary` rows.
    pub fn attribution_summary(&self) -> Result<Vec<AttributionSummary>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(AttributionSummary {
                    study: self.count("study", r)?,
                    input: self.count("input", r)?,
                    target: self.text("target", r)?,
                    site: self.text("site", r)?,
                    baseline: self.text("baseline", r)?,
                    method: self.text("method", r)?,
                    steps: self.count("steps", r)?,
                    f_x: self.float("f_x", r)?,
                    f_baseline: self.float("f_baseline", r)?,
                    completeness_gap: self.float("completeness_gap", r)?,
                    fidelity_r2: self.float("fidelity_r2", r)?,
                })
            })
            .collect()
    }

    /// The rows as `attention_flow` rows.
    pub fn attention_flow(&self) -> Result<Vec<FlowCell>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(FlowCell {
                    study: self.count("study", r)?,
                    input: self.count("input", r)?,
                    text: self.text("text", r)?,
                    method: self.text("method", r)?,
                    layer: self.count("layer", r)?,
                    from_position: self.count("from_position", r)?,
                    from_token: self.text("from_token", r)?,
                    to_position: self.count("to_position", r)?,
                    to_token: self.text("to_token", r)?,
                    to_special: self.flag("to_special", r)?,
                    value: self.float("value", r)?,
                })
            })
            .collect()
    }

    /// The rows as `neighbors` rows.
    pub fn neighbors(&self) -> Result<Vec<Neighbor>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(Neighbor {
                    study: self.count("study", r)?,
                    input: self.count("input", r)?,
                    text: self.text("text", r)?,
                    prediction: self.text("prediction", r)?,
                    rank: self.count("rank", r)?,
                    example: self.text("example", r)?,
                    label: self.text("label", r)?,
                    cosine: self.float("cosine", r)?,
                    example_prediction: self.text("example_prediction", r)?,
                })
            })
            .collect()
    }

    /// The rows as `prototypes` rows.
    pub fn prototypes(&self) -> Result<Vec<Prototype>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(Prototype {
                    study: self.count("study", r)?,
                    kind: self.text("kind", r)?,
                    rank: self.count("rank", r)?,
                    example: self.text("example", r)?,
                    label: self.text("label", r)?,
                    witness: self.float("witness", r)?,
                    prediction: self.text("prediction", r)?,
                })
            })
            .collect()
    }

    /// The rows as `probe` results.
    pub fn probe_results(&self) -> Result<Vec<ProbeResult>, RunFolderError> {
        (0..self.n_rows())
            .map(|r| {
                Ok(ProbeResult {
                    concept: self.text("concept", r)?,
                    layer: self.count("layer", r)?,
                    site: self.text("site", r)?,
                    pooling: self.text("pooling", r)?,
                    accuracy_mean: self.float("accuracy_mean", r)?,
                    accuracy_std: self.float("accuracy_std", r)?,
                    accuracy_ci: (
                        self.float("accuracy_ci_low", r)?,
                        self.float("accuracy_ci_high", r)?,
                    ),
                    random_accuracy_mean: self.float("random_accuracy_mean", r)?,
                    measures: Measures {
                        task_accuracy: self.float("selectivity", r)?
                            + self.float("control_accuracy", r)?,
                        control_accuracy: self.float("control_accuracy", r)?,
                        selectivity: self.float("selectivity", r)?,
                        mi_bits: self.float("mi_bits", r)?,
                        mi_low_bits: self.float("mi_ci_low", r)?,
                        mi_high_bits: self.float("mi_ci_high", r)?,
                        mdl_compression: self.float("mdl_compression", r)?,
                        control_mdl_compression: self.float("control_mdl_compression", r)?,
                    },
                    random_sets: self.count("random_sets", r)?,
                    n_train: self.count("n_train", r)?,
                    n_test: self.count("n_test", r)?,
                })
            })
            .collect()
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
            parse_manifest(&text).map_err(|source| RunFolderError::BadManifest {
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

    /// The `tcav` rows (none without the table).
    pub fn tcav_results(&self) -> Result<Vec<TcavResult>, RunFolderError> {
        self.rows("tcav", TableData::tcav_results)
    }

    /// The `tcav_runs` rows (none without the table).
    pub fn tcav_runs(&self) -> Result<Vec<TcavRun>, RunFolderError> {
        self.rows("tcav_runs", TableData::tcav_runs)
    }

    /// The `probe` rows (none without the table).
    pub fn probe_results(&self) -> Result<Vec<ProbeResult>, RunFolderError> {
        self.rows("probe", TableData::probe_results)
    }

    /// The `attention_heads` rows (none without the table).
    pub fn attention_heads(&self) -> Result<Vec<AttentionHead>, RunFolderError> {
        self.rows("attention_heads", TableData::attention_heads)
    }

    /// The `attributions` rows (none without the table).
    pub fn token_attributions(&self) -> Result<Vec<TokenAttribution>, RunFolderError> {
        self.rows("attributions", TableData::token_attributions)
    }

    /// The `attention_flow` rows (none without the table).
    pub fn attention_flow(&self) -> Result<Vec<FlowCell>, RunFolderError> {
        Ok(match self.table("attention_flow")? {
            Some(table) => table.attention_flow()?,
            None => Vec::new(),
        })
    }

    /// The `neighbors` rows (none without the table).
    pub fn neighbors(&self) -> Result<Vec<Neighbor>, RunFolderError> {
        Ok(match self.table("neighbors")? {
            Some(table) => table.neighbors()?,
            None => Vec::new(),
        })
    }

    /// The `prototypes` rows (none without the table).
    pub fn prototypes(&self) -> Result<Vec<Prototype>, RunFolderError> {
        Ok(match self.table("prototypes")? {
            Some(table) => table.prototypes()?,
            None => Vec::new(),
        })
    }

    /// The `attribution_summary` rows (none without the table).
    pub fn attribution_summary(&self) -> Result<Vec<AttributionSummary>, RunFolderError> {
        self.rows("attribution_summary", TableData::attribution_summary)
    }

    /// The `patching` rows (none without the table).
    pub fn patching_rows(&self) -> Result<Vec<PatchingRow>, RunFolderError> {
        self.rows("patching", TableData::patching_rows)
    }

    /// The `patching_summary` rows (none without the table).
    pub fn patching_summary(&self) -> Result<Vec<PatchingSummary>, RunFolderError> {
        self.rows("patching_summary", TableData::patching_summary)
    }

    /// The `pruning_heads` rows (none without the table).
    pub fn pruning_heads(&self) -> Result<Vec<PrunedHead>, RunFolderError> {
        self.rows("pruning_heads", TableData::pruning_heads)
    }

    /// The `pruning_curve` rows (none without the table).
    pub fn pruning_curve(&self) -> Result<Vec<CurveRow>, RunFolderError> {
        self.rows("pruning_curve", TableData::pruning_curve)
    }

    /// Table `name` read as rows by `read` (none without the table).
    fn rows<T>(
        &self,
        name: &str,
        read: fn(&TableData) -> Result<Vec<T>, RunFolderError>,
    ) -> Result<Vec<T>, RunFolderError> {
        self.table(name)?
            .map_or(Ok(Vec::new()), |table| read(&table))
    }

    /// The `examples` table regrouped into sets (none without the table).
    pub fn example_sets(&self) -> Result<Vec<ExampleSet>, RunFolderError> {
        let Some(table) = self.table("examples")? else {
            return Ok(Vec::new());
        };
        let mut sets: Vec<ExampleSet> = Vec::new();
        for r in 0..table.n_rows() {
            let (kind, name, text) = (
                table.text("kind", r)?,
                table.text("set", r)?,
                table.text("text", r)?,
            );
            match sets.last_mut() {
                Some(set) if set.kind == kind && set.name == name => set.texts.push(text),
                _ => sets.push(ExampleSet {
                    kind,
                    name,
                    texts: vec![text],
                }),
            }
        }
        Ok(sets)
    }

    /// The `cavs/` folder.
    pub fn cavs_dir(&self) -> PathBuf {
        self.path.join(CAVS_DIR)
    }
}

/// Parses a manifest. Timings are re-read from the text with Rust's float parser, which is
/// exact, so that a re-rendered report shows the very numbers the run's report showed
/// (serde_json's default float parsing may be one unit in the last place off).
fn parse_manifest(text: &str) -> Result<(Manifest, Value), serde_json::Error> {
    let json: Value = serde_json::from_str(text)?;
    let mut manifest: Manifest = serde_json::from_value(json.clone())?;
    let seconds: Vec<f64> = text
        .match_indices("\"seconds\":")
        .filter_map(|(at, key)| {
            let rest = text[at + key.len()..].trim_start();
            let end = rest
                .find(|c: char| !(c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E')))
                .unwrap_or(rest.len());
            rest[..end].parse().ok()
        })
        .collect();
    if seconds.len() == manifest.timings.len() {
        for (timing, exact) in manifest.timings.iter_mut().zip(seconds) {
            timing.seconds = exact;
        }
    }
    Ok((manifest, json))
}

// ---- `cavern report` ---------------------------------------------------------

/// Why a report could not be re-rendered.
#[derive(Debug, thiserror::Error)]
pub enum ReportRebuildError {
    /// The run folder could not be read.
    #[error(transparent)]
    Run(#[from] RunFolderError),
    /// The experiment file is not where the manifest (or `--experiment`) says.
    #[error(
        "cannot read the experiment file {} of run {}: {source}; the report shows the experiment \
         text, and the manifest records its path as given to `cavern run` (relative to the \
         folder cavern ran in): run from that folder or pass the file with --experiment FILE",
        file.display(),
        run.display()
    )]
    ExperimentMissing {
        /// The file looked for.
        file: PathBuf,
        /// The run folder.
        run: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
    /// The experiment file changed since the run.
    #[error(
        "the experiment file {} is not the one run {} ran: its SHA-256 is {found}, the manifest \
         records {expected}; restore that file or pass it with --experiment FILE",
        file.display(),
        run.display()
    )]
    ExperimentChanged {
        /// The file read.
        file: PathBuf,
        /// The run folder.
        run: PathBuf,
        /// SHA-256 in the manifest.
        expected: String,
        /// SHA-256 of the file now.
        found: String,
    },
    /// Rendering failed.
    #[error(transparent)]
    Render(#[from] ReportError),
    /// Writing the report failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// File being written.
        path: PathBuf,
        /// Underlying error.
        source: io::Error,
    },
}

impl ReportRebuildError {
    /// Whether the error is about the input (the run folder or the experiment file) rather than
    /// a failure while rendering or writing.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            ReportRebuildError::Run(_)
                | ReportRebuildError::ExperimentMissing { .. }
                | ReportRebuildError::ExperimentChanged { .. }
        )
    }
}

/// Re-renders `run/report.html` from the run's manifest, its tables and the experiment file
/// (`experiment`, or the path the manifest records), which must be byte for byte the file the
/// run ran (its SHA-256 is checked). With the same cavern build the result is the runner's
/// report byte for byte. The file is replaced atomically. Returns the report's path.
pub fn rerender_report(
    run: &Path,
    experiment: Option<&Path>,
) -> Result<PathBuf, ReportRebuildError> {
    let folder = RunFolder::open(run)?;
    let manifest = &folder.manifest;
    let file = experiment.map_or_else(|| PathBuf::from(&manifest.experiment.path), Path::to_owned);
    let bytes = fs::read(&file).map_err(|source| ReportRebuildError::ExperimentMissing {
        file: file.clone(),
        run: run.to_owned(),
        source,
    })?;
    let found = hex(&Sha256::digest(&bytes));
    let changed = |found: String| ReportRebuildError::ExperimentChanged {
        file: file.clone(),
        run: run.to_owned(),
        expected: manifest.experiment.sha256.clone(),
        found,
    };
    if found != manifest.experiment.sha256 {
        return Err(changed(found));
    }
    let experiment_toml = String::from_utf8(bytes).map_err(|_| changed(found))?;
    let html = render_report(&ReportInput {
        title: manifest.experiment.name.clone(),
        experiment_toml,
        manifest,
        tcav: folder.tcav_results()?,
        tcav_runs: folder.tcav_runs()?,
        probes: folder.probe_results()?,
        example_sets: folder.example_sets()?,
        attention: folder.attention_heads()?,
        attributions: folder.token_attributions()?,
        attribution_summary: folder.attribution_summary()?,
        patching: folder.patching_rows()?,
        patching_summary: folder.patching_summary()?,
        pruning_heads: folder.pruning_heads()?,
        pruning_curve: folder.pruning_curve()?,
        attention_flow: folder.attention_flow()?,
        neighbors: folder.neighbors()?,
        prototypes: folder.prototypes()?,
        steering: folder.steering_results()?,
    })?;
    let path = run.join(REPORT_FILE);
    let temp = run.join(format!(".{REPORT_FILE}.partial-{}", std::process::id()));
    let write = |target: &Path| {
        let io_error = |source| ReportRebuildError::Write {
            path: target.to_owned(),
            source,
        };
        fs::write(&temp, &html).map_err(io_error)?;
        fs::rename(&temp, target).map_err(io_error)
    };
    write(&path).inspect_err(|_| {
        let _ = fs::remove_file(&temp);
    })?;
    Ok(path)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

// ---- `cavern runs` -----------------------------------------------------------

/// The state of a folder under the runs root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// A committed run folder with a readable manifest.
    Complete,
    /// A `.NAME.partial-PID` folder whose process is gone: an interrupted run.
    Incomplete,
    /// A `.NAME.partial-PID` folder whose process is still alive: a run in progress.
    Running,
    /// A folder with a `manifest.json` that cannot be read as a manifest.
    Unreadable,
}

impl RunStatus {
    /// The status as `cavern runs` prints it.
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Incomplete => "incomplete (interrupted run; safe to delete)",
            RunStatus::Running => "running (its process is still alive)",
            RunStatus::Unreadable => "unreadable (manifest.json is not a cavern manifest)",
        }
    }
}

/// One folder listed by `cavern runs`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunEntry {
    /// Folder name.
    pub name: String,
    /// Folder path.
    pub path: PathBuf,
    /// The folder's modification time, UTC, `YYYY-MM-DD HH:MM`.
    pub date: String,
    /// Model name from the manifest.
    pub model: Option<String>,
    /// Seed from the manifest.
    pub seed: Option<u64>,
    /// State of the folder.
    pub status: RunStatus,
}

/// The run folders directly under `root` (folders with a `manifest.json`) and the leftover
/// `.NAME.partial-PID` folders of runs that did not finish, sorted by date, then name. A root
/// that does not exist holds no runs.
pub fn list_runs(root: &Path) -> io::Result<Vec<RunEntry>> {
    let entries = match fs::read_dir(root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut runs = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        let partial = partial_pid(&name);
        let manifest_path = path.join(MANIFEST_FILE);
        let manifest = fs::read_to_string(&manifest_path)
            .ok()
            .map(|text| parse_manifest(&text).map(|(m, _)| m).ok());
        let status = match (partial, &manifest) {
            (Some(pid), _) if process_alive(pid) => RunStatus::Running,
            (Some(_), _) => RunStatus::Incomplete,
            (None, Some(Some(_))) => RunStatus::Complete,
            (None, Some(None)) => RunStatus::Unreadable,
            (None, None) => continue,
        };
        let manifest = manifest.flatten();
        runs.push(RunEntry {
            name,
            date: utc_minute(entry.metadata()?.modified()?),
            model: manifest.as_ref().map(|m| m.model.name.clone()),
            seed: manifest.as_ref().map(|m| m.seed),
            path,
            status,
        });
    }
    runs.sort_by(|a, b| (&a.date, &a.name).cmp(&(&b.date, &b.name)));
    Ok(runs)
}

/// The process id of a `.NAME.partial-PID` folder name.
fn partial_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix('.')?;
    let (_, pid) = rest.rsplit_once(".partial-")?;
    pid.parse().ok()
}

/// Whether process `pid` exists, where that can be told (`/proc`); elsewhere, assume not.
fn process_alive(pid: u32) -> bool {
    Path::new("/proc/self").exists() && Path::new("/proc").join(pid.to_string()).exists()
}

/// A time as UTC `YYYY-MM-DD HH:MM`.
pub fn utc_minute(time: SystemTime) -> String {
    let secs = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs_f64().ceil() as i64),
    };
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// `cavern runs --json`: an array of runs with name, path, date, model, seed, status
/// (`complete`, `incomplete`, `running`, `unreadable`) and the status as printed (`note`).
pub fn runs_json(runs: &[RunEntry]) -> String {
    #[derive(Serialize)]
    struct Row<'a> {
        #[serde(flatten)]
        entry: &'a RunEntry,
        note: &'static str,
    }
    let rows: Vec<Row> = runs
        .iter()
        .map(|entry| Row {
            entry,
            note: entry.status.label(),
        })
        .collect();
    pretty(&rows)
}

// ---- `--json` summaries --------------------------------------------------------

/// `cavern run --json`: the run folder, its experiment and seed, the tables it wrote, and its
/// `tcav` and `probe` rows (read back from the folder's tables; non-finite numbers are `null`).
pub fn run_summary_json(run: &Path) -> Result<String, RunFolderError> {
    #[derive(Serialize)]
    struct Summary<'a> {
        run: String,
        experiment: &'a str,
        seed: u64,
        tables: &'a [String],
        tcav: Vec<TcavResult>,
        probe: Vec<ProbeResult>,
    }
    let folder = RunFolder::open(run)?;
    Ok(pretty(&Summary {
        run: run.display().to_string(),
        experiment: &folder.manifest.experiment.name,
        seed: folder.manifest.seed,
        tables: &folder.manifest.tables,
        tcav: folder.tcav_results()?,
        probe: folder.probe_results()?,
    }))
}

/// `cavern validate --json`: `{"file", "ok": true, "name", "model", "seed", "concepts",
/// "probe_studies", "tcav_studies", "attention_studies", "attribution_studies", "patching_studies", "pruning_studies"}` for a valid file, `{"file", "ok": false, "diagnostics":
/// "probe_studies", "tcav_studies", "attention_studies", "attribution_studies", "neighbors_studies"}` for a valid file, `{"file", "ok": false, "diagnostics":
/// [{"file", "line", "column", "message", "help"}]}` for an invalid one.
pub fn validation_json(file: &Path, result: &Result<Experiment, ExperimentError>) -> String {
    #[derive(Serialize)]
    struct Valid<'a> {
        file: String,
        ok: bool,
        name: &'a str,
        model: &'a cavern_model::ModelRef,
        seed: u64,
        concepts: usize,
        probe_studies: usize,
        tcav_studies: usize,
        attention_studies: usize,
        attribution_studies: usize,
        patching_studies: usize,
        pruning_studies: usize,
        neighbors_studies: usize,
    }
    #[derive(Serialize)]
    struct Invalid {
        file: String,
        ok: bool,
        diagnostics: Vec<DiagnosticJson>,
    }
    #[derive(Serialize)]
    struct DiagnosticJson {
        file: String,
        line: usize,
        column: usize,
        message: String,
        help: Option<String>,
    }
    let file = file.display().to_string();
    match result {
        Ok(experiment) => pretty(&Valid {
            file,
            ok: true,
            name: &experiment.name,
            model: &experiment.model,
            seed: experiment.seed,
            concepts: experiment.concepts.len(),
            probe_studies: experiment.probes.len(),
            tcav_studies: experiment.tcavs.len(),
            attention_studies: experiment.attentions.len(),
            attribution_studies: experiment.attributions.len(),
            patching_studies: experiment.patchings.len(),
            pruning_studies: experiment.prunings.len(),
            neighbors_studies: experiment.neighbors.len(),
        }),
        Err(error) => pretty(&Invalid {
            file,
            ok: false,
            diagnostics: error
                .diagnostics
                .iter()
                .map(|d| DiagnosticJson {
                    file: d.file.display().to_string(),
                    line: d.line,
                    column: d.column,
                    message: d.message.clone(),
                    help: d.help.clone(),
                })
                .collect(),
        }),
    }
}

/// Pretty-printed JSON of a value whose serialization cannot fail (plain structs, no maps with
/// non-string keys).
fn pretty(value: &impl Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_minutes() {
        assert_eq!(utc_minute(UNIX_EPOCH), "1970-01-01 00:00");
        let t = UNIX_EPOCH + Duration::from_secs(951_825_659); // 2000-02-29 12:00:59
        assert_eq!(utc_minute(t), "2000-02-29 12:00");
        let t = UNIX_EPOCH + Duration::from_secs(1_798_761_599); // 2026-12-31 23:59:59
        assert_eq!(utc_minute(t), "2026-12-31 23:59");
    }

    #[test]
    fn partial_folder_names_give_their_pid() {
        assert_eq!(partial_pid(".quickstart-1a2b.partial-4242"), Some(4242));
        assert_eq!(partial_pid("quickstart-1a2b.partial-4242"), None);
        assert_eq!(partial_pid(".x.partial-"), None);
    }

    #[test]
    fn manifest_timings_are_read_exactly() {
        let text = r#"{"cavern_version":"0.1.0","git_revision":null,
            "experiment":{"path":"x.toml","name":"x","sha256":"00"},
            "model":{"name":"m","source":"built-in","sha256":"11"},
            "backend":"flex (cpu)","seed":7,
            "timings":[{"step":"probe","seconds": 1.7365926310000002},{"step":"tcav","seconds":2.5e-3}],
            "tables":[]}"#;
        let (manifest, _) = parse_manifest(text).unwrap();
        assert_eq!(manifest.timings[0].seconds, 1.7365926310000002_f64);
        assert_eq!(manifest.timings[1].seconds, 0.0025);
    }
}
