//! Error type shared by the statistical routines.

use thiserror::Error;

/// Why a statistical routine could not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StatsError {
    /// A sample is too small for the requested test.
    #[error("sample has {len} value(s); at least {min} are required")]
    TooFewValues {
        /// Number of values the sample actually has.
        len: usize,
        /// Minimum number of values the test needs.
        min: usize,
    },
    /// An input is NaN or infinite, or an intermediate result overflowed `f64`.
    #[error("non-finite input, or an intermediate result overflowed f64")]
    NonFinite,
    /// A correction name that [`crate::Correction`] does not recognise.
    #[error("unknown correction {0:?}; expected \"bonferroni\", \"holm\" or \"bh\"")]
    UnknownCorrection(String),
    /// A parameter (confidence level, number of resamples, ...) is out of range.
    #[error("invalid {name}: expected {expected}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// What a valid value looks like.
        expected: &'static str,
    },
    /// The exact distribution of a test was requested where it does not apply.
    #[error("exact p-value unavailable: {0}")]
    ExactUnavailable(&'static str),
    /// The data leave the result undefined (e.g. a bootstrap distribution
    /// that lies entirely on one side of the estimate).
    #[error("degenerate data: {0}")]
    Degenerate(&'static str),
}
