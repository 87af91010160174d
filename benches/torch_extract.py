#!/usr/bin/env python3
"""PyTorch + transformers peer of the Rust criterion bench `benches/benches/extract.rs`:
activation extraction on the real MiniLM (all-MiniLM-L6-v2), one forward pass that records
every layer's output (`output_hidden_states=True`), at the same shapes and with the same token
ids as the Rust side.

    python3 -m pip install torch transformers
    cavern models fetch minilm-l6
    python3 benches/torch_extract.py [--threads 2] [--model DIR]

The model is read from `$CAVERN_HOME/models/minilm-l6/` (default `~/.cache/cavern/...`) unless
`--model` is given. Compare with `RAYON_NUM_THREADS=2 cargo bench --bench extract` (run in
`benches/`) at the same thread count, on the same otherwise idle machine.

Inputs: for sequence b and position j of a [B, T] batch, the token id is 101 ([CLS]) at j = 0,
102 ([SEP]) at j = T - 1, and otherwise 1000 + (b * 7919 + j * 104729) % 20000; the attention
mask is all ones and the token types all zero. Shapes (B x T): 32x32 and 64x128.

Float32, eval mode, `torch.inference_mode()`, `torch.set_num_threads(--threads)`, eager
attention (the implementation that can also return attention probabilities, as cavern's
recorder does). Per shape: warm-up runs, then timed runs until both at least `--min-runs` (10)
runs and `--min-seconds` (3 s) are done. Prints, per shape, the median seconds per batch and
sentences per second, then one JSON line per shape on stdout, e.g.

    {"shape": "32x32", "threads": 2, "median_s": 0.05, "sentences_per_s": 640.0, ...}
"""

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch
import transformers
from transformers import BertModel

SHAPES = [(32, 32), (64, 128)]
DEFAULT_MODEL = Path(os.environ.get("CAVERN_HOME", Path.home() / ".cache" / "cavern")) / (
    "models/minilm-l6"
)


def token_ids(batch: int, tokens: int) -> torch.Tensor:
    """The [batch, tokens] ids of the Rust bench's `token_batch`."""
    ids = torch.empty(batch, tokens, dtype=torch.int64)
    for b in range(batch):
        for j in range(tokens):
            if j == 0:
                ids[b, j] = 101
            elif j == tokens - 1:
                ids[b, j] = 102
            else:
                ids[b, j] = 1000 + (b * 7919 + j * 104729) % 20000
    return ids


def extract(model, ids, mask, types):
    """One forward pass recording every layer's output (the normed embeddings too)."""
    out = model(
        input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True
    )
    assert len(out.hidden_states) == model.config.num_hidden_layers + 1
    return out.hidden_states


def bench_shape(model, batch, tokens, warmup, min_runs, min_seconds):
    ids = token_ids(batch, tokens)
    mask = torch.ones_like(ids)
    types = torch.zeros_like(ids)
    with torch.inference_mode():
        for _ in range(warmup):
            extract(model, ids, mask, types)
        times = []
        start = time.perf_counter()
        while len(times) < min_runs or time.perf_counter() - start < min_seconds:
            t0 = time.perf_counter()
            extract(model, ids, mask, types)
            times.append(time.perf_counter() - t0)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (2)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="MiniLM folder")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up runs per shape (2)")
    parser.add_argument("--min-runs", type=int, default=10, help="timed runs, at least (10)")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="timed seconds, at least")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = BertModel.from_pretrained(
        str(args.model), attn_implementation="eager", dtype=torch.float32
    ).eval()

    results = []
    for batch, tokens in SHAPES:
        times = bench_shape(model, batch, tokens, args.warmup, args.min_runs, args.min_seconds)
        median = statistics.median(times)
        result = {
            "shape": f"{batch}x{tokens}",
            "threads": args.threads,
            "median_s": round(median, 6),
            "sentences_per_s": round(batch / median, 2),
            "min_s": round(min(times), 6),
            "max_s": round(max(times), 6),
            "runs": len(times),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        }
        results.append(result)
        print(
            f"minilm_extract/{result['shape']}: median {median * 1e3:.1f} ms per batch, "
            f"{result['sentences_per_s']:.1f} sentences/s "
            f"({len(times)} runs, min {min(times) * 1e3:.1f} ms, max {max(times) * 1e3:.1f} ms)"
        )
    for result in results:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
