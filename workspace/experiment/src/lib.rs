//! Experiment files and what runs them.
//!
//! - [`plan`]: the experiment file, checked and resolved into an [`plan::Experiment`]; it knows
//!   no study kind.
//! - [`study`]: what a study kind is ([`study::Study`]); [`kinds`]: one module per kind;
//!   [`registry`]: the one list of them.
//! - [`engine`]: what every kind runs on (batched forward passes, activations, random sets,
//!   the `[head]`).
//! - [`runner`], [`report`], [`docs`], [`summary`]: a run, its report, the references and the
//!   CLI's JSON, each generic over the registry. The run folder itself is the
//!   `cavern-runfolder` crate's.

pub mod docs;
pub mod engine;
pub mod extract;
pub mod kinds;
pub mod merge;
pub mod models;
pub mod plan;
pub mod predict;
pub mod registry;
pub mod report;
pub mod runner;
pub mod shard;
pub mod study;
pub mod summary;
mod views;

#[cfg(test)]
mod layering;
#[cfg(test)]
mod testing;

use plan::{Experiment, ExperimentError, ModelLookup, Section};
use std::path::Path;

/// Reads, parses and validates the experiment file at `path`, with every registered study kind.
///
/// `models` describes a model; `known_models` lists the names offered in suggestions.
pub fn load_experiment(
    path: &Path,
    models: ModelLookup<'_>,
    known_models: &[&str],
) -> Result<Experiment, ExperimentError> {
    let sections: Vec<&dyn Section> = registry::KINDS.iter().map(|&k| k as &dyn Section).collect();
    plan::load(path, models, known_models, &sections)
}
