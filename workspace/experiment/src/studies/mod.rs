//! The studies an experiment runs, and what they share: activations and random sets.

pub mod attention;
pub mod attention_flow;
pub mod attribution;
pub mod cav_file;
pub mod counterfactual;
pub mod erasure;
pub mod examples;
pub mod head;
pub mod neighbors;
pub mod outputs;
pub mod patching;
pub mod probe;
pub mod pruning;
pub mod steer;
pub mod steering;
pub mod steering_vector;
pub mod tcav;

use crate::schema::RandomPool;
use cavern_model::{LoadedModel, Site};
use cavern_probe::extract::pooled_activations;
use cavern_probe::{Pooling, ProbeError};
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use std::collections::HashMap;
use thiserror::Error;

/// A study that could not be computed.
#[derive(Debug, Error)]
pub enum StudyError {
    /// Extraction or probe fitting failed.
    #[error(transparent)]
    Probe(#[from] ProbeError),
    /// A statistical test could not be computed.
    #[error("{context}: {source}")]
    Stats {
        /// Which result.
        context: String,
        /// The test's error.
        source: cavern_stats::StatsError,
    },
    /// A CAV file could not be written.
    #[error("cannot write {path}: {detail}")]
    CavFile {
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
    /// Patching, ablation or pruning could not run as asked.
    #[error("{0}")]
    Patching(String),
    /// An attention pattern did not have the shape its input needs.
    #[error(transparent)]
    Attention(#[from] cavern_probe::attention::AttentionError),
    /// A steering vector could not be made or read.
    #[error("steering: {0}")]
    Steering(String),
}

/// The random sets of a run: `sets` seeded samples (without replacement) of the pool.
#[derive(Debug, Clone, Default)]
pub struct RandomSets {
    /// Pool examples.
    pub pool: Vec<String>,
    /// Indices into `pool`, one list per set.
    pub sets: Vec<Vec<usize>>,
}

impl RandomSets {
    /// Draws `pool.sets` sets of `pool.size` examples.
    pub fn draw(pool: &RandomPool, rng: &mut ChaCha8Rng) -> RandomSets {
        let sets = (0..pool.sets)
            .map(|_| sample(rng, pool.examples.len(), pool.size).into_vec())
            .collect();
        RandomSets {
            pool: pool.examples.clone(),
            sets,
        }
    }

    /// Rows of set `index`, picked from the pool's rows.
    pub fn rows(&self, pool_rows: &[Vec<f32>], index: usize) -> Vec<Vec<f32>> {
        self.sets[index]
            .iter()
            .map(|&i| pool_rows[i].clone())
            .collect()
    }
}

/// Which texts activations belong to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TextSet {
    /// A `[concepts.NAME]` set.
    Concept(String),
    /// The whole random pool.
    RandomPool,
    /// The inputs of the n-th `[[tcav]]` study.
    TcavInputs(usize),
    /// The inputs of the n-th `[[neighbors]]` study.
    NeighborsInputs(usize),
}

/// Pooled activations, computed once per (texts, site, pooling) and reused by every study.
pub struct Activations<'m> {
    model: &'m LoadedModel,
    batch_size: usize,
    cache: HashMap<(TextSet, Site, Pooling), Vec<Vec<f32>>>,
}

impl<'m> Activations<'m> {
    /// An empty cache over `model`.
    pub fn new(model: &'m LoadedModel, batch_size: usize) -> Activations<'m> {
        Activations {
            model,
            batch_size,
            cache: HashMap::new(),
        }
    }

    /// The model.
    pub fn model(&self) -> &'m LoadedModel {
        self.model
    }

    /// Forward-pass batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// Pooled rows of `texts` at `site`. On a miss, every layer of the same point is extracted
    /// in the same forward passes, since studies usually sweep layers.
    pub fn rows(
        &mut self,
        set: &TextSet,
        texts: &[String],
        site: Site,
        pooling: Pooling,
    ) -> Result<&[Vec<f32>], ProbeError> {
        let key = (set.clone(), site, pooling);
        if !self.cache.contains_key(&key) {
            let sites: Vec<Site> = match site.layer {
                Some(_) => (0..self.model.n_layers())
                    .map(|l| Site::new(site.point, l))
                    .collect(),
                None => vec![site],
            };
            let extracted =
                pooled_activations(self.model, texts, &sites, pooling, self.batch_size)?;
            for (s, rows) in extracted {
                self.cache.insert((set.clone(), s, pooling), rows);
            }
        }
        Ok(self.cache.get(&key).map(Vec::as_slice).unwrap_or_default())
    }
}

/// What the steering, erasure and counterfactual studies of a run produce, for the report.
#[derive(Debug, Clone, Default)]
pub struct SteeringResults {
    /// `steering` rows.
    pub steering: Vec<steering::SteeringRow>,
    /// `steering_summary` rows.
    pub steering_summary: Vec<steering::SteeringSummary>,
    /// `steering_flips` rows.
    pub steering_flips: Vec<steering::SteeringFlip>,
    /// `erasure` rows.
    pub erasure: Vec<erasure::ErasureRow>,
    /// `counterfactual_summary` rows.
    pub counterfactual_swaps: Vec<counterfactual::CounterfactualSwap>,
}

/// Mean and sample standard deviation.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    (cavern_stats::mean(values), cavern_stats::sample_std(values))
}
