//! Rotary position embeddings in llama.cpp's adjacent-pair layout.

use burn::tensor::{Device, Tensor, TensorData};

/// Cosine and sine tables for one sequence length.
#[derive(Debug, Clone)]
pub struct Rope {
    cos: Tensor<4>,
    sin: Tensor<4>,
}

impl Rope {
    /// Tables for positions `0..seq_len` and heads of width `d_head`.
    pub fn new(base: f32, d_head: usize, seq_len: usize, device: &Device) -> Rope {
        let half = d_head / 2;
        let mut cos = Vec::with_capacity(seq_len * half);
        let mut sin = Vec::with_capacity(seq_len * half);
        for pos in 0..seq_len {
            for i in 0..half {
                let freq = (base as f64).powf(-2.0 * i as f64 / d_head as f64);
                let angle = pos as f64 * freq;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let table =
            |v: Vec<f32>| Tensor::from_data(TensorData::new(v, [1, 1, seq_len, half]), device);
        Rope {
            cos: table(cos),
            sin: table(sin),
        }
    }

    /// Rotates each adjacent pair `(x[2i], x[2i+1])` of `[batch, heads, pos, d_head]`.
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, t, dh] = x.dims();
        let pairs = x.reshape([b, h, t, dh / 2, 2]);
        let even: Tensor<4> = pairs.clone().narrow(4, 0, 1).reshape([b, h, t, dh / 2]);
        let odd: Tensor<4> = pairs.narrow(4, 1, 1).reshape([b, h, t, dh / 2]);
        let rot_even = even.clone() * self.cos.clone() - odd.clone() * self.sin.clone();
        let rot_odd = even * self.sin.clone() + odd * self.cos.clone();
        Tensor::stack::<5>(vec![rot_even, rot_odd], 4).reshape([b, h, t, dh])
    }
}
