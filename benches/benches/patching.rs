//! Activation patching on the real SmolLM2 (`smollm2-135m`): the full indirect-object sweep
//! (`resid_pre` × every layer × every position) of one clean/corrupted pair, by cavern's sweep
//! (each patch starts from the cached residual of its layer, a layer's patches run as one batch,
//! patches of unchanged activations are not run) and by the naive loop (one full forward pass
//! per patch, a `set` intervention at one position), both reading the logit difference.
//!
//! The PyTorch peer `benches/torch_patching.py` runs the naive loop with forward hooks on the
//! same model and prompt. Run with `RAYON_NUM_THREADS=2 cargo bench --bench patching`.

use burn::tensor::Device;
use cavern_intervene::patching::{PatchKind, PatchPlan, PromptPairs, sweep};
use cavern_intervene::{Intervention, Interventions, Metric, Op};
use cavern_model::threads::in_thread_pool;
use cavern_model::{LoadedModel, ModelRef, Site, SitePoint, load_model};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::Duration;

/// The pair, as in the PyTorch peer.
const CLEAN: &str = "When Mary and John went to the store, John gave a drink to";
const CORRUPTED: &str = "When Mary and John went to the store, Mary gave a drink to";

fn ids(model: &LoadedModel, text: &str) -> Vec<u32> {
    model.tokenizer().encode(text).expect("encode").ids
}

/// The logit difference ` Mary` − ` John`.
fn metric(model: &LoadedModel) -> Metric {
    let token = |t: &str| model.tokenizer().single_token(t).expect("one token");
    Metric::LogitDiff(vec![(token(" Mary"), token(" John"))])
}

/// Every patch by a full forward pass of the corrupted prompt with one `set` at one position;
/// returns the patched metrics.
fn naive_sweep(model: &LoadedModel, pairs: &PromptPairs, metric: &Metric) -> Vec<f64> {
    let sites: Vec<Site> = (0..model.n_layers())
        .map(|l| Site::new(SitePoint::ResidPre, l))
        .collect();
    let mut record = Interventions::recording(sites.iter().copied());
    model
        .transformer
        .forward(&model.batch(vec![pairs.source[0].clone()]), &mut record);
    let clean = record.into_recorded().expect("recorded");
    let corrupted = model.batch(vec![pairs.base[0].clone()]);
    let mut out = Vec::new();
    for site in sites {
        for position in 0..pairs.base[0].len() {
            let set = Intervention::new(
                site,
                Op::Set {
                    source: "clean".into(),
                },
            )
            .at_positions(vec![position]);
            let mut hooks = Interventions::new(vec![set]).with_source("clean", clean.clone());
            let logits = model.transformer.forward(&corrupted, &mut hooks).logits;
            out.push(cavern_intervene::metric::to_f64(metric.eval(logits, &[0]))[0]);
        }
    }
    out
}

fn smollm2_ioi_sweep(c: &mut Criterion) {
    // As the `cavern` binary does: freed activation buffers are kept for the next pass, and
    // each iteration runs on a thread of rayon's pool (`in_thread_pool`).
    cavern_model::memory::retain_freed_memory();
    let model = load_model(&ModelRef::Named("smollm2-135m".into()), &Device::flex())
        .unwrap_or_else(|e| panic!("cannot load smollm2-135m: {e}"));
    let pairs = PromptPairs {
        base: vec![ids(&model, CORRUPTED)],
        source: vec![ids(&model, CLEAN)],
        pad_id: model.config().pad_id,
        align_last: None,
    };
    let metric = metric(&model);
    let plan = PatchPlan {
        kinds: vec![PatchKind::Position(SitePoint::ResidPre)],
        layers: (0..model.n_layers()).collect(),
        skip_unchanged: true,
        max_batch_tokens: 2048,
    };
    // Both sides compute the same values.
    let fast: Vec<f64> = sweep(&model.transformer, &pairs, &metric, &plan)
        .expect("sweep")
        .exact
        .iter()
        .map(|v| v.metric)
        .collect();
    let naive = naive_sweep(&model, &pairs, &metric);
    let worst = fast
        .iter()
        .zip(&naive)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(worst < 1e-3, "the sweeps disagree by {worst}");

    let mut group = c.benchmark_group("smollm2_ioi_resid_sweep");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    group.bench_function("cavern_sweep", |b| {
        b.iter(|| {
            in_thread_pool(|| {
                black_box(sweep(&model.transformer, &pairs, &metric, &plan).expect("sweep"))
            })
        })
    });
    group.bench_function("naive_loop", |b| {
        b.iter(|| in_thread_pool(|| black_box(naive_sweep(&model, &pairs, &metric))))
    });
    group.finish();
}

criterion_group!(benches, smollm2_ioi_sweep);
criterion_main!(benches);
