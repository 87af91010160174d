//! Linear maps over token activations as one matrix product.

use burn::nn::Linear;
use burn::tensor::Tensor;

/// Applies `linear` to `[batch, pos, d_in]` activations as a single `[batch·pos, d_in]` matrix
/// product (a broadcast batched product runs one small product per sequence, which is slower
/// on the CPU backend).
pub fn tokens(linear: &Linear, x: Tensor<3>) -> Tensor<3> {
    let [b, t, d] = x.dims();
    let y = linear.forward(x.reshape([b * t, d]));
    let [_, d_out] = y.dims();
    y.reshape([b, t, d_out])
}
