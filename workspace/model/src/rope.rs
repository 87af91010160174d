//! Rotary position embeddings, in llama.cpp's adjacent-pair layout or Hugging Face's
//! rotate-half layout, over a whole head or its leading dimensions.

use crate::config::{RopeConfig, RopeLayout, RopeScaling};
use crate::kernels::{self, Pairing};
use burn::tensor::{Device, Tensor, TensorData};

/// Cosine and sine tables for one sequence length.
#[derive(Debug, Clone)]
pub struct Rope {
    cos: Tensor<4>,
    sin: Tensor<4>,
    layout: RopeLayout,
    rotary_dim: usize,
}

impl Rope {
    /// Tables for positions `0..seq_len` and heads of width `d_head`, at base frequency `base`
    /// (the config's own or its local one) and with the config's layout, width and scaling.
    pub fn new(
        config: &RopeConfig,
        base: f32,
        scaling: RopeScaling,
        d_head: usize,
        seq_len: usize,
        device: &Device,
    ) -> Rope {
        let positions = [(0..seq_len).collect::<Vec<_>>()];
        Rope::at_positions(config, base, scaling, d_head, &positions, device)
    }

    /// Tables for each sequence's own positions: `positions[b][j]` is where token `j` of
    /// sequence `b` sits (all rows of one length; one row applies to every sequence). A pass
    /// that continues cached sequences starts each at its own length.
    pub fn at_positions(
        config: &RopeConfig,
        base: f32,
        scaling: RopeScaling,
        d_head: usize,
        positions: &[Vec<usize>],
        device: &Device,
    ) -> Rope {
        let rotary_dim = config.rotary_dim.unwrap_or(d_head);
        let half = rotary_dim / 2;
        let freqs: Vec<f64> = (0..half)
            .map(|i| {
                scaled(
                    (base as f64).powf(-2.0 * i as f64 / rotary_dim as f64),
                    scaling,
                )
            })
            .collect();
        let seq_len = positions.first().map_or(0, Vec::len);
        let mut cos = Vec::with_capacity(positions.len() * seq_len * half);
        let mut sin = Vec::with_capacity(positions.len() * seq_len * half);
        for &pos in positions.iter().flatten() {
            for freq in &freqs {
                let angle = pos as f64 * freq;
                cos.push(angle.cos() as f32);
                sin.push(angle.sin() as f32);
            }
        }
        let shape = [positions.len(), 1, seq_len, half];
        let table = |v: Vec<f32>| Tensor::from_data(TensorData::new(v, shape), device);
        Rope {
            cos: table(cos),
            sin: table(sin),
            layout: config.layout,
            rotary_dim,
        }
    }

    /// Rotates the pairs of `[batch, heads, pos, d_head]`; dimensions past the rotary width
    /// pass through. On the CPU backend one kernel does it (same bits as the tensor ops).
    pub fn apply(&self, x: Tensor<4>) -> Tensor<4> {
        if !kernels::on_flex_f32(&[&x, &self.cos, &self.sin]) {
            return self.apply_op_by_op(x);
        }
        let pairing = match self.layout {
            RopeLayout::AdjacentPairs => Pairing::Adjacent,
            RopeLayout::RotateHalf => Pairing::Halves,
        };
        let (cos, sin) = (self.cos.clone(), self.sin.clone());
        kernels::rope(x, cos, sin, pairing, self.rotary_dim)
    }

    /// [`Rope::apply`] with burn's tensor ops (GPUs, and passes that record gradients).
    fn apply_op_by_op(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, h, t, dh] = x.dims();
        let r = self.rotary_dim;
        let (rotated, rest) = match r < dh {
            true => (x.clone().narrow(3, 0, r), Some(x.narrow(3, r, dh - r))),
            false => (x, None),
        };
        let (first, second) = match self.layout {
            RopeLayout::AdjacentPairs => {
                let pairs = rotated.reshape([b, h, t, r / 2, 2]);
                let even: Tensor<4> = pairs.clone().narrow(4, 0, 1).reshape([b, h, t, r / 2]);
                let odd: Tensor<4> = pairs.narrow(4, 1, 1).reshape([b, h, t, r / 2]);
                (even, odd)
            }
            RopeLayout::RotateHalf => (
                rotated.clone().narrow(3, 0, r / 2),
                rotated.narrow(3, r / 2, r / 2),
            ),
        };
        let rot_first = first.clone() * self.cos.clone() - second.clone() * self.sin.clone();
        let rot_second = first * self.sin.clone() + second * self.cos.clone();
        let rotated = match self.layout {
            RopeLayout::AdjacentPairs => {
                Tensor::stack::<5>(vec![rot_first, rot_second], 4).reshape([b, h, t, r])
            }
            RopeLayout::RotateHalf => Tensor::cat(vec![rot_first, rot_second], 3),
        };
        match rest {
            Some(rest) => Tensor::cat(vec![rotated, rest], 3),
            None => rotated,
        }
    }
}

/// A frequency (radians per position) after `scaling`.
fn scaled(freq: f64, scaling: RopeScaling) -> f64 {
    match scaling {
        RopeScaling::None => freq,
        RopeScaling::Linear { factor } => freq / factor,
        RopeScaling::Llama3 {
            factor,
            low_freq_factor,
            high_freq_factor,
            original_max_position,
        } => {
            let wavelength = 2.0 * std::f64::consts::PI / freq;
            let low_freq_wavelength = original_max_position / low_freq_factor;
            let high_freq_wavelength = original_max_position / high_freq_factor;
            if wavelength < high_freq_wavelength {
                freq
            } else if wavelength > low_freq_wavelength {
                freq / factor
            } else {
                let smooth = (original_max_position / wavelength - low_freq_factor)
                    / (high_freq_factor - low_freq_factor);
                (1.0 - smooth) * freq / factor + smooth * freq
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(x: Tensor<4>) -> Vec<f32> {
        x.into_data().try_into_vec_as::<f32>().unwrap()
    }

    /// Position 1 of one head of width 4 (base 10000: frequencies 1 and 1/100, or 1 alone
    /// when only 2 dimensions rotate).
    fn rotate(layout: RopeLayout, rotary_dim: Option<usize>, x: [f32; 4]) -> Vec<f32> {
        let device = Device::flex();
        let config = RopeConfig {
            rotary_dim,
            ..RopeConfig::new(10_000.0, layout)
        };
        let rope = Rope::new(&config, 10_000.0, RopeScaling::None, 4, 2, &device);
        let input = Tensor::from_data(
            TensorData::new([[0.0; 4], x].concat(), [1, 1, 2, 4]),
            &device,
        );
        values(rope.apply(input))[4..].to_vec()
    }

    fn close(got: &[f32], want: &[f64]) {
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn layouts_pair_different_dimensions() {
        // Frequencies 1 and 1/100 (base 10000, width 4); position 1.
        let (c0, s0, c1, s1) = (1f64.cos(), 1f64.sin(), 0.01f64.cos(), 0.01f64.sin());
        let adjacent = rotate(RopeLayout::AdjacentPairs, None, [1.0, 2.0, 3.0, 4.0]);
        close(
            &adjacent,
            &[
                c0 - 2.0 * s0,
                s0 + 2.0 * c0,
                3.0 * c1 - 4.0 * s1,
                3.0 * s1 + 4.0 * c1,
            ],
        );
        let half = rotate(RopeLayout::RotateHalf, None, [1.0, 2.0, 3.0, 4.0]);
        close(
            &half,
            &[
                c0 - 3.0 * s0,
                2.0 * c1 - 4.0 * s1,
                s0 + 3.0 * c0,
                2.0 * s1 + 4.0 * c1,
            ],
        );
    }

    #[test]
    fn own_positions_rotate_like_the_shared_table() {
        // Sequence 0 at positions 0, 1, 2; sequence 1 continues at 5, 6, 7.
        let device = Device::flex();
        let config = RopeConfig::new(10_000.0, RopeLayout::RotateHalf);
        let x: Vec<f32> = (0..2 * 3 * 4).map(|i| (i as f32 * 0.37).sin()).collect();
        let own = Rope::at_positions(
            &config,
            10_000.0,
            RopeScaling::None,
            4,
            &[vec![0, 1, 2], vec![5, 6, 7]],
            &device,
        );
        let input = Tensor::<4>::from_data(TensorData::new(x.clone(), [2, 1, 3, 4]), &device);
        let got = values(own.apply(input));
        // Each sequence alone, placed at its positions in an 8-position sequence.
        let shared = Rope::new(&config, 10_000.0, RopeScaling::None, 4, 8, &device);
        let alone = |b: usize, start: usize| {
            let mut rows = vec![0.0; 8 * 4];
            rows[start * 4..start * 4 + 12].copy_from_slice(&x[b * 12..(b + 1) * 12]);
            let placed = Tensor::<4>::from_data(TensorData::new(rows, [1, 1, 8, 4]), &device);
            values(shared.apply(placed))[start * 4..start * 4 + 12].to_vec()
        };
        assert_eq!(got[..12], alone(0, 0));
        assert_eq!(got[12..], alone(1, 5));
    }

    #[test]
    fn the_cpu_kernel_gives_the_bits_of_the_tensor_ops() {
        let device = Device::flex();
        let (b, t, h, dh) = (2, 5, 3, 8);
        let x: Vec<f32> = (0..b * t * h * dh)
            .map(|i| (i as f32 * 0.37).sin() * 3.0)
            .collect();
        // Heads split from `[batch, pos, heads, d_head]`, as attention does: a strided view.
        let x = Tensor::<4>::from_data(TensorData::new(x, [b, t, h, dh]), &device).swap_dims(1, 2);
        let positions = [(0..t).collect(), (3..3 + t).collect::<Vec<_>>()];
        for layout in [RopeLayout::AdjacentPairs, RopeLayout::RotateHalf] {
            for rotary_dim in [None, Some(4)] {
                let config = RopeConfig {
                    rotary_dim,
                    ..RopeConfig::new(10_000.0, layout)
                };
                for rows in [&positions[..1], &positions[..]] {
                    let rope =
                        Rope::at_positions(&config, 10_000.0, RopeScaling::None, dh, rows, &device);
                    // Also a view with a reversed dimension (negative stride).
                    for x in [x.clone(), x.clone().flip([1])] {
                        let kernel = rope.apply(x.clone());
                        assert_eq!(kernel.dims(), [b, h, t, dh]);
                        assert_eq!(
                            values(kernel),
                            values(rope.apply_op_by_op(x)),
                            "{layout:?}, rotary {rotary_dim:?}, {} table(s)",
                            rows.len()
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn partial_rotary_leaves_the_tail_alone() {
        // Width 2 rotates with frequency 1 only.
        let (c, s) = (1f64.cos(), 1f64.sin());
        let got = rotate(RopeLayout::RotateHalf, Some(2), [1.0, 2.0, 3.0, 4.0]);
        close(&got, &[c - 2.0 * s, s + 2.0 * c, 3.0, 4.0]);
    }

    #[test]
    fn llama3_scaling_keeps_short_and_divides_long_wavelengths() {
        let scaling = RopeScaling::Llama3 {
            factor: 8.0,
            low_freq_factor: 1.0,
            high_freq_factor: 4.0,
            original_max_position: 8192.0,
        };
        assert_eq!(scaled(1.0, scaling), 1.0);
        assert_eq!(scaled(1e-5, scaling), 1e-5 / 8.0);
        // In between, a blend: wavelength 4096 gives smooth = (2 - 1) / 3.
        let freq = 2.0 * std::f64::consts::PI / 4096.0;
        let want = (2.0 / 3.0) * freq / 8.0 + (1.0 / 3.0) * freq;
        assert!((scaled(freq, scaling) - want).abs() < 1e-15);
        assert_eq!(scaled(0.5, RopeScaling::Linear { factor: 4.0 }), 0.125);
    }
}
