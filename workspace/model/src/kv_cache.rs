//! The keys and values of the tokens a decoder has already seen, kept between the forward
//! passes of a generation so that each pass computes only its new tokens.
//!
//! A cache holds, per layer, the keys (after RoPE) and values of every token of every pass so
//! far, one slot per token, in pass order: the right-padded prompt pass first, then one slot a
//! generated token. Padding slots stay in the cache, and the attention mask hides them; each
//! slot's position (its sequence's own count of real tokens before it) drives RoPE, learned
//! position embeddings, the causal mask and sliding windows.

use crate::hooks::BatchInfo;
use burn::tensor::Tensor;

/// The keys and values of one layer: `[batch, kv_heads, slots, d_head]` each.
#[derive(Debug, Clone, Default)]
pub struct LayerKv {
    kv: Option<(Tensor<4>, Tensor<4>)>,
}

impl LayerKv {
    /// Appends a pass's keys and values (`[batch, kv_heads, pos, d_head]`, keys after RoPE)
    /// and returns every slot's so far, the new ones last.
    pub fn extend(&mut self, k: Tensor<4>, v: Tensor<4>) -> (Tensor<4>, Tensor<4>) {
        let (k, v) = match self.kv.take() {
            Some((old_k, old_v)) => (
                Tensor::cat(vec![old_k, k], 2),
                Tensor::cat(vec![old_v, v], 2),
            ),
            None => (k, v),
        };
        self.kv = Some((k.clone(), v.clone()));
        (k, v)
    }
}

/// Keys and values of a batch of sequences across forward passes
/// ([`crate::Transformer::forward_cached`]).
#[derive(Debug, Clone)]
pub struct KvCache {
    layers: Vec<LayerKv>,
    /// Per sequence, the position of the token in each slot (`None`: padding).
    slots: Vec<Vec<Option<usize>>>,
}

impl KvCache {
    /// An empty cache for `batch` sequences through `n_layers` blocks.
    pub fn new(batch: usize, n_layers: usize) -> KvCache {
        KvCache {
            layers: vec![LayerKv::default(); n_layers],
            slots: vec![Vec::new(); batch],
        }
    }

    /// Number of sequences.
    pub fn batch(&self) -> usize {
        self.slots.len()
    }

    /// Per sequence, its real tokens so far: the position its next token takes.
    pub fn lengths(&self) -> Vec<usize> {
        self.slots
            .iter()
            .map(|s| s.iter().flatten().count())
            .collect()
    }

    /// Per sequence, the position of each slot (`None`: padding).
    pub fn slot_positions(&self) -> &[Vec<Option<usize>>] {
        &self.slots
    }

    /// Adds the slots of a pass of `batch` (each sequence's real tokens, right-padded to
    /// `seq_len`) and returns, per sequence, the position of each of the pass's tokens
    /// (padding continues past the real ones; nothing attends to it).
    pub fn append(&mut self, batch: &BatchInfo) -> Vec<Vec<usize>> {
        let starts = self.lengths();
        let mut queries = Vec::with_capacity(self.slots.len());
        for ((slots, &len), start) in self.slots.iter_mut().zip(&batch.lengths).zip(starts) {
            queries.push((start..start + batch.seq_len).collect());
            slots.extend((0..batch.seq_len).map(|j| (j < len).then_some(start + j)));
        }
        queries
    }

    /// The per-layer keys and values.
    pub fn layers_mut(&mut self) -> &mut [LayerKv] {
        &mut self.layers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn slots_keep_each_sequence_positions_and_padding() {
        let mut cache = KvCache::new(2, 1);
        // A prompt pass: lengths 3 and 1, padded to 3.
        let prompt = BatchInfo {
            lengths: vec![3, 1],
            seq_len: 3,
        };
        assert_eq!(cache.append(&prompt), [vec![0, 1, 2], vec![0, 1, 2]]);
        // Then one token each.
        let step = BatchInfo {
            lengths: vec![1, 1],
            seq_len: 1,
        };
        assert_eq!(cache.append(&step), [vec![3], vec![1]]);
        assert_eq!(cache.lengths(), [4, 2]);
        assert_eq!(
            cache.slot_positions(),
            [
                vec![Some(0), Some(1), Some(2), Some(3)],
                vec![Some(0), None, None, Some(1)]
            ]
        );
    }

    #[test]
    fn layers_append_along_the_slots() {
        let device = Device::flex();
        let kv = |v: f32, t: usize| {
            Tensor::<4>::from_data(TensorData::new(vec![v; t * 2], [1, 1, t, 2]), &device)
        };
        let mut layer = LayerKv::default();
        let (k, _) = layer.extend(kv(1.0, 2), kv(2.0, 2));
        assert_eq!(k.dims(), [1, 1, 2, 2]);
        let (k, v) = layer.extend(kv(3.0, 1), kv(4.0, 1));
        assert_eq!(k.dims(), [1, 1, 3, 2]);
        let values = |x: Tensor<4>| x.into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(values(k), [1.0, 1.0, 1.0, 1.0, 3.0, 3.0]);
        assert_eq!(values(v), [2.0, 2.0, 2.0, 2.0, 4.0, 4.0]);
    }
}
