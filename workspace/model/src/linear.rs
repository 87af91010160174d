//! Linear maps over token activations as one matrix product.

use crate::kernels;
use burn::nn::Linear;
use burn::tensor::Tensor;

/// Applies `linear` to `[batch, pos, d_in]` activations as a single `[batch·pos, d_in]` matrix
/// product (a broadcast batched product runs one small product per sequence, which is slower
/// on the CPU backend); on the CPU the bias joins the product (`kernels::linear`).
pub fn tokens(linear: &Linear, x: Tensor<3>) -> Tensor<3> {
    let [b, t, d] = x.dims();
    let x = x.reshape([b * t, d]);
    let weight = linear.weight.val();
    let y = if kernels::on_flex_f32(&[&x, &weight]) {
        kernels::linear(x, weight, linear.bias.as_ref().map(|b| b.val()))
    } else {
        linear.forward(x)
    };
    let [_, d_out] = y.dims();
    y.reshape([b, t, d_out])
}
