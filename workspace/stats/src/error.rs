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
}
