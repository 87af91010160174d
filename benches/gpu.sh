#!/usr/bin/env bash
# The GPU check and benchmark, for a machine with a GPU (or Mesa's lavapipe): builds cavern with
# `--features gpu`, prints the adapter, runs the GPU tests and the PyTorch parity tests on the
# GPU, then times MiniLM extraction of the 2048-sentence corpus and the SmolLM2 IOI sweep on the
# GPU and on the CPU, side by side. Run from the repository root: `bash benches/gpu.sh`.
# Needs the models: `cargo run --release --features gpu -- models fetch minilm-l6 smollm2-135m`.
set -euo pipefail
declare -A extract ioi
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never

cargo build --release --features gpu
cavern=target/release/cavern
echo "== devices"
"$cavern" devices

echo "== the GPU tests (the toy experiments on the GPU against the CPU)"
CAVERN_REQUIRE_GPU=1 cargo test --release --workspace --features gpu --test gpu
echo "== the parity tests against PyTorch, on the GPU"
CAVERN_TEST_DEVICE=gpu cargo test --release --workspace --features gpu \
    --test families --test real_parity --test llama_parity --test bert --test generate

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cavern-gpu.XXXXXX")
millis() {  # millis COMMAND...: runs it quietly and prints its wall-clock milliseconds
    local start=$(date +%s%N)
    "$@" >/dev/null
    echo $(( ($(date +%s%N) - start) / 1000000 ))
}

echo "== timings, wall clock in seconds, loading the model included"
printf '%-48s %9s %9s\n' work gpu cpu
for device in gpu cpu; do
    extract[$device]=$(millis "$cavern" extract --model minilm-l6 --input benches/corpus.txt \
        --pooling mean --batch-size 32 --device "$device" --out "$tmp/corpus-$device.safetensors")
    ioi[$device]=$(millis "$cavern" run experiments/smollm2_ioi.toml --quiet --device "$device" \
        --out "$tmp/smollm2_ioi-$device")
done
seconds() { awk -v ms="$1" 'BEGIN { printf "%9.1f", ms / 1000 }'; }
echo "$(printf '%-48s' 'MiniLM extract, 2048 sentences, batch 32')$(seconds "${extract[gpu]}")$(seconds "${extract[cpu]}")"
echo "$(printf '%-48s' 'SmolLM2 IOI sweep (experiments/smollm2_ioi.toml)')$(seconds "${ioi[gpu]}")$(seconds "${ioi[cpu]}")"
echo "outputs and run folders: $tmp"
