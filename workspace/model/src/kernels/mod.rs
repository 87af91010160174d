//! CPU kernels for the `flex` backend, as a burn backend extension: a tensor on any other
//! device (CUDA, or one that records gradients) takes the ordinary tensor ops instead, so only
//! the CPU forward pass changes.

mod gelu;

use burn::backend::flex::FlexTensor;
use burn::backend::{
    Backend, Dispatch, DispatchDevice, Flex, backend_extension, tensor::FloatTensor,
};
use burn::tensor::{DType, Tensor};

/// Fused element-wise kernels of the CPU backend.
#[backend_extension(Flex)]
pub trait Kernels: Backend {
    /// Exact GELU, `x/2 · (1 + erf(x/√2))`, element by element.
    fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl Kernels for Flex {
    fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self> {
        map_f32(x, gelu::gelu_slice)
    }
}

/// Exact GELU: the vectorised, threaded kernel for `float32` on the CPU backend, burn's own
/// (`erf` element by element) anywhere else.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if on_flex_f32(&x) {
        Tensor::from_dispatch(<Dispatch as Kernels>::gelu_erf(x.into_dispatch()))
    } else {
        burn::tensor::activation::gelu(x)
    }
}

/// Whether `x` is a `float32` tensor of the CPU backend that records no gradients.
fn on_flex_f32<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && matches!(x.device().as_dispatch(), DispatchDevice::Flex(_))
}

/// Applies the in-place kernel `f` to `x`'s values: in `x`'s own buffer when nothing else
/// shares it, in a fresh contiguous copy otherwise.
fn map_f32(x: FlexTensor, f: fn(&mut [f32])) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let n = shape.num_elements();
    let owned = x.is_unique()
        && x.layout().contiguous_offsets() == Some((0, n))
        && x.storage::<f32>().len() == n;
    let mut y = if owned {
        x
    } else {
        let x = x.to_contiguous();
        let mut y = FlexTensor::empty(shape, DType::F32);
        y.storage_mut::<f32>()
            .copy_from_slice(x.as_slice::<f32>().expect("a contiguous tensor"));
        y
    };
    f(y.storage_mut::<f32>());
    y
}
