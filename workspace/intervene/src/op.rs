//! Interventions as data.

use cavern_model::Site;
use serde::{Deserialize, Serialize};

/// What to do to the activation at a site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Store the activation in the cache.
    Record,
    /// Replace the activation with the same site's activation from a named source cache
    /// (e.g. the clean run, for patching). Shapes must match.
    Set {
        /// Name of the source cache.
        source: String,
    },
    /// Add `alpha · vector` (steering); `vector` spans the site's width (`n_heads · d_head` at `z`).
    Add {
        /// Scale.
        alpha: f32,
        /// Direction.
        vector: Vec<f32>,
    },
    /// Remove the component along `vector` (directional ablation).
    ProjectOut {
        /// Direction (normalised before use).
        vector: Vec<f32>,
    },
    /// Multiply by a constant.
    Scale {
        /// The factor.
        factor: f32,
    },
    /// Replace with zeros.
    Zero,
    /// Replace with the mean over all real tokens of a named source cache (mean ablation).
    Mean {
        /// Name of the reference cache.
        source: String,
    },
    /// Apply an affine concept eraser `x ↦ x − M (x − μ)` over the last dimension (LEACE).
    Erase {
        /// μ, the mean the eraser was fitted around (`[width]`).
        mean: Vec<f32>,
        /// M, row-major `[width, width]`.
        matrix: Vec<f32>,
    },
}

/// One intervention: an [`Op`] at a site, optionally restricted to positions and heads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intervention {
    /// Where it acts.
    pub site: Site,
    /// Token positions it acts on (queries at `pattern`); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub positions: Option<Vec<usize>>,
    /// Heads it acts on (only at `pattern` and `z`); all when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heads: Option<Vec<usize>>,
    /// What it does.
    #[serde(flatten)]
    pub op: Op,
}

impl Intervention {
    /// `op` at every position (and head) of `site`.
    pub fn new(site: Site, op: Op) -> Intervention {
        Intervention {
            site,
            positions: None,
            heads: None,
            op,
        }
    }

    /// Restricts the intervention to these positions.
    pub fn at_positions(mut self, positions: Vec<usize>) -> Intervention {
        self.positions = Some(positions);
        self
    }

    /// Restricts the intervention to these heads.
    pub fn at_heads(mut self, heads: Vec<usize>) -> Intervention {
        self.heads = Some(heads);
        self
    }
}
