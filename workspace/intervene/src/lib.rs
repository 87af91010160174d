//! The hook protocol's interventions: record, set, add, project-out, scale, zero, mean and erase
//! at a named site, restricted to positions and heads, plus gradient taps that read
//! ∂f/∂activation.
//!
//! Interventions are plain serde data, so experiment files and manifests can hold and replay them.

pub mod cache;
pub mod error;
pub mod hooks;
pub mod metric;
pub mod op;
pub mod patching;
pub mod pruning;

pub use cache::{Activation, ActivationCache};
pub use error::InterventionError;
pub use hooks::Interventions;
pub use metric::Metric;
pub use op::{Intervention, Op};
