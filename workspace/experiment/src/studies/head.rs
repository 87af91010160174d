//! `[head]`: a classifier trained on the mean-pooled final hidden states of labelled example
//! sets and appended to the model, so that `class` targets exist on a sentence encoder.

use super::{Activations, StudyError, TextSet};
use crate::schema::{Experiment, HeadSpec};
use crate::table::{Table, TableError};
use burn::tensor::{Tensor, TensorData};
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::mdl::ProbeOptions;
use cavern_probe::{Pooling, train_head};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// What the head training measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadResult {
    /// Class names, in logit order.
    pub classes: Vec<String>,
    /// Training examples per class.
    pub n_train: Vec<usize>,
    /// Held-out examples per class.
    pub n_test: Vec<usize>,
    /// Accuracy on the held-out examples.
    pub heldout_accuracy: f64,
}

/// Trains the head `spec` describes and attaches it to `model`.
pub fn train_and_attach(
    spec: &HeadSpec,
    experiment: &Experiment,
    model: &mut LoadedModel,
    rng: &mut ChaCha8Rng,
) -> Result<HeadResult, StudyError> {
    let site = Site::global(SitePoint::LnFinal);
    let mut activations = Activations::new(model, experiment.batch_size);
    let mut classes = Vec::with_capacity(spec.classes.len());
    for class in &spec.classes {
        let texts = &experiment.concepts[class];
        let set = TextSet::Concept(class.clone());
        classes.push(activations.rows(&set, texts, site, Pooling::Mean)?.to_vec());
    }
    let options = ProbeOptions {
        l2: spec.l2,
        max_iterations: spec.max_iterations as u64,
        standardize: true,
    };
    let head = train_head(&classes, &options, spec.holdout, rng)?;
    let device = model.transformer.device();
    let (width, n) = (head.weight.len(), head.bias.len());
    let weight = head.weight.iter().flatten().copied().collect::<Vec<_>>();
    let weight = Tensor::from_data(TensorData::new(weight, [width, n]), &device);
    let bias = Tensor::from_data(TensorData::new(head.bias.clone(), [n]), &device);
    model.attach_classifier(spec.classes.clone(), weight, bias);
    Ok(HeadResult {
        classes: spec.classes.clone(),
        n_train: head.n_train,
        n_test: head.n_test,
        heldout_accuracy: head.accuracy,
    })
}

/// The `head` table: one row per class.
pub fn table(result: Option<&HeadResult>) -> Result<Table, TableError> {
    let Some(r) = result else {
        return Table::new("head");
    };
    let count = |v: &[usize]| v.iter().map(|&n| n as u64).collect();
    Table::new("head")?
        .with_str("class", r.classes.clone())?
        .with_u64("n_train", count(&r.n_train))?
        .with_u64("n_test", count(&r.n_test))?
        .with_f64(
            "heldout_accuracy",
            vec![r.heldout_accuracy; r.classes.len()],
        )
}
