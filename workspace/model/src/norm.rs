//! LayerNorm and RMSNorm in one module, so configs can pick either.

use crate::config::NormKind;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, module};

/// A normalisation layer over the last dimension.
#[derive(Module, Debug)]
pub struct Norm {
    /// Scale.
    pub weight: Param<Tensor<1>>,
    /// Shift (LayerNorm only).
    pub bias: Option<Param<Tensor<1>>>,
    /// Added to the variance before the square root.
    pub eps: f64,
    /// RMSNorm (no centring, no bias) when true.
    pub rms: bool,
}

impl Norm {
    /// A fresh norm of width `d` (unit scale, zero shift).
    pub fn new(kind: NormKind, d: usize, eps: f64, device: &Device) -> Norm {
        let rms = kind == NormKind::RmsNorm;
        Norm {
            weight: Param::from_tensor(Tensor::ones([d], device)),
            bias: (!rms).then(|| Param::from_tensor(Tensor::zeros([d], device))),
            eps,
            rms,
        }
    }

    /// Normalises `x` over its last dimension.
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        if !self.rms {
            // One fused pass on the CPU backend; the op-by-op decomposition elsewhere.
            let bias = self.bias.as_ref().map(|b| b.val());
            return module::layer_norm(x, self.weight.val(), bias, self.eps);
        }
        let ms = x.clone().square().mean_dim(D - 1);
        let x = x / (ms + self.eps).sqrt() * self.weight.val().unsqueeze();
        match &self.bias {
            Some(b) => x + b.val().unsqueeze(),
            None => x,
        }
    }
}
