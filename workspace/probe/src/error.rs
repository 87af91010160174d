//! Errors of probing.

use cavern_intervene::InterventionError;
use cavern_model::ModelError;
use thiserror::Error;

/// What can go wrong while extracting activations or fitting probes.
#[derive(Debug, Error)]
pub enum ProbeError {
    /// The model refused the input.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A hook could not be applied.
    #[error(transparent)]
    Intervention(#[from] InterventionError),
    /// Too few examples to train and test a probe.
    #[error("{what}: need at least {needed} examples per class, have {have}")]
    TooFewExamples {
        /// Which probe.
        what: String,
        /// Minimum per class.
        needed: usize,
        /// Available per class.
        have: usize,
    },
    /// The logistic regression failed.
    #[error("logistic regression failed: {0}")]
    Fit(String),
    /// The forward pass did not visit a site as a `[batch, pos, width]` activation.
    #[error("no activation was recorded at {0}")]
    NotRecorded(String),
    /// A gradient was not produced where one was expected.
    #[error("no gradient reached {0}; the target does not depend on it")]
    NoGradient(String),
    /// A token attribution could not be computed.
    #[error("attribution: {0}")]
    Attribution(String),
}
