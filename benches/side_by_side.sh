#!/usr/bin/env bash
# Issue #13's side-by-side run: each CPU bench and its PyTorch peer, one after the other, for
# ROUNDS rounds, 2 threads each. Run it on an otherwise idle machine (this 2-core VM's speed
# drifts by up to 1.5x between minutes, so only figures from the same round compare).
#
#   benches/side_by_side.sh [ROUNDS] [PART...]      # PARTs: extract corpus decoder (default all)
#
# PYTHON names the interpreter with torch, transformers, accelerate and gguf (default python3).
# PyTorch runs twice per part: with cavern's allocator setting (glibc keeps freed memory, as
# `cavern_model::memory::retain_freed_memory` does) and as installed.
# The AVX2 fallback, like with like:
#   CAVERN_BENCH_FEATURES=--no-default-features ATEN_CPU_CAPABILITY=avx2 benches/side_by_side.sh 2 extract
set -euo pipefail
cd "$(dirname "$0")"
rounds=${1:-2}
shift || true
if (($# > 0)); then parts=("$@"); else parts=(extract corpus decoder); fi
python=${PYTHON:-python3}
features=${CAVERN_BENCH_FEATURES:-}
same_allocator=(env MALLOC_MMAP_THRESHOLD_=2147483647 MALLOC_TRIM_THRESHOLD_=2147483647
    MALLOC_TOP_PAD_=268435456)
export RAYON_NUM_THREADS=2

# shellcheck disable=SC2086  # $features is empty or one flag
cargo bench $features --no-run --quiet

cavern() {
    # shellcheck disable=SC2086
    cargo bench $features --quiet --bench "$1" 2>&1 | grep -E "^[a-z_0-9/]+ |time:|thrpt:" || true
}

peer() {
    local script=$1
    shift
    echo "PyTorch, cavern's allocator setting:"
    "${same_allocator[@]}" "$python" "$script" --threads 2 "$@" | grep -v '^{'
    echo "PyTorch as installed:"
    "$python" "$script" --threads 2 "$@" | grep -v '^{'
}

for round in $(seq "$rounds"); do
    echo "=== round $round, $(date -u +%H:%M:%S), load: $(cut -d' ' -f1-3 /proc/loadavg)"
    for part in "${parts[@]}"; do
        case $part in
        extract) cavern extract && peer torch_extract.py ;;
        corpus) cavern corpus && peer torch_extract.py --corpus ;;
        decoder) cavern decoder && peer torch_decoder.py ;;
        *) echo "unknown part $part (extract, corpus, decoder)" >&2 && exit 2 ;;
        esac
    done
done
