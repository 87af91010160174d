//! SmolLM2-135M-Instruct (`smollm2-135m`) as a decoder: prefill of a `[8, 64]` batch (one
//! forward pass, next-token logits at the last position), and 32 greedy tokens after one
//! prompt with the key/value cache (`cavern_model::generate::generate`). The PyTorch peer is
//! `python3 benches/torch_decoder.py`, with the same ids. Run with
//! `RAYON_NUM_THREADS=2 cargo bench --bench decoder`.

use burn::tensor::Device;
use cavern_model::generate::generate;
use cavern_model::threads::in_thread_pool;
use cavern_model::{LoadedModel, ModelError, ModelRef, NoHooks, TokenBatch, load_model};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use std::hint::black_box;
use std::time::Duration;

/// The prefill shape `(batch, tokens)`.
const PREFILL: (usize, usize) = (8, 64);
/// Greedy tokens generated.
const NEW_TOKENS: usize = 32;
/// The generation prompt.
const PROMPT: &str = "The capital of France is";

/// The prefill batch: for sequence b and position j, id 100 + (b·7919 + j·104729) mod 49000, as
/// in the PyTorch peer.
fn prefill_batch(model: &LoadedModel) -> TokenBatch {
    let (batch, tokens) = PREFILL;
    let ids = (0..batch)
        .map(|b| {
            (0..tokens)
                .map(|j| (100 + (b * 7919 + j * 104_729) % 49_000) as u32)
                .collect()
        })
        .collect();
    model.batch(ids)
}

fn decoder(c: &mut Criterion) {
    // As the `cavern` binary does: freed activation buffers are kept for the next pass, and
    // each iteration runs on a thread of rayon's pool (`in_thread_pool`).
    cavern_model::memory::retain_freed_memory();
    let model = load_model(&ModelRef::Named("smollm2-135m".into()), &Device::flex())
        .unwrap_or_else(|e| panic!("cannot load smollm2-135m: {e}"));
    let mut group = c.benchmark_group("smollm2");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(20));

    let batch = prefill_batch(&model);
    let (b, t) = PREFILL;
    group.throughput(Throughput::Elements((b * t) as u64));
    group.bench_with_input(
        BenchmarkId::new("prefill", format!("{b}x{t}")),
        &batch,
        |bench, batch| {
            bench.iter(|| {
                in_thread_pool(|| {
                    let logits = model.transformer.forward(batch, &mut NoHooks).logits;
                    black_box(logits.into_data())
                })
            })
        },
    );

    let prompt = model.encode(&[PROMPT.to_string()]).expect("prompt encodes");
    let greedy = || {
        generate::<_, ModelError>(
            &model.transformer,
            &prompt,
            NEW_TOKENS,
            |_| NoHooks,
            |_| Ok(()),
        )
        .expect("generates")
        .tokens
    };
    // The same tokens as transformers' `generate` prints (torch_decoder.py).
    let tokens = greedy();
    eprintln!(
        "smollm2 generate: {:?} -> {:?} (ids {:?})",
        PROMPT,
        model.tokenizer().generated_text(&tokens[0]),
        tokens[0]
    );
    group.throughput(Throughput::Elements(NEW_TOKENS as u64));
    group.bench_function(BenchmarkId::new("generate", NEW_TOKENS), |bench| {
        bench.iter(|| black_box(in_thread_pool(greedy)))
    });
    group.finish();
}

criterion_group!(benches, decoder);
criterion_main!(benches);
