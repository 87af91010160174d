//! What the parity tests share: a hook that records every activation, and error measures.

#![allow(dead_code)] // each test file uses its own subset

use burn::tensor::{Device, Tensor};
use cavern_model::{BatchInfo, Hooks, Site};
use std::collections::BTreeMap;

/// The device the parity tests run on: the CPU, or the wgpu GPU with `CAVERN_TEST_DEVICE=gpu` in
/// a build with the `gpu` feature (`.ci/run` runs them both ways). A GPU asked for must be there.
pub fn device() -> Device {
    match std::env::var("CAVERN_TEST_DEVICE").as_deref() {
        Err(_) | Ok("cpu") => Device::flex(),
        #[cfg(feature = "gpu")]
        Ok("gpu") => {
            let gpu =
                cavern_model::gpu::gpu().unwrap_or_else(|e| panic!("CAVERN_TEST_DEVICE=gpu: {e}"));
            eprintln!("parity tests on {}", gpu.label());
            gpu.device
        }
        Ok(other) => panic!(
            "CAVERN_TEST_DEVICE={other}: expected `cpu` or `gpu` (`gpu` needs `--features gpu`)"
        ),
    }
}

/// The largest buffer the test device allows, in bytes, when it is a GPU; `None` on the CPU.
pub fn gpu_buffer_limit() -> Option<u64> {
    cavern_model::buffer_limit::buffer_limit(&device()).map(|limit| limit.bytes)
}

/// Records the activation at every site.
#[derive(Default)]
pub struct Recorder {
    /// `[batch, pos, width]` sites.
    pub streams: BTreeMap<Site, Tensor<3>>,
    /// `pattern` and `z`.
    pub heads: BTreeMap<Site, Tensor<4>>,
}

impl Hooks for Recorder {
    fn wants(&self, _site: &Site) -> bool {
        true
    }

    fn visit_stream(&mut self, site: &Site, _batch: &BatchInfo, x: Tensor<3>) -> Tensor<3> {
        self.streams.insert(*site, x.clone());
        x
    }

    fn visit_heads(&mut self, site: &Site, _batch: &BatchInfo, x: Tensor<4>) -> Tensor<4> {
        self.heads.insert(*site, x.clone());
        x
    }
}

/// A tensor's values, row-major, as `f64`.
pub fn to_f64<const D: usize>(x: Tensor<D>) -> Vec<f64> {
    x.into_data()
        .try_into_vec_as::<f64>()
        .expect("float tensor")
}

/// `|got - want| / |want|` in the L2 norm.
pub fn relative_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    let diff: f64 = got.iter().zip(want).map(|(g, w)| (g - w).powi(2)).sum();
    let norm: f64 = want.iter().map(|w| w * w).sum();
    (diff / norm).sqrt()
}

/// The largest `|got - want|`, over the largest `|want|`.
pub fn max_relative_error(got: &[f64], want: &[f64]) -> f64 {
    max_abs_error(got, want) / want.iter().fold(0.0f64, |m, w| m.max(w.abs()))
}

/// The largest `|got - want|`.
pub fn max_abs_error(got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths differ");
    got.iter()
        .zip(want)
        .fold(0.0f64, |m, (g, w)| m.max((g - w).abs()))
}

/// Index of the largest value.
pub fn argmax(values: &[f64]) -> usize {
    (0..values.len())
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .expect("non-empty")
}

/// Rows `[pos]` of sequence `b` in a right-padded `[batch, t, width]` activation, for the first
/// `len` positions, flattened.
pub fn sequence(x: &[f64], b: usize, t: usize, width: usize, len: usize) -> Vec<f64> {
    x[b * t * width..(b * t + len) * width].to_vec()
}

/// Checks [`cavern_model::generate::generate`] against uncached greedy decoding: each prompt
/// alone, its whole sequence re-run for every token. The cached tokens must be the same and
/// every step's logits within `tolerance` (absolute), whether the prompts run together (one
/// right-padded batch) or one at a time. Returns the largest logit difference seen and the
/// largest |logit|.
pub fn assert_cached_generation_matches(
    model: &cavern_model::Transformer,
    pad_id: u32,
    prompts: &[Vec<u32>],
    n: usize,
    tolerance: f64,
) -> (f64, f64) {
    use cavern_model::generate::generate;
    use cavern_model::{NoHooks, TokenBatch};
    let batch = |ids: Vec<Vec<u32>>| TokenBatch { ids, pad_id };
    let run = |ids: Vec<Vec<u32>>| {
        generate::<_, cavern_model::ModelError>(model, &batch(ids), n, |_| NoHooks, |_| Ok(()))
            .expect("generates")
    };
    let together = run(prompts.to_vec());
    let (mut worst, mut largest) = (0.0f64, 0.0f64);
    for (i, prompt) in prompts.iter().enumerate() {
        let alone = run(vec![prompt.clone()]);
        let mut ids = prompt.clone();
        for step in 0..n {
            let logits = to_f64(
                model
                    .forward(&batch(vec![ids.clone()]), &mut NoHooks)
                    .logits,
            );
            let next = cavern_model::generate::argmax(
                &logits.iter().map(|&x| x as f32).collect::<Vec<_>>(),
            ) as u32;
            let vocab = logits.len();
            largest = logits.iter().fold(largest, |m, x| m.max(x.abs()));
            let cached_together = to_f64(together.logits[step].clone());
            let row = &cached_together[i * vocab..(i + 1) * vocab];
            let cached_alone = to_f64(alone.logits[step].clone());
            for cached in [row, &cached_alone[..]] {
                let error = max_abs_error(cached, &logits);
                assert!(
                    error <= tolerance,
                    "prompt {i} step {step}: cached logits differ by {error:e}"
                );
                worst = worst.max(error);
            }
            assert_eq!(
                together.tokens[i][step], next,
                "prompt {i} step {step} (batched)"
            );
            assert_eq!(
                alone.tokens[0][step], next,
                "prompt {i} step {step} (alone)"
            );
            ids.push(next);
        }
    }
    (worst, largest)
}
