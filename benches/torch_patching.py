#!/usr/bin/env python3
"""PyTorch + transformers peer of the Rust criterion bench `benches/benches/patching.rs`: the
full indirect-object patching sweep on SmolLM2-135M-Instruct (`resid_pre` of every layer x every
position of one clean/corrupted pair) as the usual forward-hook loop: one full forward pass of
the corrupted prompt per patch, a forward pre-hook on the layer replacing one position of its
input with the clean run's, reading logit(" Mary") - logit(" John") at the last position.

    python3 -m pip install torch transformers accelerate gguf tokenizers
    cavern models fetch smollm2-135m
    python3 benches/torch_patching.py [--threads 2]

The model is read from `$CAVERN_HOME/models/smollm2-135m/` (default `~/.cache/cavern/...`),
dequantised by transformers from the Q4_1 GGUF to float32 (eager attention, eval mode,
`torch.inference_mode()`). Token ids come from SmolLM2's tokenizer pipeline rebuilt from the GGUF
(`workspace/model/tests/fixtures/bpe/make_ids.py`), which gives cavern's ids. Compare with
`RAYON_NUM_THREADS=2 cargo bench --bench patching` (run in `benches/`) at the same thread count,
on the same otherwise idle machine.

Prints the median seconds per sweep over `--runs` timed sweeps (after one warm-up sweep), the
number of forward passes per sweep, and a JSON line.
"""

import argparse
import json
import statistics
import time

import torch
import transformers

import smollm2

CLEAN = "When Mary and John went to the store, John gave a drink to"
CORRUPTED = "When Mary and John went to the store, Mary gave a drink to"



def sweep(model, clean_ids, corrupted_ids, mary, john):
    """Every (layer, position) patch by a full forward pass; returns the patched metrics."""
    layers = model.model.layers
    clean = model(clean_ids, output_hidden_states=True).hidden_states  # [0] = input of layer 0
    out = []
    for layer_index, layer in enumerate(layers):
        source = clean[layer_index]
        for position in range(corrupted_ids.shape[1]):

            def patch(_module, args, kwargs, position=position, source=source):
                hidden = args[0] if args else kwargs["hidden_states"]
                hidden = hidden.clone()
                hidden[:, position] = source[:, position]
                if args:
                    return (hidden, *args[1:]), kwargs
                kwargs["hidden_states"] = hidden
                return args, kwargs

            handle = layer.register_forward_pre_hook(patch, with_kwargs=True)
            logits = model(corrupted_ids).logits[0, -1]
            handle.remove()
            out.append(float(logits[mary] - logits[john]))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (2)")
    parser.add_argument("--runs", type=int, default=5, help="timed sweeps (5)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    tok = smollm2.tokenizer()
    clean_ids = torch.tensor([tok.encode(CLEAN).ids])
    corrupted_ids = torch.tensor([tok.encode(CORRUPTED).ids])
    mary, john = tok.encode(" Mary").ids, tok.encode(" John").ids
    assert len(mary) == 1 and len(john) == 1 and clean_ids.shape == corrupted_ids.shape
    model = smollm2.model("eager")

    with torch.inference_mode():
        values = sweep(model, clean_ids, corrupted_ids, mary[0], john[0])
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            sweep(model, clean_ids, corrupted_ids, mary[0], john[0])
            times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    n_layers = len(model.model.layers)
    result = {
        "bench": "smollm2_ioi_resid_sweep/torch_hook_loop",
        "threads": args.threads,
        "tokens": clean_ids.shape[1],
        "forward_passes": n_layers * clean_ids.shape[1] + 1,
        "median_s": round(median, 4),
        "min_s": round(min(times), 4),
        "max_s": round(max(times), 4),
        "runs": len(times),
        # Spot values: the final position at the last layer, and the repeated name at layer 0.
        "last_layer_final_position": round(values[-1], 4),
        "layer0_position9": round(values[9], 4),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }
    print(
        f"smollm2_ioi_resid_sweep/torch_hook_loop: median {median:.2f} s per sweep "
        f"({result['forward_passes']} forward passes, {len(times)} runs, "
        f"min {min(times):.2f} s, max {max(times):.2f} s)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
