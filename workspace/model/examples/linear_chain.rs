//! Times MiniLM's linear layers alone, as a forward pass meets them: six layers of distinct
//! weights, each the four 384 × 384 attention projections, the 384 → 1536 and 1536 → 384 MLP
//! layers, every product on the output of one before, through `cavern_model::linear::tokens`
//! (the path a forward pass takes). The peer is `benches/torch_linear_chain.py`:
//!
//!     cargo run --release -p cavern-model --example linear_chain -- ROWS
//!
//! prints the median of 10 chains (after 2 untimed) and its GFLOP/s. Build without the
//! `avx512` feature (`-p cavern-model` alone) for the AVX2 path.

use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Distribution, Tensor};
use std::time::Instant;

const D: usize = 384;
const D_MLP: usize = 1536;
const LAYERS: usize = 6;

fn main() {
    cavern_model::memory::retain_freed_memory();
    let rows: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .expect("usage: linear_chain ROWS");
    let device = Device::flex();
    let shapes = [(D, D), (D, D), (D, D), (D, D), (D, D_MLP), (D_MLP, D)];
    let layers: Vec<Vec<Linear>> = (0..LAYERS)
        .map(|_| {
            shapes
                .iter()
                .map(|&(d_in, d_out)| LinearConfig::new(d_in, d_out).init(&device))
                .collect()
        })
        .collect();
    let x0 = Tensor::<3>::random([1, rows, D], Distribution::Normal(0.0, 1.0), &device);
    let chain = || {
        let mut x = x0.clone();
        for w in &layers {
            let tokens = |i: usize, x: &Tensor<3>| cavern_model::linear::tokens(&w[i], x.clone());
            let (_q, _k, v) = (tokens(0, &x), tokens(1, &x), tokens(2, &x));
            let o = tokens(3, &v);
            let h = tokens(4, &o);
            x = tokens(5, &h);
        }
        std::hint::black_box(x.into_data());
    };
    let mut times: Vec<f64> = cavern_model::threads::in_thread_pool(|| {
        (0..12)
            .map(|_| {
                let start = Instant::now();
                chain();
                start.elapsed().as_secs_f64()
            })
            .skip(2)
            .collect()
    });
    times.sort_by(f64::total_cmp);
    let n = times.len();
    let median = (times[(n - 1) / 2] + times[n / 2]) / 2.0;
    let flops = (LAYERS * rows * 2 * (4 * D * D + 2 * D * D_MLP)) as f64;
    println!(
        "cavern linear chain, {rows} rows: median {:.1} ms, {:.1} GFLOP/s",
        median * 1e3,
        flops / median / 1e9
    );
}
