"""Where the PyTorch peers find SmolLM2-135M-Instruct (the GGUF file `cavern models fetch
smollm2-135m` stores) and its tokenizer, rebuilt from the GGUF exactly as cavern's tests build it
(`workspace/model/tests/fixtures/bpe/make_ids.py`), so both sides run the same ids."""

import importlib.util
import os
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM

ROOT = Path(__file__).resolve().parent.parent
MODEL_DIR = Path(os.environ.get("CAVERN_HOME", Path.home() / ".cache" / "cavern")) / (
    "models/smollm2-135m"
)
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def tokenizer():
    """SmolLM2's tokenizer, from the GGUF's vocabulary and merges."""
    path = ROOT / "workspace/model/tests/fixtures/bpe/make_ids.py"
    spec = importlib.util.spec_from_file_location("make_ids", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.smollm2_tokenizer(MODEL_DIR / GGUF)


def model(attn: str):
    """The model dequantised to float32 by transformers, in eval mode, with `attn` attention."""
    loaded = AutoModelForCausalLM.from_pretrained(
        str(MODEL_DIR), gguf_file=GGUF, dtype=torch.float32, attn_implementation=attn
    )
    return loaded.eval()
