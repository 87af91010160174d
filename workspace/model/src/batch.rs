//! Token batches: right-padded id sequences and the tensors a forward pass needs.

use crate::hooks::BatchInfo;
use burn::tensor::{Device, Int, Tensor, TensorData};

/// A batch of tokenized sequences of possibly different lengths, right-padded on use.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    /// Token ids of each sequence, unpadded.
    pub ids: Vec<Vec<u32>>,
    /// Id used to pad shorter sequences.
    pub pad_id: u32,
}

impl TokenBatch {
    /// Number of sequences.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether the batch has no sequences.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Longest sequence length (the padded length).
    pub fn max_len(&self) -> usize {
        self.ids.iter().map(Vec::len).max().unwrap_or(0)
    }

    /// Real lengths and padded length, for hooks.
    pub fn info(&self) -> BatchInfo {
        BatchInfo {
            lengths: self.ids.iter().map(Vec::len).collect(),
            seq_len: self.max_len(),
        }
    }

    /// Padded ids as `[batch, pos]`.
    pub fn ids_tensor(&self, device: &Device) -> Tensor<2, Int> {
        let t = self.max_len();
        let mut flat = Vec::with_capacity(self.len() * t);
        for seq in &self.ids {
            flat.extend(seq.iter().map(|&id| id as i64));
            flat.extend(std::iter::repeat_n(self.pad_id as i64, t - seq.len()));
        }
        Tensor::from_data(TensorData::new(flat, [self.len(), t]), device)
    }

    /// `[batch, pos]` with 1.0 at real tokens and 0.0 at padding.
    pub fn mask(&self, device: &Device) -> Tensor<2> {
        token_mask(&self.info(), device)
    }

    /// A full-length `[batch, tokens]` batch for BERT vocabularies: `[CLS]`, then
    /// `1000 + (b·7919 + j·104729) mod 20000` for sequence b and position j, then `[SEP]`. The
    /// inputs of the extraction benchmark and its PyTorch peer (`benches/torch_extract.py`), and
    /// of the profiling example `forward_timing`.
    pub fn synthetic_bert(batch: usize, tokens: usize) -> TokenBatch {
        let ids = (0..batch)
            .map(|b| {
                (0..tokens)
                    .map(|j| match j {
                        0 => 101,
                        j if j == tokens - 1 => 102,
                        j => (1000 + (b * 7919 + j * 104_729) % 20_000) as u32,
                    })
                    .collect()
            })
            .collect();
        TokenBatch { ids, pad_id: 0 }
    }
}

/// `[batch, pos]` with 1.0 at real tokens and 0.0 at padding.
pub fn token_mask(info: &BatchInfo, device: &Device) -> Tensor<2> {
    let t = info.seq_len;
    let flat: Vec<f32> = info
        .lengths
        .iter()
        .flat_map(|&len| (0..t).map(move |j| if j < len { 1.0 } else { 0.0 }))
        .collect();
    Tensor::from_data(TensorData::new(flat, [info.lengths.len(), t]), device)
}

/// `[batch, pos]` with 1.0 at each sequence's last real token.
pub fn last_token_mask(info: &BatchInfo, device: &Device) -> Tensor<2> {
    let t = info.seq_len;
    let flat: Vec<f32> = info
        .lengths
        .iter()
        .flat_map(|&len| (0..t).map(move |j| if j + 1 == len { 1.0 } else { 0.0 }))
        .collect();
    Tensor::from_data(TensorData::new(flat, [info.lengths.len(), t]), device)
}

/// The passes that run `lengths.len()` sequences at most `batch_size` a pass with as little
/// padding as fixed-size passes allow: sequence indices sorted by length (ties keep index
/// order), cut into consecutive passes of `batch_size` (the last may be smaller). Deterministic:
/// the same lengths give the same passes.
pub fn length_buckets(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    // A stable sort: equal lengths stay in index order.
    order.sort_by_key(|&i| lengths[i]);
    order
        .chunks(batch_size.max(1))
        .map(<[usize]>::to_vec)
        .collect()
}

/// Puts per-sequence `items` of `passes` (pass by pass, each pass's items in its order) back in
/// sequence order: item `k` of pass `p` belongs to sequence `passes[p][k]`. `None` when the
/// items do not match the passes one to one.
pub fn in_sequence_order<T>(passes: &[Vec<usize>], items: Vec<T>) -> Option<Vec<T>> {
    let n = passes.iter().map(Vec::len).sum::<usize>();
    if items.len() != n {
        return None;
    }
    let mut slots: Vec<Option<T>> = std::iter::repeat_with(|| None).take(n).collect();
    for (&index, item) in passes.iter().flatten().zip(items) {
        let slot = slots.get_mut(index)?;
        if slot.replace(item).is_some() {
            return None;
        }
    }
    slots.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sort_by_length_and_keep_index_order_on_ties() {
        let lengths = [5, 2, 9, 2, 5, 1, 7];
        assert_eq!(
            length_buckets(&lengths, 3),
            vec![vec![5, 1, 3], vec![0, 4, 6], vec![2]]
        );
        assert_eq!(
            length_buckets(&lengths, 0).len(),
            7,
            "batch size 0 runs one a pass"
        );
        assert!(length_buckets(&[], 4).is_empty());
    }

    #[test]
    fn buckets_pad_no_more_than_input_order() {
        // Padding = Σ over passes of (longest − each); sorted passes never pad more.
        let lengths: Vec<usize> = (0..50).map(|i| (i * 37 + 11) % 23 + 1).collect();
        let padding = |passes: &[Vec<usize>]| -> usize {
            passes
                .iter()
                .map(|p| {
                    let max = p.iter().map(|&i| lengths[i]).max().unwrap_or(0);
                    p.iter().map(|&i| max - lengths[i]).sum::<usize>()
                })
                .sum()
        };
        let sorted = length_buckets(&lengths, 8);
        let in_order: Vec<Vec<usize>> = (0..50)
            .collect::<Vec<_>>()
            .chunks(8)
            .map(<[usize]>::to_vec)
            .collect();
        assert!(padding(&sorted) < padding(&in_order));
        assert_eq!(
            sorted.iter().map(Vec::len).collect::<Vec<_>>(),
            [8, 8, 8, 8, 8, 8, 2]
        );
    }

    #[test]
    fn items_return_to_sequence_order() {
        let passes = vec![vec![2, 0], vec![1]];
        assert_eq!(
            in_sequence_order(&passes, vec!["c", "a", "b"]),
            Some(vec!["a", "b", "c"])
        );
        assert_eq!(in_sequence_order(&passes, vec!["c", "a"]), None);
        assert_eq!(in_sequence_order(&[vec![0, 0]], vec![1, 2]), None);
        assert_eq!(in_sequence_order(&[vec![3]], vec![1]), None);
    }
}
