//! Where a steering direction comes from: a concept's CAV against the random pool, a
//! difference of mean pooled activations, or a saved safetensors file.

use super::spec::SteeringSource;
use crate::engine::activations::TextSet;
use crate::engine::forward::pooled;
use crate::engine::{StudyContext, StudyError};
use crate::plan::default_cav_options;
use cavern_model::Site;
use cavern_probe::{Pooling, train_cav};
use safetensors::SafeTensors;
use safetensors::tensor::Dtype;
use std::path::Path;

/// A unit steering direction and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SteeringVector {
    /// Unit direction.
    pub direction: Vec<f32>,
    /// Length of the vector before it was normalised (1 for a CAV).
    pub norm: f64,
    /// Held-out accuracy of the CAV, for a concept's direction.
    pub cav_accuracy: Option<f64>,
}

/// A concept's CAV at `site`: the concept's pooled activations against the whole random pool
/// (cut to the concept's size, seeded), unit length, pointing towards the concept.
fn concept_cav(
    concept: &str,
    texts: &[String],
    site: Site,
    pooling: Pooling,
    cx: &mut StudyContext<'_, '_>,
) -> Result<SteeringVector, StudyError> {
    let rows = (cx.activations)
        .rows(&TextSet::Concept(concept.to_owned()), texts, site, pooling)?
        .to_vec();
    let random = cx.random;
    let pool = (cx.activations).rows(&TextSet::RandomPool, &random.pool, site, pooling)?;
    let cav = train_cav(&rows, pool, &default_cav_options(), cx.rng)?;
    Ok(SteeringVector {
        direction: cav.direction,
        norm: 1.0,
        cav_accuracy: Some(cav.accuracy),
    })
}

/// The steering vector of `source` at `site`.
pub(super) fn steering_vector(
    source: &SteeringSource,
    site: Site,
    pooling: Pooling,
    cx: &mut StudyContext<'_, '_>,
) -> Result<SteeringVector, StudyError> {
    let width = cx.model.config().d_model;
    let raw = match source {
        SteeringSource::Concept(name) => {
            let experiment = cx.experiment;
            return concept_cav(name, &experiment.concepts[name], site, pooling, cx);
        }
        SteeringSource::Contrast {
            positive, negative, ..
        } => {
            let (model, batch) = (cx.model, cx.batch_size());
            let mean = |texts: &[String]| -> Result<Vec<f32>, StudyError> {
                let rows = pooled(model, texts, &[site], pooling, batch)?;
                Ok(mean_row(&rows[&site]))
            };
            let (p, n) = (mean(positive)?, mean(negative)?);
            p.iter().zip(&n).map(|(a, b)| a - b).collect()
        }
        SteeringSource::File(path) => read_vector(path, width)?,
    };
    let norm = raw.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    if !(norm > 0.0 && norm.is_finite()) {
        return Err(StudyError::Steering(format!(
            "the steering vector at {site} has length {norm}; it gives no direction"
        )));
    }
    Ok(SteeringVector {
        direction: raw.iter().map(|&x| (x as f64 / norm) as f32).collect(),
        norm,
        cav_accuracy: None,
    })
}

fn mean_row(rows: &[Vec<f32>]) -> Vec<f32> {
    let mut mean = vec![0.0f32; rows.first().map_or(0, Vec::len)];
    for row in rows {
        mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
    }
    mean.iter_mut().for_each(|m| *m /= rows.len().max(1) as f32);
    mean
}

/// Reads a vector of `width` f32s from a safetensors file: its `directions` tensor (a cavern
/// `cavs/` file: the mean of its rows) or its only tensor, `[width]` or `[rows, width]`.
pub(super) fn read_vector(path: &Path, width: usize) -> Result<Vec<f32>, StudyError> {
    let fail = |detail: String| StudyError::Steering(format!("{}: {detail}", path.display()));
    let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it: {e}")))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| fail(format!("not a safetensors file: {e}")))?;
    let names = file.names();
    let name: &str = match names.iter().find(|n| **n == "directions") {
        Some(name) => name,
        None if names.len() == 1 => names[0],
        None => {
            return Err(fail(format!(
                "has {} tensors and none is called `directions`; keep one tensor or name it so",
                names.len()
            )));
        }
    };
    let tensor = file
        .tensor(name)
        .map_err(|e| fail(format!("cannot read tensor `{name}`: {e}")))?;
    if tensor.dtype() != Dtype::F32 {
        return Err(fail(format!(
            "tensor `{name}` is {:?}; a steering vector must be F32",
            tensor.dtype()
        )));
    }
    let values: Vec<f32> = tensor
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let shape = tensor.shape().to_vec();
    let rows: Vec<Vec<f32>> = match shape.as_slice() {
        [w] if *w == width => vec![values],
        [n, w] if *w == width && *n > 0 => {
            values.chunks_exact(width).map(<[f32]>::to_vec).collect()
        }
        _ => {
            return Err(fail(format!(
                "tensor `{name}` has shape {shape:?}; the model's residual stream is {width} \
                 wide, so it must be [{width}] or [rows, {width}]"
            )));
        }
    };
    Ok(mean_row(&rows))
}
