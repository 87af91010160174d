//! Pooled activations of the run's texts, computed once per (texts, site, pooling) and reused by
//! every study.

use super::StudyError;
use super::forward::pooled;
use cavern_model::{LoadedModel, Site};
use cavern_probe::Pooling;
use std::collections::HashMap;

/// Which texts activations belong to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TextSet {
    /// A `[concepts.NAME]` set.
    Concept(String),
    /// The whole random pool.
    RandomPool,
    /// The inputs of a study: its kind and its index among the kind's studies.
    Inputs {
        /// The study kind.
        kind: &'static str,
        /// The study's index.
        study: usize,
    },
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

    /// Pooled rows of `texts` at `site`. On a miss, every layer of the same point is extracted
    /// in the same forward passes, since studies usually sweep layers.
    pub fn rows(
        &mut self,
        set: &TextSet,
        texts: &[String],
        site: Site,
        pooling: Pooling,
    ) -> Result<&[Vec<f32>], StudyError> {
        let key = (set.clone(), site, pooling);
        if !self.cache.contains_key(&key) {
            let sites: Vec<Site> = match site.layer {
                Some(_) => (0..self.model.n_layers())
                    .map(|l| Site::new(site.point, l))
                    .collect(),
                None => vec![site],
            };
            let extracted = pooled(self.model, texts, &sites, pooling, self.batch_size)?;
            for (s, rows) in extracted {
                self.cache.insert((set.clone(), s, pooling), rows);
            }
        }
        Ok(self.cache.get(&key).map(Vec::as_slice).unwrap_or_default())
    }
}
