//! Statistical tests and multiple-comparison corrections, built on statrs.

mod correction;
mod describe;
mod error;
mod ttest;

pub use correction::{Correction, benjamini_hochberg, bonferroni, holm};
pub use describe::{mean, sample_std, sample_variance};
pub use error::StatsError;
pub use ttest::{TTest, one_sample_t_test, student_t_test, welch_t_test};
