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
