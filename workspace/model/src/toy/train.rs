//! Deterministic training of the toy models from a seed.

use super::ToyTask;
use crate::TokenBatch;
use crate::hooks::NoHooks;
use crate::tokenizer::WordTokenizer;
use crate::transformer::Transformer;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;

/// Optimisation settings of a toy task.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Schedule {
    /// Adam steps.
    pub steps: usize,
    /// Examples per step.
    pub batch_size: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
}

/// How a checkpoint was trained and how well it does on held-out examples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRecord {
    /// Seed of weights and data.
    pub seed: u64,
    /// Optimisation settings.
    pub schedule: Schedule,
    /// Held-out examples (never seen in training).
    pub heldout_examples: usize,
    /// Accuracy on them.
    pub heldout_accuracy: f64,
}

/// Number of held-out examples the accuracy is measured on.
const HELDOUT: usize = 2000;

/// Trains `task` from `seed`; `progress(step, loss)` is called after every step.
pub fn train(
    task: &dyn ToyTask,
    seed: u64,
    progress: &mut (dyn FnMut(usize, f32) + Send),
) -> (Transformer, TrainingRecord) {
    let device = Device::flex().autodiff();
    device.seed(seed);
    let tokenizer = task.tokenizer();
    let schedule = task.schedule();
    let mut model = Transformer::new(task.config(tokenizer.vocab_size()), &device);
    let mut optimizer = AdamConfig::new().init();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut seen = HashSet::new();
    for step in 0..schedule.steps {
        let examples: Vec<(String, u32)> = (0..schedule.batch_size)
            .map(|_| task.sample(&mut rng, &tokenizer))
            .collect();
        seen.extend(examples.iter().map(|(text, _)| text.clone()));
        let loss = cross_entropy(&model, &tokenizer, &examples, &device);
        progress(step, loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(schedule.learning_rate, model, grads);
    }
    let heldout = heldout_examples(task, &tokenizer, seed, &seen);
    let heldout_accuracy = accuracy(&model, &tokenizer, &heldout);
    let record = TrainingRecord {
        seed,
        schedule,
        heldout_examples: heldout.len(),
        heldout_accuracy,
    };
    (model, record)
}

/// Fresh examples from a separate stream, excluding every text seen in training.
fn heldout_examples(
    task: &dyn ToyTask,
    tokenizer: &WordTokenizer,
    seed: u64,
    seen: &HashSet<String>,
) -> Vec<(String, u32)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x5eed_0f_4e1d_0075);
    let mut out = Vec::with_capacity(HELDOUT);
    // The languages are large enough that this ends quickly; the bound guards against a task
    // whose sentences were all seen.
    for _ in 0..HELDOUT * 1000 {
        if out.len() == HELDOUT {
            break;
        }
        let example = task.sample(&mut rng, tokenizer);
        if !seen.contains(&example.0) {
            out.push(example);
        }
    }
    out
}

/// Encodes texts for a model with this tokenizer (texts must have at least one known token).
pub fn encode(
    tokenizer: &WordTokenizer,
    texts: impl IntoIterator<Item = impl AsRef<str>>,
) -> TokenBatch {
    TokenBatch {
        ids: texts
            .into_iter()
            .map(|t| tokenizer.encode(t.as_ref()).0)
            .collect(),
        pad_id: tokenizer.pad_id(),
    }
}

fn cross_entropy(
    model: &Transformer,
    tokenizer: &WordTokenizer,
    examples: &[(String, u32)],
    device: &Device,
) -> Tensor<1> {
    let batch = encode(tokenizer, examples.iter().map(|(t, _)| t));
    let logits = model.forward(&batch, &mut NoHooks).logits;
    let [b, n] = logits.dims();
    let mut one_hot = vec![0.0f32; b * n];
    for (i, (_, label)) in examples.iter().enumerate() {
        one_hot[i * n + *label as usize] = 1.0;
    }
    let one_hot = Tensor::<2>::from_data(TensorData::new(one_hot, [b, n]), device);
    (log_softmax(logits, 1) * one_hot)
        .sum()
        .neg()
        .div_scalar(b as f64)
}

/// Fraction of examples whose arg-max logit is the label.
pub fn accuracy(model: &Transformer, tokenizer: &WordTokenizer, examples: &[(String, u32)]) -> f64 {
    let mut correct = 0;
    for chunk in examples.chunks(256) {
        let batch = encode(tokenizer, chunk.iter().map(|(t, _)| t));
        let logits = model.forward(&batch, &mut NoHooks).logits;
        let predicted = logits
            .argmax(1)
            .into_data()
            .try_into_vec_as::<i64>()
            .unwrap_or_default();
        correct += predicted
            .iter()
            .zip(chunk)
            .filter(|(p, (_, label))| **p == *label as i64)
            .count();
    }
    correct as f64 / examples.len().max(1) as f64
}
