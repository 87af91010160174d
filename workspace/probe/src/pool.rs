//! Token pooling: one vector per example from `[batch, pos, width]` activations.

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How token activations become one vector per example. Padding never enters a pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pooling {
    /// Mean over real tokens.
    Mean,
    /// The last real token.
    Last,
}

impl Pooling {
    /// Name used in files and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Last => "last",
        }
    }
}

/// Pools `x` (`[batch, pos, width]`, right-padded to real `lengths`) into `batch` vectors.
pub fn pool(x: Tensor<3>, lengths: &[usize], pooling: Pooling) -> Vec<Vec<f32>> {
    let [b, t, w] = x.dims();
    let flat = x.into_data().try_into_vec_as::<f32>().unwrap_or_default();
    (0..b)
        .map(|i| {
            let len = lengths[i].clamp(1, t);
            let rows = match pooling {
                Pooling::Mean => 0..len,
                Pooling::Last => len - 1..len,
            };
            let mut out = vec![0.0f32; w];
            for p in rows.clone() {
                let row = &flat[(i * t + p) * w..(i * t + p + 1) * w];
                out.iter_mut().zip(row).for_each(|(o, v)| *o += v);
            }
            let n = rows.len() as f32;
            out.iter_mut().for_each(|o| *o /= n);
            out
        })
        .collect()
}

/// Sums `x` over each example's real positions: `[batch, width]` rows.
pub fn sum_real(x: Tensor<3>, lengths: &[usize]) -> Vec<Vec<f32>> {
    pool(x, lengths, Pooling::Mean)
        .into_iter()
        .zip(lengths)
        .map(|(row, &len)| row.into_iter().map(|v| v * len as f32).collect())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Device, TensorData};

    #[test]
    fn padding_never_enters_the_pool() {
        // Two sequences of width 2; the second has one real token and a pad full of 100s.
        let data = vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 100.0, 100.0];
        let x = Tensor::<3>::from_data(TensorData::new(data, [2, 2, 2]), &Device::flex());
        assert_eq!(
            pool(x.clone(), &[2, 1], Pooling::Mean),
            vec![vec![2.0, 3.0], vec![5.0, 6.0]]
        );
        assert_eq!(
            pool(x.clone(), &[2, 1], Pooling::Last),
            vec![vec![3.0, 4.0], vec![5.0, 6.0]]
        );
        assert_eq!(sum_real(x, &[2, 1]), vec![vec![4.0, 6.0], vec![5.0, 6.0]]);
    }
}
