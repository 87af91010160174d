//! Modules made from checked checkpoint tensors: linear maps in PyTorch's or Conv1D's layout,
//! norms, embeddings.

use super::weights::{Tensors, transpose};
use crate::buffer_limit::buffer_limit;
use crate::norm::Norm;
use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::{Device, Tensor, TensorData};

/// An error when a tensor of `bytes` is larger than the largest buffer `device` allows.
fn fits_device(name: &str, bytes: usize, device: &Device) -> Result<(), String> {
    match buffer_limit(device) {
        Some(limit) if bytes as u64 > limit.bytes => Err(format!(
            "tensor `{name}` takes {} MiB as f32, more than the largest buffer {} allows ({} MiB); \
             run this model with `--device cpu` or on a GPU with larger buffers",
            bytes >> 20,
            limit.device,
            limit.bytes >> 20
        )),
        _ => Ok(()),
    }
}

/// Builds modules on `device` from tensors whose names and shapes a plan has checked.
pub struct Build<'a> {
    /// The checkpoint.
    pub tensors: &'a Tensors<'a>,
    /// Where the weights go.
    pub device: &'a Device,
    /// Whether Gemma's `1 + w` norm scales are stored whole, the 1 already added (as llama.cpp's
    /// GGUF converter stores them), rather than as `w` (as Hugging Face does).
    pub norms_hold_one: bool,
}

impl Build<'_> {
    /// Tensor `name` as `f32`; an error when it is larger than the device can hold as one
    /// buffer (some GPUs cap a buffer at 128 MiB or 2 GiB).
    pub fn values(&self, name: &str) -> Result<Vec<f32>, String> {
        let values = self.tensors.values(name)?;
        fits_device(name, values.len() * size_of::<f32>(), self.device)?;
        Ok(values)
    }

    /// A tensor of `shape` holding `values`.
    pub fn tensor<const D: usize>(&self, values: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        Tensor::from_data(TensorData::new(values, shape), self.device)
    }

    /// An embedding table `[rows, width]` stored as it is used.
    pub fn embedding(&self, name: &str, rows: usize, width: usize) -> Result<Embedding, String> {
        Ok(Embedding {
            weight: Param::from_tensor(self.tensor(self.values(name)?, [rows, width])),
        })
    }

    /// A linear map from `d_in` to `d_out` features whose weight is stored `(d_out, d_in)`, as
    /// PyTorch's `nn.Linear` keeps it (burn's is the transpose).
    pub fn linear(
        &self,
        weight: &str,
        bias: Option<&str>,
        d_in: usize,
        d_out: usize,
    ) -> Result<Linear, String> {
        let stored = self.values(weight)?;
        let bias = bias.map(|name| self.values(name)).transpose()?;
        Ok(self.linear_from(transpose(&stored, d_out, d_in), bias, d_in, d_out))
    }

    /// A linear map from a `[d_in, d_out]` weight (burn's layout, GPT-2's Conv1D layout).
    pub fn linear_from(
        &self,
        weight: Vec<f32>,
        bias: Option<Vec<f32>>,
        d_in: usize,
        d_out: usize,
    ) -> Linear {
        Linear {
            weight: Param::from_tensor(self.tensor(weight, [d_in, d_out])),
            bias: bias.map(|b| Param::from_tensor(self.tensor(b, [d_out]))),
        }
    }

    /// A norm of width `d`: LayerNorm with `bias`, RMSNorm without. `offset` is added to the
    /// stored scale (Gemma stores `w` and scales by `1 + w`).
    pub fn norm(
        &self,
        weight: &str,
        bias: Option<&str>,
        d: usize,
        eps: f64,
        offset: f32,
    ) -> Result<Norm, String> {
        let mut scale = self.values(weight)?;
        scale.iter_mut().for_each(|w| *w += offset);
        let bias = bias.map(|name| self.values(name)).transpose()?;
        Ok(Norm {
            weight: Param::from_tensor(self.tensor(scale, [d])),
            rms: bias.is_none(),
            bias: bias.map(|b| Param::from_tensor(self.tensor(b, [d]))),
            eps,
        })
    }
}
