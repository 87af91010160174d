//! Activation extraction on the real MiniLM (`minilm-l6`): one forward pass that records every
//! layer's `resid_post` and copies each recorded stream to host memory.
//!
//! The token ids follow the same formula as the PyTorch peer `benches/torch_extract.py`, so both
//! sides run the same batches. Run with `RAYON_NUM_THREADS=2 cargo bench --bench extract`.

use burn::tensor::Device;
use cavern_intervene::Interventions;
use cavern_model::threads::in_thread_pool;
use cavern_model::{LoadedModel, ModelRef, Site, SitePoint, TokenBatch, load_model};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::hint::black_box;
use std::time::Duration;

/// `(batch, tokens)` shapes, as in the PyTorch peer.
const SHAPES: [(usize, usize); 2] = [(32, 32), (64, 128)];

/// One forward pass recording `sites`, each recorded stream copied to host memory.
fn extract(model: &LoadedModel, batch: &TokenBatch, sites: &[Site]) {
    let mut hooks = Interventions::recording(sites.iter().copied());
    let output = model.transformer.forward(batch, &mut hooks);
    let cache = hooks.into_recorded().unwrap();
    for site in sites {
        black_box(cache.stream(site).unwrap().into_data());
    }
    drop(black_box(output));
}

fn minilm_extract(c: &mut Criterion) {
    // As the `cavern` binary does: freed activation buffers are kept for the next pass, and
    // each iteration runs on a thread of rayon's pool (`in_thread_pool`).
    cavern_model::memory::retain_freed_memory();
    let model = load_model(&ModelRef::Named("minilm-l6".into()), &Device::flex())
        .unwrap_or_else(|e| panic!("cannot load minilm-l6: {e}"));
    let sites: Vec<Site> = (0..model.n_layers())
        .map(|l| Site::new(SitePoint::ResidPost, l))
        .collect();

    let mut group = c.benchmark_group("minilm_extract");
    // Iterations take from milliseconds to seconds on 2 cores: flat sampling keeps the number of
    // iterations per sample fixed instead of growing it linearly, so the slow shape stays short.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(20));
    for (batch_size, tokens) in SHAPES {
        let batch = TokenBatch::synthetic_bert(batch_size, tokens);
        group.throughput(Throughput::Elements(batch_size as u64));
        group.bench_with_input(
            BenchmarkId::from_parameter(format!("{batch_size}x{tokens}")),
            &batch,
            |b, batch| b.iter(|| in_thread_pool(|| extract(&model, batch, &sites))),
        );
    }
    group.finish();
}

criterion_group!(benches, minilm_extract);
criterion_main!(benches);
