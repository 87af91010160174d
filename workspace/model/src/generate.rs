//! Greedy generation with a key/value cache: one pass over the prompts, then one pass a token
//! that runs only the new token of each sequence.

use crate::batch::TokenBatch;
use crate::config::OutputHead;
use crate::error::ModelError;
use crate::hooks::Hooks;
use crate::kv_cache::KvCache;
use crate::transformer::Transformer;
use burn::tensor::Tensor;

/// What a greedy generation produced.
#[derive(Debug, Clone)]
pub struct Generation {
    /// Per sequence, its generated tokens.
    pub tokens: Vec<Vec<u32>>,
    /// Per step, the next-token logits `[batch, vocab]` the step's tokens were chosen from.
    pub logits: Vec<Tensor<2>>,
}

/// The index of the largest value, the first of equal ones (how cavern reads a prediction).
pub fn argmax(values: &[f32]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// Continues each sequence of `batch` by `n` tokens, each the most likely next token
/// ([`argmax`] of the logits), with a [`KvCache`]: the first pass runs the prompts, each later
/// pass only the tokens just chosen. `hooks(step)` makes the hooks of pass `step` (0: the
/// prompts, `k`: the `k`-th generated token, one position a sequence) and `done` receives
/// them after the pass, to check or read them.
///
/// Fails for models without a language-model head, and when a sequence would grow past the
/// positions the model has.
pub fn generate<H: Hooks, E: From<ModelError>>(
    model: &Transformer,
    batch: &TokenBatch,
    n: usize,
    mut hooks: impl FnMut(usize) -> H,
    mut done: impl FnMut(H) -> Result<(), E>,
) -> Result<Generation, E> {
    if !matches!(model.config.head, OutputHead::LanguageModel { .. }) {
        return Err(ModelError::Generate(
            "only language models generate text; this model ends in a classifier or an embedding"
                .into(),
        )
        .into());
    }
    let longest = batch.max_len() + n.saturating_sub(1);
    if let Some(max) = model.config.max_len().filter(|&max| longest > max) {
        return Err(ModelError::Generate(format!(
            "the longest prompt ({} tokens) and {n} generated tokens need {longest} positions; \
             the model has {max}: ask for at most {} tokens",
            batch.max_len(),
            (max + 1).saturating_sub(batch.max_len())
        ))
        .into());
    }
    let mut cache = KvCache::new(batch.len(), model.blocks.len());
    let mut generation = Generation {
        tokens: vec![Vec::with_capacity(n); batch.len()],
        logits: Vec::with_capacity(n),
    };
    let mut input = batch.clone();
    for step in (0..n).take_while(|_| !batch.is_empty()) {
        let mut step_hooks = hooks(step);
        let logits = model
            .forward_cached(&input, &mut cache, &mut step_hooks)?
            .logits;
        done(step_hooks)?;
        let [_, vocab] = logits.dims();
        let values = logits
            .clone()
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap_or_default();
        let next: Vec<u32> = values
            .chunks_exact(vocab.max(1))
            .map(|row| argmax(row) as u32)
            .collect();
        for (tokens, &id) in generation.tokens.iter_mut().zip(&next) {
            tokens.push(id);
        }
        generation.logits.push(logits);
        input = TokenBatch {
            ids: next.into_iter().map(|id| vec![id]).collect(),
            pad_id: batch.pad_id,
        };
    }
    Ok(generation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argmax_takes_the_first_of_equal_values() {
        assert_eq!(argmax(&[0.5, 2.0, -1.0, 2.0]), 1);
        assert_eq!(argmax(&[f32::NEG_INFINITY, -3.0]), 1);
        assert_eq!(argmax(&[]), 0);
    }
}
