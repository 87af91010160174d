//! Statistical tests and multiple-comparison corrections, built on statrs.

mod bootstrap;
mod correction;
mod correlation;
mod describe;
mod effect;
mod error;
pub mod info;
mod permutation;
mod rank;
mod ttest;

pub use bootstrap::{
    Bootstrap, BootstrapMethod, ConfidenceInterval, bca_interval, bootstrap_ci,
    bootstrap_replicates, jackknife, percentile_interval,
};
pub use correction::{Correction, benjamini_hochberg, bonferroni, holm};
pub use correlation::{pearson, spearman};
pub use describe::{mean, sample_std, sample_variance};
pub use effect::{cohens_d, hedges_g};
pub use error::StatsError;
pub use info::{
    DiscreteEstimator, InfoError, MiEstimator, MiInterval, MiIntervalOptions, Points, Resampling,
    binned_mi, discrete_mi, entropy, ksg_mi, mi_interval, nats_to_bits, ross_mi,
};
pub use permutation::{PERMUTATION_EXACT_LIMIT, PermutationTest, permutation_test};
pub use rank::{
    MANN_WHITNEY_AUTO_EXACT_MAX, MANN_WHITNEY_EXACT_MAX_PAIRS, MannWhitney, MannWhitneyMethod,
    average_ranks, mann_whitney_u,
};
pub use ttest::{TTest, one_sample_t_test, student_t_test, welch_t_test};
