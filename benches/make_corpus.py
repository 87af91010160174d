#!/usr/bin/env python3
"""Writes `benches/corpus.txt`, the 2048 real English sentences of mixed length that the corpus
benchmarks (`benches/benches/corpus.rs`, `benches/torch_extract.py --corpus`) extract.

    python3 benches/make_corpus.py [--model DIR]

Source: every hand-written sentence of `concepts/minilm/*.txt` (reviews, opinions, praise,
negations, food, weather and the 600-line everyday random pool; `#` lines skipped, duplicates
dropped, files in name order), then, to reach 2048 and to cover long inputs, runs of them
joined by spaces: for i = 0, 1, ..., sentences i, (7 i + 3) mod n and, for odd i, also
(13 i + 5) mod n, kept when new. Only texts of 5 to 60 MiniLM tokens ([CLS] and [SEP] included)
are kept, and the corpus is written in the order of the texts' SHA-256 (lengths mixed
throughout, as in a real file). Deterministic: the same files give the same corpus. Needs
`transformers` and the MiniLM folder (`cavern models fetch minilm-l6`) for its tokenizer.
"""

import argparse
import hashlib
import os
from pathlib import Path

from transformers import BertTokenizerFast

ROOT = Path(__file__).resolve().parent.parent
SIZE = 2048
SHORTEST, LONGEST = 5, 60
DEFAULT_MODEL = Path(os.environ.get("CAVERN_HOME", Path.home() / ".cache" / "cavern")) / (
    "models/minilm-l6"
)


def sentences():
    """The concept files' sentences, in file-name then line order, without duplicates."""
    seen, out = set(), []
    for path in sorted((ROOT / "concepts/minilm").glob("*.txt")):
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and line not in seen:
                seen.add(line)
                out.append(line)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="MiniLM folder")
    args = parser.parse_args()
    tokenizer = BertTokenizerFast(tokenizer_file=str(args.model / "tokenizer.json"))

    def fits(text):
        return SHORTEST <= len(tokenizer(text)["input_ids"]) <= LONGEST

    single = [s for s in sentences() if fits(s)]
    corpus, seen = list(single), set(single)
    n = len(single)
    i = 0
    while len(corpus) < SIZE and i < n * n:
        parts = [single[i % n], single[(7 * i + 3) % n]]
        if i % 2 == 1:
            parts.append(single[(13 * i + 5) % n])
        joined = " ".join(parts)
        if joined not in seen and fits(joined):
            seen.add(joined)
            corpus.append(joined)
        i += 1
    corpus = sorted(corpus[:SIZE], key=lambda t: hashlib.sha256(t.encode()).hexdigest())
    assert len(corpus) == SIZE, f"only {len(corpus)} texts"
    lengths = [len(tokenizer(t)["input_ids"]) for t in corpus]
    header = (
        f"# {SIZE} English sentences of {min(lengths)} to {max(lengths)} MiniLM tokens "
        f"(mean {sum(lengths) / len(lengths):.1f}) for the corpus benchmarks;\n"
        "# written by benches/make_corpus.py from concepts/minilm/*.txt "
        f"({len(single)} sentences, then runs of two or three of them)\n"
    )
    (ROOT / "benches/corpus.txt").write_text(header + "\n".join(corpus) + "\n", encoding="utf-8")
    print(f"wrote benches/corpus.txt: {SIZE} texts, {min(lengths)}-{max(lengths)} tokens")


if __name__ == "__main__":
    main()
