#!/usr/bin/env python3
"""PyTorch + transformers peer of the Rust criterion bench `benches/benches/decoder.rs`:
SmolLM2-135M-Instruct prefill of an [8, 64] batch, and 32 greedy tokens after one prompt with
transformers' `generate` and its key/value cache.

    python3 -m pip install torch transformers accelerate gguf tokenizers
    cavern models fetch smollm2-135m
    python3 benches/torch_decoder.py [--threads 2] [--attn sdpa]

The model is read from `$CAVERN_HOME/models/smollm2-135m/` (default `~/.cache/cavern/...`),
dequantised by transformers from the Q4_1 GGUF to float32 (eval mode, `torch.inference_mode()`,
`torch.set_num_threads(--threads)`; attention `sdpa`, transformers' default, or `--attn eager`).
Compare with `RAYON_NUM_THREADS=2 cargo bench --bench decoder` (run in `benches/`) at the same
thread count, on the same otherwise idle machine.

- prefill: ids 100 + (b * 7919 + j * 104729) % 49000 for sequence b and position j of the
  [8, 64] batch (the Rust bench's formula), attention mask all ones, no cache, next-token
  logits at the last position only (`logits_to_keep=1`, as cavern computes them);
- generate: "The capital of France is" (ids from SmolLM2's tokenizer pipeline rebuilt from the
  GGUF, `workspace/model/tests/fixtures/bpe/make_ids.py`, which gives cavern's ids), then
  `generate(do_sample=False, max_new_tokens=32, eos_token_id=None)` (no end-of-text token, so
  both sides make 32 tokens and neither masks one: `min_new_tokens` would forbid the end token
  that greedy decoding picks at step 30). The generated ids are printed: they should be the ones
  the Rust bench prints.

Per case: warm-up runs, then timed runs until both `--min-runs` (10) and `--min-seconds` (3 s)
are done. Prints the medians and one JSON line per case.
"""

import argparse
import json
import statistics
import time

import torch
import transformers

import smollm2

PREFILL = (8, 64)
NEW_TOKENS = 32
PROMPT = "The capital of France is"



def prefill_ids():
    batch, tokens = PREFILL
    return torch.tensor(
        [[100 + (b * 7919 + j * 104729) % 49000 for j in range(tokens)] for b in range(batch)],
        dtype=torch.int64,
    )


def timed(run, warmup, min_runs, min_seconds):
    for _ in range(warmup):
        run()
    times = []
    start = time.perf_counter()
    while len(times) < min_runs or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        run()
        times.append(time.perf_counter() - t0)
    return times


def report(name, times, work, unit, extra):
    median = statistics.median(times)
    result = {
        "case": name,
        "median_s": round(median, 6),
        f"{unit}_per_s": round(work / median, 2),
        "runs": len(times),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        **extra,
    }
    print(f"smollm2/{name}: median {median * 1e3:.1f} ms, {work / median:.1f} {unit}/s ({len(times)} runs)")
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (2)")
    parser.add_argument("--attn", choices=["sdpa", "eager"], default="sdpa", help="attention")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up runs per case (2)")
    parser.add_argument("--min-runs", type=int, default=10, help="timed runs, at least (10)")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="timed seconds, at least")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = smollm2.model(args.attn)
    extra = {"threads": args.threads, "attn": args.attn}
    results = []
    with torch.inference_mode():
        ids = prefill_ids()
        mask = torch.ones_like(ids)

        def prefill():
            return model(ids, attention_mask=mask, use_cache=False, logits_to_keep=1).logits

        times = timed(prefill, args.warmup, args.min_runs, args.min_seconds)
        batch, tokens = PREFILL
        results.append(report(f"prefill/{batch}x{tokens}", times, batch * tokens, "tokens", extra))

        prompt = torch.tensor([smollm2.tokenizer().encode(PROMPT).ids], dtype=torch.int64)
        prompt_mask = torch.ones_like(prompt)

        def generate():
            return model.generate(
                prompt,
                attention_mask=prompt_mask,
                do_sample=False,
                max_new_tokens=NEW_TOKENS,
                eos_token_id=None,
                pad_token_id=model.config.eos_token_id,
            )

        generated = generate()[0, prompt.shape[1] :].tolist()
        print(f"smollm2 generate: {PROMPT!r} -> ids {generated}")
        times = timed(generate, args.warmup, args.min_runs, args.min_seconds)
        results.append(report(f"generate/{NEW_TOKENS}", times, NEW_TOKENS, "tokens", extra))
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
