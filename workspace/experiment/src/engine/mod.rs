//! What every study kind runs on: the model's forward pass in batches with hooks and its output
//! rows ([`forward`], [`outputs`]), the cache of pooled activations ([`activations`]), the random
//! sets ([`random`]), the `[head]` ([`head`]), the metric read at prompts' last token
//! ([`metric`]), and the context a study runs in.

pub mod activations;
pub mod forward;
pub mod head;
pub mod metric;
pub mod outputs;
pub mod random;
pub mod units;

use crate::plan::Experiment;
use activations::Activations;
use cavern_model::LoadedModel;
use indicatif::ProgressBar;
use rand_chacha::ChaCha8Rng;
use random::RandomSets;
use thiserror::Error;

/// A study that could not be computed.
#[derive(Debug, Error)]
pub enum StudyError {
    /// Extraction or probe fitting failed.
    #[error(transparent)]
    Probe(#[from] cavern_probe::ProbeError),
    /// A statistical test could not be computed.
    #[error("{context}: {source}")]
    Stats {
        /// Which result.
        context: String,
        /// The test's error.
        source: cavern_stats::StatsError,
    },
    /// A file other than a table (a CAV) could not be written.
    #[error("cannot write {path}: {detail}")]
    File {
        /// The file.
        path: String,
        /// What failed.
        detail: String,
    },
    /// The target does not exist in this model.
    #[error("target `{0}` does not exist in this model")]
    UnknownTarget(String),
    /// A prompt could not be encoded.
    #[error(transparent)]
    Model(#[from] cavern_model::ModelError),
    /// An intervention (patching, ablation, pruning) could not run as asked.
    #[error("{0}")]
    Intervention(String),
    /// An attention pattern did not have the shape its input needs.
    #[error(transparent)]
    Attention(#[from] cavern_probe::attention::AttentionError),
    /// A steering vector could not be made or read.
    #[error("steering: {0}")]
    Steering(String),
    /// An adversarial search could not run as asked.
    #[error("adversarial: {0}")]
    Adversarial(String),
    /// A forward pass's reader returned a different number of items than the pass had inputs
    /// (a defect of the study, not of its input).
    #[error("a forward pass of {inputs} inputs returned {items} items")]
    PassItems {
        /// Inputs of the pass.
        inputs: usize,
        /// Items its reader returned.
        items: usize,
    },
}

impl From<cavern_intervene::InterventionError> for StudyError {
    fn from(error: cavern_intervene::InterventionError) -> Self {
        StudyError::Intervention(error.to_string())
    }
}

/// What a study runs with: the model, the plan, the run's random sets, activation cache and
/// random stream (one stream, consumed by the studies in the order they run), and its progress.
pub struct StudyContext<'a, 'm> {
    /// The model (with the `[head]` attached, if any).
    pub model: &'m LoadedModel,
    /// The whole plan (concepts, head, batch size).
    pub experiment: &'a Experiment,
    /// The run's seed (the experiment's, or the one given on the command line).
    pub seed: u64,
    /// The random sets drawn from `[random]`.
    pub random: &'a RandomSets,
    /// Pooled activations, shared by every study of the run.
    pub activations: &'a mut Activations<'m>,
    /// The run's random stream.
    pub rng: &'a mut ChaCha8Rng,
    /// The run's progress bar.
    pub progress: &'a ProgressBar,
    /// The study's index among the file's studies of its kind, from 0.
    pub index: usize,
}

impl StudyContext<'_, '_> {
    /// Forward-pass batch size.
    pub fn batch_size(&self) -> usize {
        self.experiment.batch_size
    }
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    (cavern_stats::mean(values), cavern_stats::sample_std(values))
}
