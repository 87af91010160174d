//! Deterministic training of the toy models from a seed.

use super::{Example, ToyTask};
use crate::TokenBatch;
use crate::hooks::{BatchInfo, Hooks, NoHooks};
use crate::site::{Site, SitePoint};
use crate::tokenizer::WordTokenizer;
use crate::transformer::Transformer;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
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
    /// Greedy head pruning after training (Michel et al. 2019): the head whose removal costs
    /// least is removed and the model trained this many more steps, for as long as it then
    /// keeps [`PRUNED_ACCURACY`]. 0 prunes nothing.
    #[serde(default)]
    pub pruning_steps: usize,
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
    /// Mean absolute logit difference between held-out examples and their nuisance twins
    /// (tasks with a nuisance only).
    pub heldout_nuisance_gap: Option<f64>,
    /// `[layer, head]` of the heads pruning removed, in order (their output weights are 0).
    #[serde(default)]
    pub pruned_heads: Vec<[usize; 2]>,
}

/// Weight of the penalty on logit differences between an example and its nuisance twin.
const CONSISTENCY_WEIGHT: f64 = 1.0;

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
    let nuisance_ids: Vec<i64> = task
        .nuisance_words()
        .iter()
        .filter_map(|w| tokenizer.id(w))
        .map(i64::from)
        .collect();
    for step in 0..schedule.steps {
        let examples: Vec<Example> = (0..schedule.batch_size)
            .map(|_| task.sample(&mut rng, &tokenizer))
            .collect();
        seen.extend(examples.iter().map(|e| e.text.clone()));
        let mut loss = training_loss(&model, &tokenizer, &examples, &device);
        if !nuisance_ids.is_empty() {
            loss = loss + direction_penalty(&model, &tokenizer, &examples, &nuisance_ids, &device);
        }
        progress(step, loss.clone().into_scalar());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optimizer.step(schedule.learning_rate, model, grads);
    }
    let mut pruned_heads = Vec::new();
    if schedule.pruning_steps > 0 {
        let probe: Vec<Example> = (0..PRUNING_PROBE)
            .map(|_| task.sample(&mut rng, &tokenizer))
            .collect();
        seen.extend(probe.iter().map(|e| e.text.clone()));
        while let Some(head) = cheapest_head(&model, &tokenizer, &probe, &pruned_heads, &device) {
            let removed = [pruned_heads.as_slice(), &[head]].concat();
            let mut pruned = remove_heads(model.clone(), &removed);
            let mut optimizer = AdamConfig::new().init();
            for _ in 0..schedule.pruning_steps {
                let examples: Vec<Example> = (0..schedule.batch_size)
                    .map(|_| task.sample(&mut rng, &tokenizer))
                    .collect();
                seen.extend(examples.iter().map(|e| e.text.clone()));
                let loss = training_loss(&pruned, &tokenizer, &examples, &device);
                let grads = GradientsParams::from_grads(loss.backward(), &pruned);
                // Projected descent: removed heads' output weights return to 0 after each step.
                pruned = remove_heads(
                    optimizer.step(schedule.learning_rate, pruned, grads),
                    &removed,
                );
            }
            if accuracy(&pruned, &tokenizer, &probe) < PRUNED_ACCURACY {
                break;
            }
            model = pruned;
            pruned_heads = removed;
        }
    }
    let heldout = heldout_examples(task, &tokenizer, seed, &seen);
    let record = TrainingRecord {
        seed,
        schedule,
        heldout_examples: heldout.len(),
        heldout_accuracy: accuracy(&model, &tokenizer, &heldout),
        heldout_nuisance_gap: nuisance_gap(&model, &tokenizer, &heldout),
        pruned_heads,
    };
    (model, record)
}

/// Fresh examples from a separate stream, excluding every text seen in training.
fn heldout_examples(
    task: &dyn ToyTask,
    tokenizer: &WordTokenizer,
    seed: u64,
    seen: &HashSet<String>,
) -> Vec<Example> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_4e1d_0075);
    let mut out = Vec::with_capacity(HELDOUT);
    // The languages are large enough that this ends quickly; the bound guards against a task
    // whose sentences were all seen.
    for _ in 0..HELDOUT * 1000 {
        if out.len() == HELDOUT {
            break;
        }
        let example = task.sample(&mut rng, tokenizer);
        if !seen.contains(&example.text) {
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

fn logits_of<'a>(
    model: &Transformer,
    tokenizer: &WordTokenizer,
    texts: impl IntoIterator<Item = &'a String>,
) -> Tensor<2> {
    model
        .forward(&encode(tokenizer, texts), &mut NoHooks)
        .logits
}

/// Cross-entropy on the examples and on their nuisance twins, plus the twins' logit penalty.
fn training_loss(
    model: &Transformer,
    tokenizer: &WordTokenizer,
    examples: &[Example],
    device: &Device,
) -> Tensor<1> {
    let logits = logits_of(model, tokenizer, examples.iter().map(|e| &e.text));
    let labels: Vec<u32> = examples.iter().map(|e| e.label).collect();
    let loss = cross_entropy(logits.clone(), &labels, device);
    let twinned: Vec<usize> = (0..examples.len())
        .filter(|&i| examples[i].nuisance_twin.is_some())
        .collect();
    if twinned.is_empty() {
        return loss;
    }
    let twin_logits = logits_of(
        model,
        tokenizer,
        examples.iter().filter_map(|e| e.nuisance_twin.as_ref()),
    );
    let twin_labels: Vec<u32> = twinned.iter().map(|&i| labels[i]).collect();
    let index = Tensor::<1, Int>::from_data(
        TensorData::new(
            twinned.iter().map(|&i| i as i64).collect::<Vec<_>>(),
            [twinned.len()],
        ),
        device,
    );
    let gap = (logits.select(0, index) - twin_logits.clone())
        .square()
        .mean();
    loss + cross_entropy(twin_logits, &twin_labels, device) + gap.mul_scalar(CONSISTENCY_WEIGHT)
}

/// Scale of the random nuisance-embedding mixtures added during training.
const NUISANCE_NOISE: f64 = 0.5;

/// Adds a random mixture of nuisance-word embeddings at every position of the `embed` site.
struct NuisanceNoise {
    directions: Tensor<2>,
}

impl Hooks for NuisanceNoise {
    fn wants(&self, site: &Site) -> bool {
        site.point == SitePoint::Embed
    }

    fn visit_stream(&mut self, _site: &Site, _batch: &BatchInfo, x: Tensor<3>) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let [k, d] = self.directions.dims();
        let weights = Tensor::<3>::random(
            [b, t, k],
            Distribution::Normal(0.0, NUISANCE_NOISE),
            &x.device(),
        );
        let noise = weights
            .reshape([b * t, k])
            .matmul(self.directions.clone())
            .reshape([b, t, d]);
        x + noise
    }

    fn visit_heads(&mut self, _site: &Site, _batch: &BatchInfo, x: Tensor<4>) -> Tensor<4> {
        x
    }
}

/// Penalises logit changes when nuisance-word embeddings are mixed into every position.
fn direction_penalty(
    model: &Transformer,
    tokenizer: &WordTokenizer,
    examples: &[Example],
    nuisance_ids: &[i64],
    device: &Device,
) -> Tensor<1> {
    let batch = encode(tokenizer, examples.iter().map(|e| &e.text));
    let ids = Tensor::<1, Int>::from_data(
        TensorData::new(nuisance_ids.to_vec(), [nuisance_ids.len()]),
        device,
    );
    let directions = model.token_embedding.weight.val().select(0, ids).detach();
    let clean = model.forward(&batch, &mut NoHooks).logits;
    let noisy = model
        .forward(&batch, &mut NuisanceNoise { directions })
        .logits;
    (clean - noisy)
        .square()
        .mean()
        .mul_scalar(CONSISTENCY_WEIGHT)
}

/// Accuracy the model must regain after a head removal, on the pruning probe, to keep it.
pub const PRUNED_ACCURACY: f64 = 0.99;

/// Examples the pruning decisions are measured on.
const PRUNING_PROBE: usize = 512;

/// The remaining head whose removal raises the probe's loss least (none when one is left).
fn cheapest_head(
    model: &Transformer,
    tokenizer: &WordTokenizer,
    probe: &[Example],
    removed: &[[usize; 2]],
    device: &Device,
) -> Option<[usize; 2]> {
    let labels: Vec<u32> = probe.iter().map(|e| e.label).collect();
    let (layers, heads) = (model.config.n_layers, model.config.n_heads);
    let remaining = (0..layers)
        .flat_map(|layer| (0..heads).map(move |head| [layer, head]))
        .filter(|head| !removed.contains(head))
        .collect::<Vec<_>>();
    if remaining.len() < 2 {
        return None;
    }
    let mut cheapest: Option<([usize; 2], f32)> = None;
    for head in remaining {
        let without = remove_heads(model.clone(), &[removed, &[head]].concat());
        let logits = logits_of(&without, tokenizer, probe.iter().map(|e| &e.text));
        let loss = cross_entropy(logits, &labels, device).into_scalar();
        if cheapest.is_none_or(|(_, best)| loss < best) {
            cheapest = Some((head, loss));
        }
    }
    cheapest.map(|(head, _)| head)
}

/// Sets the output-projection rows of the given heads to 0, so they add nothing to the stream.
fn remove_heads(mut model: Transformer, heads: &[[usize; 2]]) -> Transformer {
    let d_head = model.config.d_head;
    for (layer, block) in model.blocks.iter_mut().enumerate() {
        let [rows, cols] = block.attn.o.weight.dims();
        let mut keep = vec![1.0f32; rows * cols];
        for &[_, head] in heads.iter().filter(|[l, _]| *l == layer) {
            keep[head * d_head * cols..(head + 1) * d_head * cols].fill(0.0);
        }
        let keep = Tensor::<2>::from_data(
            TensorData::new(keep, [rows, cols]),
            &block.attn.o.weight.device(),
        );
        block.attn.o.weight = block
            .attn
            .o
            .weight
            .clone()
            .map(|w| (w * keep).detach().require_grad());
    }
    model
}

fn cross_entropy(logits: Tensor<2>, labels: &[u32], device: &Device) -> Tensor<1> {
    let [b, n] = logits.dims();
    let mut one_hot = vec![0.0f32; b * n];
    for (i, label) in labels.iter().enumerate() {
        one_hot[i * n + *label as usize] = 1.0;
    }
    let one_hot = Tensor::<2>::from_data(TensorData::new(one_hot, [b, n]), device);
    (log_softmax(logits, 1) * one_hot)
        .sum()
        .neg()
        .div_scalar(b as f64)
}

/// Fraction of examples whose arg-max logit is the label.
pub fn accuracy(model: &Transformer, tokenizer: &WordTokenizer, examples: &[Example]) -> f64 {
    let mut correct = 0;
    for chunk in examples.chunks(256) {
        let logits = logits_of(model, tokenizer, chunk.iter().map(|e| &e.text));
        let predicted = logits
            .argmax(1)
            .into_data()
            .try_into_vec_as::<i64>()
            .unwrap_or_default();
        correct += predicted
            .iter()
            .zip(chunk)
            .filter(|(p, e)| **p == e.label as i64)
            .count();
    }
    correct as f64 / examples.len().max(1) as f64
}

/// Mean absolute logit difference between examples and their nuisance twins.
fn nuisance_gap(
    model: &Transformer,
    tokenizer: &WordTokenizer,
    examples: &[Example],
) -> Option<f64> {
    let pairs: Vec<(&String, &String)> = examples
        .iter()
        .filter_map(|e| e.nuisance_twin.as_ref().map(|t| (&e.text, t)))
        .collect();
    if pairs.is_empty() {
        return None;
    }
    let mut total = 0.0;
    let mut count = 0usize;
    for chunk in pairs.chunks(256) {
        let a = logits_of(model, tokenizer, chunk.iter().map(|p| p.0));
        let b = logits_of(model, tokenizer, chunk.iter().map(|p| p.1));
        let diff = (a - b)
            .abs()
            .into_data()
            .try_into_vec_as::<f64>()
            .unwrap_or_default();
        count += diff.len();
        total += diff.iter().sum::<f64>();
    }
    Some(total / count.max(1) as f64)
}
