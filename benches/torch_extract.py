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

With `--corpus`, the peer of `cargo bench --bench corpus` instead: the 2048 sentences of
`benches/corpus.txt` (9 to 59 tokens), tokenized by MiniLM's tokenizer, 32 a batch padded to the
batch's longest (with its attention mask), every layer's output mean-pooled over the real tokens
and copied to NumPy. Batches take the texts sorted by token length (`--order length`, the default,
as sentence-transformers' `encode` does and as cavern buckets them) or in file order
(`--order file`). Per run the whole corpus, tokenizing included (cavern's `extract` tokenizes
too); `--min-runs` 3 timed runs after one warm-up. It also
prints the process's peak resident memory (`ru_maxrss`); for the memory figure run it with
`--min-runs 1 --warmup 0` and compare with
`/usr/bin/time -f %M cavern extract --model minilm-l6 --input benches/corpus.txt --pooling mean --batch-size 32 --out X.safetensors`.

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
import resource
import statistics
import time
from pathlib import Path

import torch
import transformers
from transformers import BertModel, BertTokenizerFast

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


CORPUS = Path(__file__).resolve().parent / "corpus.txt"
CORPUS_BATCH = 32


def corpus_texts():
    """The corpus's texts: its lines, without `#` comments and blank lines."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    return [t.strip() for t in lines if t.strip() and not t.startswith("#")]


def corpus_batches(tokenizer, texts, order):
    """The texts as padded batches of 32 (ids, attention mask, token types)."""
    if order == "length":
        lengths = [len(ids) for ids in tokenizer(texts)["input_ids"]]
        texts = [texts[i] for i in sorted(range(len(texts)), key=lambda i: (lengths[i], i))]
    batches = []
    for start in range(0, len(texts), CORPUS_BATCH):
        enc = tokenizer(texts[start : start + CORPUS_BATCH], padding=True, return_tensors="pt")
        batches.append((enc["input_ids"], enc["attention_mask"], enc["token_type_ids"]))
    return batches


def extract_corpus(model, batches):
    """Every layer's output mean-pooled over real tokens, per text, copied to NumPy."""
    pooled = []
    for ids, mask, types in batches:
        hidden = extract(model, ids, mask, types)[1:]
        weights = mask.unsqueeze(-1).to(torch.float32)
        count = weights.sum(dim=1)
        pooled.append([((h * weights).sum(dim=1) / count).numpy() for h in hidden])
    return pooled


def bench_corpus(model, args):
    texts = corpus_texts()
    n = len(texts)
    tokenizer = BertTokenizerFast(tokenizer_file=str(args.model / "tokenizer.json"))

    def run():
        # Tokenizing is timed too, as cavern's `extract` tokenizes inside the timed call.
        return extract_corpus(model, corpus_batches(tokenizer, texts, args.order))

    with torch.inference_mode():
        for _ in range(args.warmup):
            run()
        times = []
        start = time.perf_counter()
        while len(times) < args.min_runs or time.perf_counter() - start < args.min_seconds:
            t0 = time.perf_counter()
            run()
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    result = {
        "corpus": n,
        "order": args.order,
        "batch": CORPUS_BATCH,
        "threads": args.threads,
        "median_s": round(median, 4),
        "sentences_per_s": round(n / median, 2),
        "runs": len(times),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    print(
        f"minilm_corpus/{n}_mixed_b{CORPUS_BATCH}: median {median:.2f} s per corpus, "
        f"{result['sentences_per_s']:.1f} sentences/s ({len(times)} runs), "
        f"peak RSS {result['peak_rss_mb']} MB"
    )
    print(json.dumps(result))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (2)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="MiniLM folder")
    parser.add_argument("--warmup", type=int, default=2, help="warm-up runs per shape (2)")
    parser.add_argument("--min-runs", type=int, default=10, help="timed runs, at least (10)")
    parser.add_argument("--min-seconds", type=float, default=3.0, help="timed seconds, at least")
    parser.add_argument("--corpus", action="store_true", help="the 2048-sentence corpus instead")
    parser.add_argument(
        "--order", choices=["length", "file"], default="length", help="corpus batch order"
    )
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    model = BertModel.from_pretrained(
        str(args.model), attn_implementation="eager", dtype=torch.float32
    ).eval()
    if args.corpus:
        if args.min_runs == parser.get_default("min_runs"):
            args.min_runs = 3
        if args.warmup == parser.get_default("warmup"):
            args.warmup = 1
        args.min_seconds = 0.0
        bench_corpus(model, args)
        return

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
