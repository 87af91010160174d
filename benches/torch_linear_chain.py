#!/usr/bin/env python3
"""PyTorch peer of `cargo run --release -p cavern-model --example linear_chain -- ROWS`:
MiniLM's linear layers alone, as a forward pass meets them (six layers of distinct weights, each
the four 384 x 384 attention projections, 384 -> 1536 and 1536 -> 384, every product on the
output of one before). Prints the median of 10 chains (after 2 untimed) and its GFLOP/s.

    python3 benches/torch_linear_chain.py ROWS [--threads 2]

For the AVX2 comparison run it with ATEN_CPU_CAPABILITY=avx2 (PyTorch's matrix products are
MKL's, which use their AVX2 kernels on AMD CPUs either way).
"""

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

D, D_MLP, LAYERS = 384, 1536, 6
SHAPES = [(D, D)] * 4 + [(D, D_MLP), (D_MLP, D)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", type=int)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    layers = [
        [(torch.randn(d_out, d_in) / d_in**0.5, torch.randn(d_out) * 0.1) for d_in, d_out in SHAPES]
        for _ in range(LAYERS)
    ]
    x0 = torch.randn(args.rows, D)

    def chain():
        x = x0
        for w in layers:
            _q, _k, v = (F.linear(x, *w[i]) for i in range(3))
            o = F.linear(v, *w[3])
            h = F.linear(o, *w[4])
            x = F.linear(h, *w[5])
        return x

    with torch.inference_mode():
        times = []
        for _ in range(12):
            start = time.perf_counter()
            chain()
            times.append(time.perf_counter() - start)
    median = statistics.median(times[2:])
    flops = LAYERS * args.rows * 2 * (4 * D * D + 2 * D * D_MLP)
    print(
        f"PyTorch linear chain, {args.rows} rows: median {median * 1e3:.1f} ms, "
        f"{flops / median / 1e9:.1f} GFLOP/s"
    )


if __name__ == "__main__":
    main()
