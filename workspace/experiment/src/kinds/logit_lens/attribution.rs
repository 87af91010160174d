//! Direct logit attribution's arithmetic: a norm with its scale frozen (TransformerLens's
//! `apply_ln_to_stack`), which makes the logit difference linear in the residual stream's parts.

/// A LayerNorm or RMSNorm as numbers: what [`cavern_model::norm::Norm`] computes.
#[derive(Debug, Clone)]
pub struct NormParams {
    /// Scale (Gemma's `1 + w` already folded in by the loader).
    pub weight: Vec<f64>,
    /// Shift (LayerNorm).
    pub bias: Option<Vec<f64>>,
    /// Added to the variance (or mean square) before the square root.
    pub eps: f64,
    /// RMSNorm: no centring.
    pub rms: bool,
}

impl NormParams {
    /// The norm's scale for `x`: √(var(x) + ε) for LayerNorm, √(mean(x²) + ε) for RMSNorm.
    pub fn scale(&self, x: &[f64]) -> f64 {
        let n = x.len() as f64;
        let mean = if self.rms {
            0.0
        } else {
            x.iter().sum::<f64>() / n
        };
        let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (var + self.eps).sqrt()
    }

    /// The direction `g` with `norm(x) · u = x · g + bias · u` at this frozen `scale`, for
    /// every x whose parts are dotted with `g` (linear in x).
    pub fn frozen(&self, u: &[f64], scale: f64) -> Vec<f64> {
        let mut g: Vec<f64> = (u.iter().zip(&self.weight))
            .map(|(u, w)| u * w / scale)
            .collect();
        if !self.rms {
            let mean = g.iter().sum::<f64>() / g.len() as f64;
            g.iter_mut().for_each(|v| *v -= mean);
        }
        g
    }

    /// `bias · u` (0 without a shift).
    pub fn bias_part(&self, u: &[f64]) -> f64 {
        self.bias
            .as_ref()
            .map_or(0.0, |b| b.iter().zip(u).map(|(b, u)| b * u).sum())
    }

    /// The norm itself, for tests.
    #[cfg(test)]
    fn apply(&self, x: &[f64]) -> Vec<f64> {
        let n = x.len() as f64;
        let mean = if self.rms {
            0.0
        } else {
            x.iter().sum::<f64>() / n
        };
        let s = self.scale(x);
        (x.iter().enumerate())
            .map(|(i, v)| {
                (v - mean) / s * self.weight[i] + self.bias.as_ref().map_or(0.0, |b| b[i])
            })
            .collect()
    }
}

/// `a · b`.
pub fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(a, b)| a * b).sum()
}

/// `W g` for a row-major `[rows, cols]` matrix `w` (Burn's `Linear` weight is `[d_in, d_out]`,
/// so this maps an output-space direction back to the input space).
pub fn rows_dot(w: &[f32], cols: usize, g: &[f64]) -> Vec<f64> {
    w.chunks_exact(cols)
        .map(|row| row.iter().zip(g).map(|(w, g)| *w as f64 * g).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(rms: bool) -> NormParams {
        NormParams {
            weight: vec![1.5, 0.5, -1.0, 2.0],
            bias: (!rms).then(|| vec![0.1, -0.2, 0.3, 0.0]),
            eps: 1e-5,
            rms,
        }
    }

    #[test]
    fn frozen_norm_parts_add_up_to_the_normed_dot_product() {
        let parts = [
            vec![1.0, -2.0, 0.5, 3.0],
            vec![0.25, 0.75, -1.5, 0.0],
            vec![-0.5, 1.0, 2.0, -1.0],
        ];
        let x: Vec<f64> = (0..4).map(|i| parts.iter().map(|p| p[i]).sum()).collect();
        let u = [0.3, -0.7, 1.1, 0.2];
        for rms in [false, true] {
            let norm = norm(rms);
            let g = norm.frozen(&u, norm.scale(&x));
            let summed: f64 = parts.iter().map(|p| dot(p, &g)).sum::<f64>() + norm.bias_part(&u);
            let exact = dot(&norm.apply(&x), &u);
            assert!(
                (summed - exact).abs() < 1e-12,
                "rms {rms}: {summed} vs {exact}"
            );
        }
    }

    #[test]
    fn rows_dot_maps_back_through_a_linear_weight() {
        // [2, 3]: rows are inputs.
        let w = [1.0, 2.0, 3.0, -1.0, 0.0, 1.0];
        assert_eq!(rows_dot(&w, 3, &[1.0, 1.0, 2.0]), [9.0, 1.0]);
    }
}
