//! Times a model's forward pass on one fixed batch, for profiling (`perf record`) and for
//! comparing builds: `cargo run --release --example forward_timing -- BATCH TOKENS ITERATIONS
//! [MODEL]` (MODEL defaults to `minilm-l6`; fetch it with `cavern models fetch MODEL`). The token
//! ids are `TokenBatch::synthetic_bert`, as in `benches/benches/extract.rs`.

use burn::tensor::Device;
use cavern_model::{ModelRef, NoHooks, TokenBatch, load_model};
use std::time::Instant;

fn main() {
    cavern_model::memory::retain_freed_memory();
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let name = match args.len() {
        3 => "minilm-l6".to_string(),
        4 => args.pop().expect("four arguments"),
        _ => panic!("usage: forward_timing BATCH TOKENS ITERATIONS [MODEL]"),
    };
    let [b, t, iters] = [0, 1, 2].map(|i| {
        args[i]
            .parse::<usize>()
            .expect("BATCH TOKENS ITERATIONS are whole numbers")
    });
    let model = load_model(&ModelRef::Named(name.clone()), &Device::flex())
        .unwrap_or_else(|e| panic!("cannot load {name} ({e}): run `cavern models fetch {name}`"));
    let batch = TokenBatch::synthetic_bert(b, t);
    // One untimed pass: first-touch allocations and gemm's kernel choice.
    drop(model.transformer.forward(&batch, &mut NoHooks));
    // On a thread of the pool, as the `cavern` binary runs its commands.
    let s = cavern_model::threads::in_thread_pool(|| {
        let start = Instant::now();
        for _ in 0..iters {
            let out = model.transformer.forward(&batch, &mut NoHooks);
            std::hint::black_box(out.logits.into_data());
        }
        start.elapsed().as_secs_f64() / iters as f64
    });
    println!(
        "{b}x{t}: {:.1} ms/batch, {:.1} sentences/s",
        s * 1e3,
        b as f64 / s
    );
}
