//! The run folder as a format that knows no study kind.
//!
//! A run folder holds `manifest.json`, `tables/NAME.parquet` + `tables/NAME.csv`, `cavs/` and
//! `report.html`. Tables are written from and read back into serde row types that declare their
//! table's name, key columns and column meanings once ([`table_rows!`]); the manifest records each
//! table's key columns, so [`compare`] joins the rows of any table, and the report is rendered
//! from the tables read back from disk.

pub mod compare;
pub mod examples;
pub mod folder;
pub mod manifest;
pub mod npy;
pub mod report;
pub mod rows;
pub mod run_dir;
pub mod runs;
pub mod table;
pub mod units;

pub use folder::{Cell, RunFolder, RunFolderError, TableData};
pub use rows::{CellKind, Column, Row, Rows, TableInfo};
