//! Experiment files: the TOML schema, validation, the runner and the run folder.

pub mod compare;
pub mod error;
pub mod extract;
pub mod manifest;
pub mod models;
pub mod predict;
pub mod reference;
pub mod report;
pub mod run_dir;
pub mod runner;
pub mod runs;
pub mod schema;
pub mod sources;
mod steering_report;
pub mod studies;
mod svg;
pub mod table;
pub mod validate;
