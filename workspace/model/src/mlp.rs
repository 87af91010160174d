//! The feed-forward block with its `mlp.hook_post` point.

use crate::config::{MlpActivation, TransformerConfig};
use crate::hooks::{self, BatchInfo, Hooks};
use crate::kernels::{self, Gate, gelu};
use crate::linear;
use crate::site::{Site, SitePoint};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, silu};
use burn::tensor::{Device, Tensor};

/// Two- (or, with a gate, three-) matrix MLP.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Input projection `[d_model, d_mlp]`.
    pub up: Linear,
    /// SwiGLU or GeGLU gate `[d_model, d_mlp]`.
    pub gate: Option<Linear>,
    /// Output projection `[d_mlp, d_model]`.
    pub down: Linear,
    /// Non-linearity.
    #[module(skip)]
    pub activation: MlpActivation,
}

impl Mlp {
    /// Fresh, randomly initialised MLP.
    pub fn new(config: &TransformerConfig, device: &Device) -> Mlp {
        let linear = |i, o| {
            LinearConfig::new(i, o)
                .with_bias(config.mlp_bias)
                .init(device)
        };
        let (d, m) = (config.d_model, config.d_mlp);
        Mlp {
            up: linear(d, m),
            gate: config.activation.is_gated().then(|| linear(d, m)),
            down: linear(m, d),
            activation: config.activation,
        }
    }

    /// MLP output before it joins the residual stream.
    pub fn forward(
        &self,
        x: Tensor<3>,
        layer: usize,
        hooks: &mut dyn Hooks,
        batch: &BatchInfo,
    ) -> Tensor<3> {
        let up = linear::tokens(&self.up, x.clone());
        let hidden = match (&self.gate, self.activation) {
            (Some(gate), activation) => gated(linear::tokens(gate, x), up, activation),
            (None, MlpActivation::Relu) => relu(up),
            (None, MlpActivation::GeluTanh) => gelu_tanh(up),
            (None, _) => gelu(up),
        };
        let hidden = hooks::stream(hooks, Site::new(SitePoint::MlpPost, layer), batch, hidden);
        linear::tokens(&self.down, hidden)
    }
}

/// `act(gate) · up` for a gated MLP: the CPU kernel on the CPU backend, burn's ops elsewhere.
fn gated(gate: Tensor<3>, up: Tensor<3>, activation: MlpActivation) -> Tensor<3> {
    let kind = match activation {
        MlpActivation::GeGlu => Gate::GeluTanh,
        _ => Gate::Silu,
    };
    if kernels::on_flex_f32(&[&gate, &up]) {
        return kernels::gated(gate, up, kind);
    }
    match kind {
        Gate::GeluTanh => gelu_tanh(gate) * up,
        Gate::Silu => silu(gate) * up,
    }
}

/// GELU's tanh approximation: `x/2 · (1 + tanh(sqrt(2/π) · (x + 0.044715 x³)))`.
pub fn gelu_tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let inner = (x.clone() + x.clone().powi_scalar(3).mul_scalar(0.044715))
        .mul_scalar((2.0 / std::f64::consts::PI).sqrt());
    x.mul_scalar(0.5) * (inner.tanh() + 1.0)
}

#[cfg(test)]
mod tests {
    use super::gelu_tanh;
    use burn::tensor::{Device, Tensor, TensorData};

    #[test]
    fn gelu_tanh_matches_its_formula() {
        let x = [-3.0f64, -0.5, 0.0, 0.7, 2.5];
        let tensor = Tensor::<1>::from_data(
            TensorData::new(x.iter().map(|&v| v as f32).collect(), [5]),
            &Device::flex(),
        );
        let got: Vec<f32> = gelu_tanh(tensor)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        for (g, x) in got.iter().zip(x) {
            let want = 0.5
                * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x.powi(3))).tanh());
            assert!(
                (*g as f64 - want).abs() < 1e-6,
                "gelu_tanh({x}) = {g}, want {want}"
            );
        }
    }
}
