//! Hook-point names, following TransformerLens.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A kind of hook point inside the forward pass.
///
/// Shapes: `Pattern` is `[batch, heads, query, key]`, `Z` is `[batch, pos, heads, d_head]`,
/// `MlpPost` is `[batch, pos, d_mlp]`, every other point is `[batch, pos, d_model]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SitePoint {
    /// Token (+ position) embeddings; after the embedding LayerNorm for post-norm encoders.
    Embed,
    /// Residual stream entering a block.
    ResidPre,
    /// Residual stream after attention (after the first LayerNorm for post-norm encoders).
    ResidMid,
    /// Residual stream leaving a block.
    ResidPost,
    /// Attention probabilities.
    Pattern,
    /// Per-head attention outputs before the output projection.
    Z,
    /// What attention adds to the residual stream.
    AttnOut,
    /// Attention's output before the post-attention norm (Gemma); the same values as `AttnOut`
    /// in families without one.
    AttnOutPreNorm,
    /// MLP neurons after the activation function.
    MlpPost,
    /// What the MLP adds to the residual stream.
    MlpOut,
    /// The MLP's output before the post-MLP norm (Gemma); the same values as `MlpOut` in
    /// families without one.
    MlpOutPreNorm,
    /// Final normalised residual (for post-norm encoders: the last block's output).
    LnFinal,
}

impl SitePoint {
    /// Every point, in forward order within a block.
    pub const ALL: [SitePoint; 12] = [
        SitePoint::Embed,
        SitePoint::ResidPre,
        SitePoint::Pattern,
        SitePoint::Z,
        SitePoint::AttnOutPreNorm,
        SitePoint::AttnOut,
        SitePoint::ResidMid,
        SitePoint::MlpPost,
        SitePoint::MlpOutPreNorm,
        SitePoint::MlpOut,
        SitePoint::ResidPost,
        SitePoint::LnFinal,
    ];

    /// Short name used in experiment files (`resid_post`, `attn_out`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SitePoint::Embed => "embed",
            SitePoint::ResidPre => "resid_pre",
            SitePoint::ResidMid => "resid_mid",
            SitePoint::ResidPost => "resid_post",
            SitePoint::Pattern => "pattern",
            SitePoint::Z => "z",
            SitePoint::AttnOut => "attn_out",
            SitePoint::AttnOutPreNorm => "attn_out_pre_norm",
            SitePoint::MlpPost => "mlp_post",
            SitePoint::MlpOut => "mlp_out",
            SitePoint::MlpOutPreNorm => "mlp_out_pre_norm",
            SitePoint::LnFinal => "ln_final",
        }
    }

    /// Whether the point lives inside a block (and so needs a layer index).
    pub fn is_per_layer(self) -> bool {
        !matches!(self, SitePoint::Embed | SitePoint::LnFinal)
    }

    /// Whether activations at this point are `[batch, pos, d_model]`.
    pub fn is_residual_width(self) -> bool {
        !matches!(self, SitePoint::Pattern | SitePoint::Z | SitePoint::MlpPost)
    }
}

impl FromStr for SitePoint {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SitePoint::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<_> = SitePoint::ALL.iter().map(|p| p.as_str()).collect();
                format!("unknown site `{s}`; expected one of {}", names.join(", "))
            })
    }
}

/// A named hook point: a [`SitePoint`] at a layer (no layer for `embed` and `ln_final`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Site {
    /// What is hooked.
    pub point: SitePoint,
    /// The block index, for per-layer points.
    pub layer: Option<usize>,
}

impl Site {
    /// The site `point` in block `layer`.
    pub fn new(point: SitePoint, layer: usize) -> Site {
        Site {
            point,
            layer: point.is_per_layer().then_some(layer),
        }
    }

    /// A site that has no layer (`embed`, `ln_final`).
    pub const fn global(point: SitePoint) -> Site {
        Site { point, layer: None }
    }
}

impl fmt::Display for Site {
    /// TransformerLens names: `embed`, `blocks.2.hook_resid_post`, `blocks.0.attn.hook_z`, ...
    /// (TransformerLens has no hook before Gemma's post-norms; those are
    /// `blocks.L.hook_attn_out_pre_norm` and `blocks.L.hook_mlp_out_pre_norm`.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let layer = self.layer.unwrap_or(0);
        match self.point {
            SitePoint::Embed => write!(f, "embed"),
            SitePoint::LnFinal => write!(f, "ln_final"),
            SitePoint::Pattern => write!(f, "blocks.{layer}.attn.hook_pattern"),
            SitePoint::Z => write!(f, "blocks.{layer}.attn.hook_z"),
            SitePoint::MlpPost => write!(f, "blocks.{layer}.mlp.hook_post"),
            p => write!(f, "blocks.{layer}.hook_{}", p.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_transformer_lens() {
        assert_eq!(
            Site::new(SitePoint::ResidPost, 2).to_string(),
            "blocks.2.hook_resid_post"
        );
        assert_eq!(
            Site::new(SitePoint::Z, 0).to_string(),
            "blocks.0.attn.hook_z"
        );
        assert_eq!(
            Site::new(SitePoint::MlpPost, 1).to_string(),
            "blocks.1.mlp.hook_post"
        );
        assert_eq!(Site::new(SitePoint::Embed, 3).to_string(), "embed");
        assert_eq!(Site::new(SitePoint::Embed, 3).layer, None);
    }

    #[test]
    fn short_names_round_trip() {
        for p in SitePoint::ALL {
            assert_eq!(p.as_str().parse::<SitePoint>().unwrap(), p);
        }
        assert!("resid".parse::<SitePoint>().is_err());
    }
}
