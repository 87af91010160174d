//! MiniLM extraction of a real corpus: the 2048 mixed-length sentences of `benches/corpus.txt`
//! (9 to 59 tokens, written by `benches/make_corpus.py`), every layer's `resid_post`
//! mean-pooled, 32 texts a pass, through `cavern_experiment::extract::extract` — what
//! `cavern extract --pooling mean` runs, length-bucketed passes included. The PyTorch peer is
//! `python3 benches/torch_extract.py --corpus`. Run with
//! `RAYON_NUM_THREADS=2 cargo bench --bench corpus`.

use burn::tensor::Device;
use cavern_experiment::extract::extract;
use cavern_model::threads::in_thread_pool;
use cavern_model::{ModelRef, Site, SitePoint, load_model};
use cavern_probe::Pooling;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// Texts per forward pass, as in the PyTorch peer.
const BATCH: usize = 32;

/// The corpus's texts: its lines, without `#` comments and blank lines.
fn corpus() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus.txt");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

fn corpus_extract(c: &mut Criterion) {
    // As the `cavern` binary does: freed activation buffers are kept for the next pass, and
    // each iteration runs on a thread of rayon's pool (`in_thread_pool`).
    cavern_model::memory::retain_freed_memory();
    let model = load_model(&ModelRef::Named("minilm-l6".into()), &Device::flex())
        .unwrap_or_else(|e| panic!("cannot load minilm-l6: {e}"));
    let sites: Vec<Site> = (0..model.n_layers())
        .map(|l| Site::new(SitePoint::ResidPost, l))
        .collect();
    let texts = corpus();
    let mut group = c.benchmark_group("minilm_corpus");
    // One iteration extracts the whole corpus (seconds): a fixed number of them.
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(60))
        .throughput(Throughput::Elements(texts.len() as u64));
    group.bench_function(format!("{}_mixed_b{BATCH}", texts.len()), |b| {
        b.iter(|| {
            in_thread_pool(|| {
                let extraction = extract(&model, &texts, &sites, Some(Pooling::Mean), BATCH);
                black_box(extraction.expect("extracts"))
            })
        })
    });
    group.finish();
}

criterion_group!(benches, corpus_extract);
criterion_main!(benches);
