//! Influence functions (Koh & Liang 2017, "Understanding Black-box Predictions via Influence
//! Functions") for the L2-regularised logistic regression a `[head]` is: how the prediction on
//! an input would change if one training example were removed, without retraining.
//!
//! # The objective
//!
//! A head is fitted by [`crate::mdl::fit_probe`]: every feature is standardised with the training
//! rows' mean and population standard deviation, then linfa-logistic minimises
//!
//! ```text
//! J(θ) = Σᵢ ℓ(zᵢ; θ) + ½·λ·‖W‖²        (the intercepts are not penalised)
//! ```
//!
//! with ℓ the log-loss of a binary logistic model (one weight column, `p(class 1) = σ(z)`) for
//! two classes, or of a multinomial (softmax) model with one column per class for three or
//! more. linfa stops its L-BFGS after `max_iterations` or at its gradient tolerance, so its θ is
//! near the optimum but not at it, and influence functions are a statement about the optimum
//! (they follow from ∇J(θ̂) = 0). [`ExactLogistic::fit`] therefore minimises the *same* J, on
//! the same standardised features, by Newton's method with a backtracking line search from
//! θ = 0 until the largest gradient entry is at most [`GRADIENT_TOLERANCE`]: J is strictly
//! convex for λ > 0, so that θ̂ is its unique optimum, which linfa's head approximates.
//!
//! # Influence
//!
//! Removing example z minimises `J − ℓ(z)`; one Newton step of that from θ̂ gives
//! `θ̂₋z − θ̂ ≈ H⁻¹ ∇θℓ(z; θ̂)` with `H = ∇²J(θ̂)` (J is a sum, not a mean, so there is no `1/n`:
//! Koh & Liang's `−(1/n)·I_up,params` with ε = −1/n). A function f of θ then moves by
//!
//! ```text
//! Δf(x, z) ≈ ∇θf(x; θ̂)ᵀ H⁻¹ ∇θℓ(z; θ̂).
//! ```
//!
//! f is the log-odds of the class the fit predicts for x, `log p_c(x) − log(1 − p_c(x))`: its
//! sign says which class wins and by how much. `Δf < 0`: without z the prediction is weaker, so
//! z *helps* it; `Δf > 0`: z *harms* it. [`ExactLogistic::leave_one_out`] computes the same
//! change exactly, by refitting without z (Newton from θ̂, same tolerance) with the
//! standardisation held fixed: the check influence functions are judged by.
//!
//! With three or more classes, adding one constant to every intercept changes no probability
//! and no penalty, so H is singular along that direction `u`. Every gradient here is orthogonal
//! to `u` (a softmax residual sums to zero over the classes), and for such a g the solution of
//! `(H + uuᵀ)v = g` is the solution of `Hv = g` orthogonal to `u`; that is the system solved.

use crate::error::ProbeError;
use crate::mdl::{check_data, moments};
use nalgebra::{Cholesky, DMatrix, DVector, Dyn};

/// Newton's method stops when no gradient entry of J is larger than this.
pub const GRADIENT_TOLERANCE: f64 = 1e-9;
/// Newton iterations before a fit counts as failed.
const MAX_NEWTON_ITERATIONS: usize = 200;

/// An L2-regularised logistic regression fitted to its exact optimum, with its training data.
#[derive(Debug, Clone)]
pub struct ExactLogistic {
    n_classes: usize,
    mean: Vec<f64>,
    scale: Vec<f64>,
    l2: f64,
    /// Standardised training rows with a trailing 1, `[n, d]`.
    x: DMatrix<f64>,
    labels: Vec<usize>,
    /// `[d, m]`: column `a` holds class column `a`'s weights, its last entry the intercept.
    theta: DMatrix<f64>,
    /// Newton iterations the fit took.
    pub iterations: usize,
}

/// The influence of every training example on one input's prediction.
#[derive(Debug, Clone, PartialEq)]
pub struct InputInfluence {
    /// The class the fit predicts for the input.
    pub class: usize,
    /// Its log-odds, `log p − log(1 − p)`.
    pub log_odds: f64,
    /// Per training example (in training order), the predicted change of `log_odds` when the
    /// example is removed.
    pub removal: Vec<f64>,
}

impl ExactLogistic {
    /// Fits `labels` (each below `n_classes`) on `rows` with L2 penalty `l2` (linfa's `alpha`).
    pub fn fit(
        rows: &[Vec<f32>],
        labels: &[usize],
        n_classes: usize,
        l2: f64,
    ) -> Result<ExactLogistic, ProbeError> {
        check_data(rows, labels, n_classes)?;
        if !(l2 > 0.0 && l2.is_finite()) {
            return Err(ProbeError::Fit(format!(
                "influence functions need an L2 penalty above 0 (the Hessian must be \
                 invertible), got {l2}"
            )));
        }
        let width = rows[0].len();
        let (mean, scale) = moments(rows, width);
        let columns = if n_classes == 2 { 1 } else { n_classes };
        let mut fit = ExactLogistic {
            n_classes,
            mean,
            scale,
            l2,
            x: DMatrix::zeros(0, 0),
            labels: labels.to_vec(),
            theta: DMatrix::zeros(width + 1, columns),
            iterations: 0,
        };
        fit.x = fit.design(rows);
        let (theta, iterations) = fit.newton(fit.theta.clone(), None)?;
        fit.theta = theta;
        fit.iterations = iterations;
        Ok(fit)
    }

    /// Training examples.
    pub fn n_examples(&self) -> usize {
        self.labels.len()
    }

    /// The largest entry of ∇J at the fitted θ (at most [`GRADIENT_TOLERANCE`]).
    pub fn gradient_norm(&self) -> f64 {
        self.gradient_hessian(&self.theta, None).0.amax()
    }

    /// The predicted class of one row and its log-odds.
    pub fn predict(&self, row: &[f32]) -> (usize, f64) {
        let x = self.design(std::slice::from_ref(&row.to_vec()));
        let class_scores = self.class_scores(&scores(&x, &self.theta, 0));
        let class = best_class(&class_scores);
        (class, log_odds(&class_scores, class))
    }

    /// Per input, the predicted change of its log-odds when each training example is removed
    /// (influence functions: one factorisation of H, one solve per input).
    pub fn influence(&self, inputs: &[Vec<f32>]) -> Result<Vec<InputInfluence>, ProbeError> {
        let (_, hessian) = self.gradient_hessian(&self.theta, None);
        let cholesky = factor(hessian)?;
        let residuals = self.residuals(&self.theta, None);
        let d = self.x.ncols();
        let design = self.design(inputs);
        let mut out = Vec::with_capacity(inputs.len());
        for i in 0..inputs.len() {
            let z = scores(&design, &self.theta, i);
            let class_scores = self.class_scores(&z);
            let class = best_class(&class_scores);
            let gradient = self.log_odds_gradient(&design, i, &z, class);
            let v = cholesky.solve(&gradient);
            let v = DMatrix::from_column_slice(d, self.theta.ncols(), v.as_slice());
            // ∇θℓ(z)ᵀ v = Σ_a r_a·(x̃_z · v_a), for every training row at once.
            let projected = &self.x * &v;
            let removal = (0..self.n_examples())
                .map(|e| projected.row(e).dot(&residuals.row(e)))
                .collect();
            out.push(InputInfluence {
                class,
                log_odds: log_odds(&class_scores, class),
                removal,
            });
        }
        Ok(out)
    }

    /// `[input][example]`: the actual change of each input's log-odds (of the class the full
    /// fit predicts) when the example is removed and the model refitted to its optimum.
    pub fn leave_one_out(&self, inputs: &[Vec<f32>]) -> Result<Vec<Vec<f64>>, ProbeError> {
        let design = self.design(inputs);
        let classes: Vec<usize> = inputs.iter().map(|r| self.predict(r).0).collect();
        let log_odds_under = |theta: &DMatrix<f64>| -> Vec<f64> {
            (0..inputs.len())
                .map(|i| log_odds(&self.class_scores(&scores(&design, theta, i)), classes[i]))
                .collect()
        };
        let full = log_odds_under(&self.theta);
        let mut out = vec![Vec::with_capacity(self.n_examples()); inputs.len()];
        for excluded in 0..self.n_examples() {
            let (theta, _) = self.newton(self.theta.clone(), Some(excluded))?;
            for (i, f) in log_odds_under(&theta).into_iter().enumerate() {
                out[i].push(f - full[i]);
            }
        }
        Ok(out)
    }

    /// Standardised rows with a trailing 1.
    fn design(&self, rows: &[Vec<f32>]) -> DMatrix<f64> {
        let width = self.mean.len();
        DMatrix::from_fn(rows.len(), width + 1, |i, j| {
            if j == width {
                1.0
            } else {
                (rows[i][j] as f64 - self.mean[j]) / self.scale[j]
            }
        })
    }

    /// The scores of all `n_classes` classes from the model's columns (binary: `[0, z]`).
    fn class_scores(&self, z: &[f64]) -> Vec<f64> {
        if self.n_classes == 2 {
            vec![0.0, z[0]]
        } else {
            z.to_vec()
        }
    }

    /// The model's column probabilities `s` (binary: `[σ(z)]`) and targets `e` for label `y`.
    fn column_probabilities(&self, z: &[f64]) -> Vec<f64> {
        if self.n_classes == 2 {
            vec![sigmoid(z[0])]
        } else {
            softmax(z)
        }
    }

    fn target(&self, y: usize, column: usize) -> f64 {
        let class = if self.n_classes == 2 { 1 } else { column };
        f64::from(u8::from(y == class))
    }

    /// `[n, m]` loss residuals `s − e` of the training rows (zero for the excluded one).
    fn residuals(&self, theta: &DMatrix<f64>, excluded: Option<usize>) -> DMatrix<f64> {
        let m = theta.ncols();
        let mut r = DMatrix::zeros(self.n_examples(), m);
        for i in (0..self.n_examples()).filter(|&i| Some(i) != excluded) {
            let s = self.column_probabilities(&scores(&self.x, theta, i));
            for a in 0..m {
                r[(i, a)] = s[a] - self.target(self.labels[i], a);
            }
        }
        r
    }

    /// J(θ) without the excluded row.
    fn objective(&self, theta: &DMatrix<f64>, excluded: Option<usize>) -> f64 {
        let loss: f64 = (0..self.n_examples())
            .filter(|&i| Some(i) != excluded)
            .map(|i| {
                let class = self.class_scores(&scores(&self.x, theta, i));
                log_sum_exp(&class) - class[self.labels[i]]
            })
            .sum();
        let weights = theta.rows(0, theta.nrows() - 1);
        loss + 0.5 * self.l2 * weights.norm_squared()
    }

    /// ∇J and ∇²J (plus `uuᵀ` with three or more classes), parameters ordered column by
    /// column (`a·d + j` is `theta[(j, a)]`).
    fn gradient_hessian(
        &self,
        theta: &DMatrix<f64>,
        excluded: Option<usize>,
    ) -> (DVector<f64>, DMatrix<f64>) {
        let (d, m) = (theta.nrows(), theta.ncols());
        let n = self.n_examples();
        let probabilities: Vec<Vec<f64>> = (0..n)
            .map(|i| self.column_probabilities(&scores(&self.x, theta, i)))
            .collect();
        let residuals = self.residuals(theta, excluded);
        let grad_matrix = self.x.transpose() * &residuals;
        let mut gradient = DVector::from_column_slice(grad_matrix.as_slice());
        let mut hessian = DMatrix::zeros(d * m, d * m);
        for a in 0..m {
            for b in a..m {
                let w = DVector::from_fn(n, |i, _| {
                    if Some(i) == excluded {
                        return 0.0;
                    }
                    let s = &probabilities[i];
                    f64::from(u8::from(a == b)) * s[a] - s[a] * s[b]
                });
                let weighted = DMatrix::from_fn(n, d, |i, j| w[i] * self.x[(i, j)]);
                let block = self.x.transpose() * weighted;
                hessian.view_mut((a * d, b * d), (d, d)).copy_from(&block);
                if a != b {
                    hessian
                        .view_mut((b * d, a * d), (d, d))
                        .copy_from(&block.transpose());
                }
            }
        }
        for a in 0..m {
            for j in 0..d - 1 {
                gradient[a * d + j] += self.l2 * theta[(j, a)];
                hessian[(a * d + j, a * d + j)] += self.l2;
            }
        }
        if m > 1 {
            for a in 0..m {
                for b in 0..m {
                    hessian[(a * d + d - 1, b * d + d - 1)] += 1.0;
                }
            }
        }
        (gradient, hessian)
    }

    /// ∇θ of input `i`'s log-odds for `class`, in the parameter order of the Hessian.
    fn log_odds_gradient(
        &self,
        design: &DMatrix<f64>,
        i: usize,
        z: &[f64],
        class: usize,
    ) -> DVector<f64> {
        let (d, m) = (self.theta.nrows(), self.theta.ncols());
        // ∂f/∂(column scores): binary f = ±z; multinomial f = z_c − logsumexp_{k≠c} z_k.
        let dz: Vec<f64> = if self.n_classes == 2 {
            vec![if class == 1 { 1.0 } else { -1.0 }]
        } else {
            let others: Vec<f64> = (0..m)
                .map(|k| if k == class { f64::NEG_INFINITY } else { z[k] })
                .collect();
            let q = softmax(&others);
            (0..m)
                .map(|k| f64::from(u8::from(k == class)) - q[k])
                .collect()
        };
        DVector::from_fn(d * m, |index, _| dz[index / d] * design[(i, index % d)])
    }

    /// Newton's method with a backtracking line search on J (without the excluded row).
    fn newton(
        &self,
        mut theta: DMatrix<f64>,
        excluded: Option<usize>,
    ) -> Result<(DMatrix<f64>, usize), ProbeError> {
        let (d, m) = (theta.nrows(), theta.ncols());
        for iteration in 0..MAX_NEWTON_ITERATIONS {
            let (gradient, hessian) = self.gradient_hessian(&theta, excluded);
            if gradient.amax() <= GRADIENT_TOLERANCE {
                return Ok((theta, iteration));
            }
            let step = factor(hessian)?.solve(&gradient);
            let step = DMatrix::from_column_slice(d, m, step.as_slice());
            let current = self.objective(&theta, excluded);
            let decrease = gradient.dot(&DVector::from_column_slice(step.as_slice()));
            // Armijo's condition, up to the rounding of J: near the optimum J no longer
            // changes in floating point and the full Newton step is taken.
            let rounding = 1e-12 * (1.0 + current.abs());
            let mut t = 1.0;
            let mut next = &theta - &step * t;
            while self.objective(&next, excluded) > current - 1e-4 * t * decrease + rounding
                && t > 1e-12
            {
                t *= 0.5;
                next = &theta - &step * t;
            }
            if t <= 1e-12 {
                // No decrease along the Newton direction: J is at its floating-point optimum.
                return Ok((theta, iteration));
            }
            theta = next;
        }
        Err(ProbeError::Fit(format!(
            "Newton's method did not bring the gradient below {GRADIENT_TOLERANCE} in \
             {MAX_NEWTON_ITERATIONS} iterations"
        )))
    }
}

/// The column scores `x̃ᵢ θ` of row `i`.
fn scores(design: &DMatrix<f64>, theta: &DMatrix<f64>, i: usize) -> Vec<f64> {
    (0..theta.ncols())
        .map(|a| design.row(i).dot(&theta.column(a).transpose()))
        .collect()
}

fn factor(hessian: DMatrix<f64>) -> Result<Cholesky<f64, Dyn>, ProbeError> {
    Cholesky::new(hessian).ok_or_else(|| {
        ProbeError::Fit("the Hessian of the logistic objective is not positive definite".into())
    })
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

fn log_sum_exp(z: &[f64]) -> f64 {
    let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

fn softmax(z: &[f64]) -> Vec<f64> {
    let total = log_sum_exp(z);
    z.iter().map(|v| (v - total).exp()).collect()
}

/// The class with the largest score (the lowest on ties).
fn best_class(class_scores: &[f64]) -> usize {
    (0..class_scores.len())
        .max_by(|&a, &b| class_scores[a].total_cmp(&class_scores[b]).then(b.cmp(&a)))
        .unwrap_or(0)
}

/// `log p_c − log(1 − p_c)` from all class scores: `z_c − logsumexp_{k≠c} z_k`.
fn log_odds(class_scores: &[f64], class: usize) -> f64 {
    let others: Vec<f64> = (class_scores.iter().enumerate())
        .filter(|(k, _)| *k != class)
        .map(|(_, v)| *v)
        .collect();
    class_scores[class] - log_sum_exp(&others)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mdl::{ProbeOptions, fit_probe};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// `per_class` noisy rows of each class around a planted mean (class `c` shifted on
    /// feature `c`), `width` features, some label noise.
    fn planted(classes: usize, per_class: usize, width: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (mut rows, mut labels) = (Vec::new(), Vec::new());
        for c in 0..classes {
            for _ in 0..per_class {
                let row = (0..width)
                    .map(|j| rng.random_range(-1.5f32..1.5) + if j == c { 1.0 } else { 0.0 })
                    .collect();
                rows.push(row);
                labels.push(c);
            }
        }
        (rows, labels)
    }

    #[test]
    fn the_exact_fit_is_the_optimum_linfa_approaches() {
        let (rows, labels) = planted(2, 40, 5);
        let exact = ExactLogistic::fit(&rows, &labels, 2, 1.0).unwrap();
        assert!(exact.gradient_norm() <= GRADIENT_TOLERANCE);
        let options = ProbeOptions {
            l2: 1.0,
            max_iterations: 1000,
            standardize: true,
        };
        let linfa = fit_probe(&rows, &labels, 2, &options).unwrap();
        let probabilities = linfa.probabilities(&rows);
        for (i, row) in rows.iter().enumerate() {
            let (class, f) = exact.predict(row);
            let p = 1.0 / (1.0 + (-f).exp());
            assert!((probabilities[[i, class]] - p).abs() < 1e-4, "row {i}");
        }
    }

    /// Over the `top` examples whose removal moves the input most, the influence estimate
    /// ranks them as leave-one-out retraining does.
    fn check_against_leave_one_out(classes: usize, l2: f64) {
        let (rows, labels) = planted(classes, 30, 4);
        let fit = ExactLogistic::fit(&rows, &labels, classes, l2).unwrap();
        let inputs: Vec<Vec<f32>> = rows.iter().step_by(7).cloned().collect();
        let predicted = fit.influence(&inputs).unwrap();
        let actual = fit.leave_one_out(&inputs).unwrap();
        for (p, a) in predicted.iter().zip(&actual) {
            let mut order: Vec<usize> = (0..a.len()).collect();
            order.sort_by(|&x, &y| a[y].abs().total_cmp(&a[x].abs()));
            let pairs: Vec<(f64, f64)> =
                order[..20].iter().map(|&e| (p.removal[e], a[e])).collect();
            let rho = cavern_stats::spearman(&pairs).unwrap();
            assert!(rho >= 0.9, "{classes} classes: ρ = {rho} {pairs:?}");
            // And the values themselves are close: the largest change within 20% (the
            // first-order estimate falls a little short when one example of 30 a class goes).
            let (e, largest) = (order[0], a[order[0]]);
            assert!(
                (p.removal[e] - largest).abs() <= 0.2 * largest.abs(),
                "{pairs:?}"
            );
        }
    }

    #[test]
    fn influence_matches_leave_one_out_retraining_for_two_classes() {
        check_against_leave_one_out(2, 1.0);
    }

    #[test]
    fn influence_matches_leave_one_out_retraining_for_three_classes() {
        check_against_leave_one_out(3, 1.0);
    }

    #[test]
    fn a_mislabelled_example_harms_the_prediction_on_its_twin() {
        // One-dimensional: class 1 at x > 0. A class-0 example at x = 2 (mislabelled) pushes
        // the prediction at x = 2 towards class 0; removing it raises the log-odds of class 1.
        let mut rows: Vec<Vec<f32>> = (1..=10).map(|i| vec![i as f32 * 0.3]).collect();
        let mut labels = vec![1; 10];
        rows.extend((1..=10).map(|i| vec![-(i as f32) * 0.3]));
        labels.extend(vec![0; 10]);
        rows.push(vec![2.0]);
        labels.push(0);
        let fit = ExactLogistic::fit(&rows, &labels, 2, 0.5).unwrap();
        let influence = fit.influence(&[vec![2.0]]).unwrap();
        assert_eq!(influence[0].class, 1);
        let removal = &influence[0].removal;
        let most_harmful = (0..removal.len())
            .max_by(|&a, &b| removal[a].total_cmp(&removal[b]))
            .unwrap();
        assert_eq!(most_harmful, 20, "{removal:?}");
        // Examples of the predicted class on its side help it.
        assert!(removal[9] < 0.0, "{removal:?}");
    }

    #[test]
    fn no_penalty_is_refused() {
        let (rows, labels) = planted(2, 5, 2);
        let err = ExactLogistic::fit(&rows, &labels, 2, 0.0).unwrap_err();
        assert!(err.to_string().contains("L2 penalty above 0"), "{err}");
    }
}
