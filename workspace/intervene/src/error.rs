//! Errors raised while applying interventions.

use thiserror::Error;

/// An intervention that could not be applied as written.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InterventionError {
    /// A `set`/`mean` names a cache that was not supplied.
    #[error("intervention at {site} reads source `{source_name}`, which was not supplied")]
    MissingSource {
        /// Site name.
        site: String,
        /// Source name.
        source_name: String,
    },
    /// The source cache has no activation at the site.
    #[error("source `{source_name}` has no activation recorded at {site}")]
    MissingSite {
        /// Site name.
        site: String,
        /// Source name.
        source_name: String,
    },
    /// Shapes disagree (vector width, source activation shape, position or head index).
    #[error("intervention at {site}: {detail}")]
    Shape {
        /// Site name.
        site: String,
        /// What disagrees.
        detail: String,
    },
}
