//! `[head]`: a classifier trained on the mean-pooled final hidden states of labelled example
//! sets and appended to the model, so that `class` targets exist on a sentence encoder.

use super::StudyError;
use super::activations::{Activations, TextSet};
use crate::plan::{Experiment, HeadSpec};
use burn::tensor::{Tensor, TensorData};
use cavern_model::{LoadedModel, Site, SitePoint};
use cavern_probe::mdl::ProbeOptions;
use cavern_probe::{Pooling, train_head};
use cavern_runfolder::manifest::HeadResult;
use cavern_runfolder::table_rows;
use rand_chacha::ChaCha8Rng;

table_rows! {
    /// Written when the experiment has a `[head]`: one row per class of the classifier the run
    /// trained on the mean-pooled final hidden states and appended to the model. The same facts
    /// are in `manifest.json` under `model.head`.
    #[table("head", keys = [class])]
    pub struct HeadRow {
        /// class name (a `[concepts]` set), in logit order
        pub class: String,
        /// examples of this class the held-out fit was trained on
        pub n_train: usize,
        /// examples of this class held out
        pub n_test: usize,
        /// accuracy on all held-out examples (same on every row)
        pub heldout_accuracy: f64,
    }
}

/// Where the head reads the model: the final hidden states, mean-pooled over tokens.
pub const HEAD_SITE: Site = Site::global(SitePoint::LnFinal);
/// How the head pools a text's tokens.
pub const HEAD_POOLING: Pooling = Pooling::Mean;

/// The head's training rows: per class (in `spec.classes` order), the pooled final hidden state
/// of each example of its `[concepts]` set, in the set's order.
pub fn class_rows(
    spec: &HeadSpec,
    experiment: &Experiment,
    activations: &mut Activations<'_>,
) -> Result<Vec<Vec<Vec<f32>>>, StudyError> {
    let mut classes = Vec::with_capacity(spec.classes.len());
    for class in &spec.classes {
        let texts = &experiment.concepts[class];
        let set = TextSet::Concept(class.clone());
        classes.push(
            activations
                .rows(&set, texts, HEAD_SITE, HEAD_POOLING)?
                .to_vec(),
        );
    }
    Ok(classes)
}

/// Trains the head `spec` describes and attaches it to `model`.
pub fn train_and_attach(
    spec: &HeadSpec,
    experiment: &Experiment,
    model: &mut LoadedModel,
    rng: &mut ChaCha8Rng,
) -> Result<HeadResult, StudyError> {
    let mut activations = Activations::new(model, experiment.batch_size);
    let classes = class_rows(spec, experiment, &mut activations)?;
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
pub fn rows(result: &HeadResult) -> Vec<HeadRow> {
    (result.classes.iter().enumerate())
        .map(|(i, class)| HeadRow {
            class: class.clone(),
            n_train: result.n_train[i],
            n_test: result.n_test[i],
            heldout_accuracy: result.heldout_accuracy,
        })
        .collect()
}
