//! Concept decomposition: a concept direction as a non-negative combination of the concept
//! examples' activations, `v ≈ Σᵢ αᵢ φ̃(xᵢ)` with `αᵢ ≥ 0`, which lists the examples that carry
//! the direction.
//!
//! The activations are centred first (`φ̃ = φ − μ`, `μ` the mean of a reference set such as
//! the random pool): a CAV points from the counterexamples towards the concept, and every raw
//! activation shares the large common component `μ` that the direction does not contain.
//! The weights solve non-negative least squares, `min ‖Φ̃α − v‖²` over `α ≥ 0`, by projected
//! gradient descent with Nesterov acceleration (FISTA) on the `n × n` Gram matrix.

/// A decomposition of one direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Decomposition {
    /// One non-negative weight per example.
    pub weights: Vec<f64>,
    /// `‖Φ̃α − v‖ / ‖v‖`: how much of the direction the examples leave unexplained.
    pub residual: f64,
}

/// Iterations of the projected-gradient solver.
const ITERATIONS: usize = 5000;

/// Decomposes `direction` over `examples` centred by `centre`.
pub fn decompose(direction: &[f32], examples: &[Vec<f32>], centre: &[f32]) -> Decomposition {
    let columns: Vec<Vec<f64>> = examples
        .iter()
        .map(|e| e.iter().zip(centre).map(|(x, m)| (x - m) as f64).collect())
        .collect();
    let v: Vec<f64> = direction.iter().map(|&x| x as f64).collect();
    let n = columns.len();
    let gram: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| dot(&columns[i], &columns[j])).collect())
        .collect();
    let target: Vec<f64> = columns.iter().map(|c| dot(c, &v)).collect();
    let step = 1.0 / largest_eigenvalue(&gram).max(f64::MIN_POSITIVE);
    let (mut alpha, mut previous, mut momentum) = (vec![0.0; n], vec![0.0; n], 1.0f64);
    let mut y = alpha.clone();
    for _ in 0..ITERATIONS {
        // Gradient of ½‖Φα − v‖² at y: Gy − Φᵀv.
        let gradient: Vec<f64> = (0..n).map(|i| dot(&gram[i], &y) - target[i]).collect();
        previous.clone_from(&alpha);
        for i in 0..n {
            alpha[i] = (y[i] - step * gradient[i]).max(0.0);
        }
        let next = (1.0 + (1.0 + 4.0 * momentum * momentum).sqrt()) / 2.0;
        for i in 0..n {
            y[i] = alpha[i] + (momentum - 1.0) / next * (alpha[i] - previous[i]);
        }
        momentum = next;
    }
    let mut reconstruction = vec![0.0; v.len()];
    for (a, column) in alpha.iter().zip(&columns) {
        reconstruction
            .iter_mut()
            .zip(column)
            .for_each(|(r, c)| *r += a * c);
    }
    let error: f64 = reconstruction
        .iter()
        .zip(&v)
        .map(|(r, x)| (r - x).powi(2))
        .sum();
    Decomposition {
        weights: alpha,
        residual: (error / dot(&v, &v).max(f64::MIN_POSITIVE)).sqrt(),
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The largest eigenvalue of a symmetric positive semi-definite matrix (power iteration).
fn largest_eigenvalue(matrix: &[Vec<f64>]) -> f64 {
    let n = matrix.len();
    let mut x = vec![1.0 / (n.max(1) as f64).sqrt(); n];
    let mut value = 0.0;
    for _ in 0..200 {
        let y: Vec<f64> = matrix.iter().map(|row| dot(row, &x)).collect();
        let norm = dot(&y, &y).sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        value = norm;
        x = y.into_iter().map(|v| v / norm).collect();
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn recovers_a_planted_non_negative_combination() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let centre: Vec<f32> = (0..40).map(|_| rng.random_range(-1.0f32..1.0)).collect();
        let examples: Vec<Vec<f32>> = (0..12)
            .map(|_| {
                centre
                    .iter()
                    .map(|m| m + rng.random_range(-1.0f32..1.0))
                    .collect()
            })
            .collect();
        // v = 2·φ̃₁ + 0.5·φ̃₇
        let direction: Vec<f32> = (0..40)
            .map(|j| 2.0 * (examples[1][j] - centre[j]) + 0.5 * (examples[7][j] - centre[j]))
            .collect();
        let d = decompose(&direction, &examples, &centre);
        for (i, w) in d.weights.iter().enumerate() {
            let want = match i {
                1 => 2.0,
                7 => 0.5,
                _ => 0.0,
            };
            assert!((w - want).abs() < 1e-4, "weight {i}: {w} (want {want})");
        }
        assert!(d.residual < 1e-4, "residual {}", d.residual);

        // The opposite direction has no non-negative combination: nothing is explained.
        let opposite: Vec<f32> = direction.iter().map(|x| -x).collect();
        let d = decompose(&opposite, &examples, &centre);
        assert!(d.residual > 0.5, "residual {}", d.residual);
    }
}
