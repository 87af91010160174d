//! CPU kernels for the `flex` backend, as a burn backend extension: a tensor on any other
//! device (CUDA, or one that records gradients) takes the ordinary tensor ops instead, so only
//! the CPU forward pass changes.

mod attention;
#[cfg(target_arch = "x86_64")]
mod avx2_linear;
mod exp;
mod gated;
mod gelu;
mod linear;
mod rope;
mod simd;
mod softmax;

pub use gated::Gate;
pub use rope::Pairing;
pub use softmax::Scaling;

use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::{
    Backend, Dispatch, DispatchDevice, Flex, backend_extension, tensor::FloatTensor,
};
use burn::tensor::{Bytes, DType, Shape, Tensor};

/// Fused kernels of the CPU backend: GELU, gated activations, linear layers, rotary
/// embeddings and attention.
#[backend_extension(Flex)]
pub trait Kernels: Backend {
    /// Exact GELU, `x/2 · (1 + erf(x/√2))`, element by element.
    fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self>;

    /// `act(gate) · up`, element by element, for tensors of one shape.
    fn gated(gate: FloatTensor<Self>, up: FloatTensor<Self>, kind: Gate) -> FloatTensor<Self>;

    /// x `[batch, heads, pos, d_head]` with each head's first `rotary_dim` values rotated by
    /// the tables cos and sin `[1 or batch, 1, pos, rotary_dim / 2]`.
    fn rope(
        x: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
        pairing: Pairing,
        rotary_dim: usize,
    ) -> FloatTensor<Self>;

    /// `x · weight + bias` for x `[rows, d_in]`, weight `[d_in, d_out]` and bias `[d_out]`.
    fn linear_biased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `x · weight` for x `[rows, d_in]` and weight `[d_in, d_out]`.
    fn linear_unbiased(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self>;

    /// Attention's mixed values with heads merged, `[batch, queries, heads, d_head]`, from
    /// queries `[batch, heads, queries, d_head]`, keys and values `[batch, kv_heads, keys,
    /// d_head]` and the additive mask `[batch, 1, queries, keys]`.
    fn attention_z(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        factor: f32,
        softcap: Option<f32>,
    ) -> FloatTensor<Self>;

    /// The attention pattern `[batch, heads, queries, keys]` that `attention_z` mixes with.
    fn attention_pattern(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        factor: f32,
        softcap: Option<f32>,
    ) -> FloatTensor<Self>;

    /// `pattern · v` with heads merged, as `attention_z` computes it from its own pattern.
    fn attention_mix(pattern: FloatTensor<Self>, v: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl Kernels for Flex {
    fn gelu_erf(x: FloatTensor<Self>) -> FloatTensor<Self> {
        let mut y = owned_contiguous(x);
        gelu::gelu_slice(y.storage_mut::<f32>());
        y
    }

    fn gated(gate: FloatTensor<Self>, up: FloatTensor<Self>, kind: Gate) -> FloatTensor<Self> {
        let up = up.to_contiguous();
        let mut y = owned_contiguous(gate);
        let up = up.as_slice::<f32>().expect("a contiguous tensor");
        gated::gated_slice(y.storage_mut::<f32>(), up, kind);
        y
    }

    fn rope(
        x: FloatTensor<Self>,
        cos: FloatTensor<Self>,
        sin: FloatTensor<Self>,
        pairing: Pairing,
        rotary_dim: usize,
    ) -> FloatTensor<Self> {
        rope::rotate(&x, &cos, &sin, pairing, rotary_dim)
    }

    fn linear_biased(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        linear::linear(&x, &weight, Some(&bias))
    }

    fn linear_unbiased(x: FloatTensor<Self>, weight: FloatTensor<Self>) -> FloatTensor<Self> {
        linear::linear(&x, &weight, None)
    }

    fn attention_z(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        v: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        factor: f32,
        softcap: Option<f32>,
    ) -> FloatTensor<Self> {
        attention::attention(&q, &k, &v, &mask, Scaling { factor, softcap })
    }

    fn attention_pattern(
        q: FloatTensor<Self>,
        k: FloatTensor<Self>,
        mask: FloatTensor<Self>,
        factor: f32,
        softcap: Option<f32>,
    ) -> FloatTensor<Self> {
        attention::pattern(&q, &k, &mask, Scaling { factor, softcap })
    }

    fn attention_mix(pattern: FloatTensor<Self>, v: FloatTensor<Self>) -> FloatTensor<Self> {
        attention::mix(&pattern, &v)
    }
}

/// Exact GELU: the vectorised, threaded kernel for `float32` on the CPU backend, burn's own
/// (`erf` element by element) anywhere else.
pub fn gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if is_flex_f32(&x) {
        Tensor::from_dispatch(<Dispatch as Kernels>::gelu_erf(x.into_dispatch()))
    } else {
        burn::tensor::activation::gelu(x)
    }
}

/// `act(gate) · up` with the CPU kernel (see [`on_flex_f32`]).
pub fn gated<const D: usize>(gate: Tensor<D>, up: Tensor<D>, kind: Gate) -> Tensor<D> {
    Tensor::from_dispatch(<Dispatch as Kernels>::gated(
        gate.into_dispatch(),
        up.into_dispatch(),
        kind,
    ))
}

/// Rotary embeddings with the CPU kernel (see [`on_flex_f32`]): x `[batch, heads, pos,
/// d_head]`, tables `[1 or batch, 1, pos, rotary_dim / 2]`.
pub fn rope(
    x: Tensor<4>,
    cos: Tensor<4>,
    sin: Tensor<4>,
    pairing: Pairing,
    rotary_dim: usize,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Kernels>::rope(
        x.into_dispatch(),
        cos.into_dispatch(),
        sin.into_dispatch(),
        pairing,
        rotary_dim,
    ))
}

/// `x · weight + bias` with the CPU kernel (see [`on_flex_f32`]), x `[rows, d_in]`.
pub fn linear(x: Tensor<2>, weight: Tensor<2>, bias: Option<Tensor<1>>) -> Tensor<2> {
    let (x, weight) = (x.into_dispatch(), weight.into_dispatch());
    Tensor::from_dispatch(match bias {
        Some(bias) => <Dispatch as Kernels>::linear_biased(x, weight, bias.into_dispatch()),
        None => <Dispatch as Kernels>::linear_unbiased(x, weight),
    })
}

/// Attention with the CPU kernel (see [`on_flex_f32`]): z `[batch, queries, heads, d_head]`.
pub fn attention_z(
    q: Tensor<4>,
    k: Tensor<4>,
    v: Tensor<4>,
    mask: Tensor<4>,
    scaling: Scaling,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Kernels>::attention_z(
        q.into_dispatch(),
        k.into_dispatch(),
        v.into_dispatch(),
        mask.into_dispatch(),
        scaling.factor,
        scaling.softcap,
    ))
}

/// The pattern [`attention_z`] mixes with, `[batch, heads, queries, keys]`.
pub fn attention_pattern(
    q: Tensor<4>,
    k: Tensor<4>,
    mask: Tensor<4>,
    scaling: Scaling,
) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Kernels>::attention_pattern(
        q.into_dispatch(),
        k.into_dispatch(),
        mask.into_dispatch(),
        scaling.factor,
        scaling.softcap,
    ))
}

/// `pattern · v` with heads merged, as [`attention_z`] computes it from its own pattern.
pub fn attention_mix(pattern: Tensor<4>, v: Tensor<4>) -> Tensor<4> {
    Tensor::from_dispatch(<Dispatch as Kernels>::attention_mix(
        pattern.into_dispatch(),
        v.into_dispatch(),
    ))
}

/// Whether every tensor is a `float32` tensor of the CPU backend that records no gradients:
/// those the kernels of this module take.
pub fn on_flex_f32<const D: usize>(tensors: &[&Tensor<D>]) -> bool {
    tensors.iter().all(|x| is_flex_f32(x))
}

/// Whether `x` is a `float32` tensor of the CPU backend that records no gradients.
fn is_flex_f32<const D: usize>(x: &Tensor<D>) -> bool {
    x.dtype() == DType::F32 && matches!(x.device().as_dispatch(), DispatchDevice::Flex(_))
}

/// A contiguous `float32` tensor that owns `values` (no copy).
fn f32_tensor(values: Vec<f32>, dims: impl Into<Shape>) -> FlexTensor {
    FlexTensor::new(
        Bytes::from_elems(values),
        Layout::contiguous(dims.into()),
        DType::F32,
    )
}

/// An output buffer's pointer shared by parallel tasks that each write their own, disjoint
/// elements (each kernel says which).
#[derive(Clone, Copy)]
struct SharedOutput(*mut f32);
// SAFETY: the tasks write disjoint elements, and the buffer outlives them (see each user).
unsafe impl Send for SharedOutput {}
unsafe impl Sync for SharedOutput {}

impl SharedOutput {
    /// # Safety
    ///
    /// `offset` must lie inside the buffer.
    unsafe fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: the caller's guarantee.
        unsafe { self.0.add(offset) }
    }
}

/// `x` as a contiguous tensor whose buffer an in-place kernel may overwrite: `x` itself when
/// nothing else shares its buffer, a fresh copy otherwise.
fn owned_contiguous(x: FlexTensor) -> FlexTensor {
    let shape = x.layout().shape().clone();
    let n = shape.num_elements();
    let owned = x.is_unique()
        && x.layout().contiguous_offsets() == Some((0, n))
        && x.storage::<f32>().len() == n;
    if owned {
        return x;
    }
    let x = x.to_contiguous();
    let mut y = FlexTensor::empty(shape, DType::F32);
    y.storage_mut::<f32>()
        .copy_from_slice(x.as_slice::<f32>().expect("a contiguous tensor"));
    y
}
