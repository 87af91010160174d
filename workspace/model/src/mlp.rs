//! The feed-forward block with its `mlp.hook_post` point.

use crate::config::{MlpActivation, TransformerConfig};
use crate::hooks::{self, BatchInfo, Hooks};
use crate::linear;
use crate::site::{Site, SitePoint};
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{gelu, relu, silu};
use burn::tensor::{Device, Tensor};

/// Two- (or, with a gate, three-) matrix MLP.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Input projection `[d_model, d_mlp]`.
    pub up: Linear,
    /// SwiGLU gate `[d_model, d_mlp]`.
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
            gate: (config.activation == MlpActivation::SwiGlu).then(|| linear(d, m)),
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
            (Some(gate), _) => silu(linear::tokens(gate, x)) * up,
            (None, MlpActivation::Relu) => relu(up),
            (None, _) => gelu(up),
        };
        let hidden = hooks::stream(hooks, Site::new(SitePoint::MlpPost, layer), batch, hidden);
        linear::tokens(&self.down, hidden)
    }
}
