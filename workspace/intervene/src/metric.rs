//! Metrics that patching, ablation and pruning studies read from a forward pass's logits.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Int, Tensor, TensorData};

/// A scalar per row of a batch, computed from the model's output logits `[rows, outputs]`.
///
/// Targets are per prompt (templated prompts each have their own answer); a batch row names
/// the prompt it belongs to.
#[derive(Debug, Clone)]
pub enum Metric {
    /// `logit[a] − logit[b]`, one `(a, b)` per prompt.
    LogitDiff(Vec<(u32, u32)>),
    /// `log p(t)`, one `t` per prompt.
    Logprob(Vec<u32>),
    /// `p(c)` (a class probability, or a token's), one `c` per prompt.
    Prob(Vec<u32>),
    /// `KL(reference ‖ run)` of the output distribution, one reference (log-probabilities
    /// `[prompts, outputs]`, usually the clean run's) per prompt.
    Kl(Box<Tensor<2>>),
}

impl Metric {
    /// The KL metric to the distribution of `reference_logits` (`[prompts, outputs]`).
    pub fn kl_to(reference_logits: Tensor<2>) -> Metric {
        Metric::Kl(Box::new(log_softmax(reference_logits.detach(), 1)))
    }

    /// Number of prompts the metric has targets for.
    pub fn prompts(&self) -> usize {
        match self {
            Metric::LogitDiff(t) => t.len(),
            Metric::Logprob(t) | Metric::Prob(t) => t.len(),
            Metric::Kl(reference) => reference.dims()[0],
        }
    }

    /// The token (or class) whose top-1 rank defines accuracy, for prompt `prompt`: the first
    /// target of a logit difference, the target of a log-probability or probability.
    pub fn answer(&self, prompt: usize) -> Option<u32> {
        match self {
            Metric::LogitDiff(t) => t.get(prompt).map(|&(a, _)| a),
            Metric::Logprob(t) | Metric::Prob(t) => t.get(prompt).copied(),
            Metric::Kl(_) => None,
        }
    }

    /// The metric of each row of `logits`, where row `i` belongs to prompt `rows[i]`.
    pub fn eval(&self, logits: Tensor<2>, rows: &[usize]) -> Tensor<1> {
        let [n, _] = logits.dims();
        let device = logits.device();
        let index = |ids: Vec<i64>| -> Tensor<2, Int> {
            Tensor::from_data(TensorData::new(ids, [n, 1]), &device)
        };
        let pick = |x: Tensor<2>, of: &dyn Fn(usize) -> u32| {
            let ids = rows.iter().map(|&p| i64::from(of(p))).collect();
            x.gather(1, index(ids)).reshape([n])
        };
        match self {
            Metric::LogitDiff(t) => pick(logits.clone(), &|p| t[p].0) - pick(logits, &|p| t[p].1),
            Metric::Logprob(t) => pick(log_softmax(logits, 1), &|p| t[p]),
            Metric::Prob(t) => pick(softmax(logits, 1), &|p| t[p]),
            Metric::Kl(reference) => {
                let ids: Vec<i64> = rows.iter().map(|&p| p as i64).collect();
                let ids = Tensor::<1, Int>::from_data(TensorData::new(ids, [n]), &device);
                let reference = (**reference).clone().select(0, ids);
                let diff = reference.clone() - log_softmax(logits, 1);
                (reference.exp() * diff).sum_dim(1).reshape([n])
            }
        }
    }
}

/// Whether each row's top-1 output is its prompt's answer (see [`Metric::answer`]); `None`
/// when the metric has no answer token.
pub fn top1_correct(metric: &Metric, logits: Tensor<2>, rows: &[usize]) -> Option<Vec<bool>> {
    let answers: Option<Vec<u32>> = rows.iter().map(|&p| metric.answer(p)).collect();
    let answers = answers?;
    let top = logits.argmax(1).into_data().try_into_vec_as::<i64>().ok()?;
    Some(
        top.iter()
            .zip(answers)
            .map(|(&t, a)| t == i64::from(a))
            .collect(),
    )
}

/// A rank-1 tensor's values as `f64`.
pub fn to_f64(x: Tensor<1>) -> Vec<f64> {
    x.into_data().try_into_vec_as::<f64>().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn logits() -> Tensor<2> {
        let device = Device::default();
        Tensor::from_data(
            TensorData::new(vec![1.0f32, 2.0, 4.0, 0.0, 0.0, 0.0], [2, 3]),
            &device,
        )
    }

    #[test]
    fn logit_difference_reads_each_rows_prompt() {
        let metric = Metric::LogitDiff(vec![(2, 0), (0, 1)]);
        let values = to_f64(metric.eval(logits(), &[0, 1]));
        assert_eq!(values, vec![3.0, 0.0]);
        let swapped = to_f64(metric.eval(logits(), &[1, 1]));
        assert_eq!(swapped, vec![-1.0, 0.0]);
    }

    #[test]
    fn probabilities_and_log_probabilities_agree_with_softmax() {
        let z: f64 = [1.0f64, 2.0, 4.0].iter().map(|v| v.exp()).sum();
        let p = to_f64(Metric::Prob(vec![2, 0]).eval(logits(), &[0, 1]));
        assert!((p[0] - 4.0f64.exp() / z).abs() < 1e-6);
        assert!((p[1] - 1.0 / 3.0).abs() < 1e-6);
        let lp = to_f64(Metric::Logprob(vec![2, 0]).eval(logits(), &[0, 1]));
        assert!((lp[0] - (4.0 - z.ln())).abs() < 1e-5);
    }

    #[test]
    fn kl_is_zero_to_itself_and_positive_elsewhere() {
        let metric = Metric::kl_to(logits());
        let same = to_f64(metric.eval(logits(), &[0, 1]));
        assert!(same.iter().all(|v| v.abs() < 1e-6), "{same:?}");
        let crossed = to_f64(metric.eval(logits(), &[1, 0]));
        assert!(crossed.iter().all(|&v| v > 0.1), "{crossed:?}");
    }

    #[test]
    fn accuracy_compares_the_argmax_with_the_answer() {
        let metric = Metric::Logprob(vec![2, 1]);
        let correct = top1_correct(&metric, logits(), &[0, 1]);
        assert_eq!(correct, Some(vec![true, false]));
        assert_eq!(top1_correct(&Metric::kl_to(logits()), logits(), &[0]), None);
    }
}
