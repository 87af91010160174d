#!/usr/bin/env bash
# Render a run folder's report.html in Debian's headless Chromium, save a screenshot, and fail
# when the page logs anything to the console or throws an uncaught exception, or when the report
# contains a script at all (the README promises "no scripts, no network").
#
#   .ci/browser-check.sh RUN_DIR OUT_PNG
#
# Needs /usr/bin/chromium (Debian's `chromium` package). Chromium 156 prints every console
# message as `INFO:CONSOLE:LINE] "TEXT", source: URL (LINE)` whatever its level, so
# console.log, console.warn and console.error cannot be told apart from the log: since the
# report has no scripts, ANY console line fails the check (an uncaught exception prints as
# `"Uncaught ...`). Exit codes: 0 pass, 1 check failed, 2 usage or setup error.
# The screenshot is the top 1280x4000 CSS pixels of the page; BROWSER_CHECK_WINDOW=W,H changes
# that (a headless Chromium screenshot is of the window, not of the whole page). CHROMIUM names
# another browser binary.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 RUN_DIR OUT_PNG" >&2
    exit 2
fi
run_dir=$1
out_png=$2
report="$run_dir/report.html"
chromium=${CHROMIUM:-/usr/bin/chromium}
window=${BROWSER_CHECK_WINDOW:-1280,4000}

if [[ ! -f "$report" ]]; then
    echo "browser-check: no report at $report" >&2
    exit 2
fi
if [[ ! -x "$chromium" ]]; then
    echo "browser-check: $chromium not found (apt-get install -y chromium)" >&2
    exit 2
fi

fail=0

# 1. A script-free report: no <script tag in any letter case.
if grep -qi '<script' "$report"; then
    echo "browser-check: FAIL: $report contains '<script':" >&2
    grep -ni '<script' "$report" | head -5 >&2
    fail=1
fi

# 2. Render it. Chromium's exit status says nothing about the page, so read its log instead.
profile=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$profile" "$log"' EXIT
mkdir -p "$(dirname "$out_png")"
rm -f "$out_png"
abs_report=$(realpath "$report")
abs_png=$(realpath -m "$out_png")

set +e
timeout 120 "$chromium" \
    --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$profile" \
    --enable-logging=stderr --v=0 \
    --screenshot="$abs_png" --window-size="$window" \
    "$abs_report" </dev/null >"$log" 2>&1
status=$?
set -e

if [[ $status -ne 0 ]]; then
    echo "browser-check: FAIL: chromium exited with status $status; its log:" >&2
    cat "$log" >&2
    exit 1
fi
if [[ ! -s "$abs_png" ]]; then
    echo "browser-check: FAIL: chromium wrote no screenshot to $abs_png; its log:" >&2
    cat "$log" >&2
    exit 1
fi

# Console lines look like `[pid:tid:date/time:INFO:CONSOLE:1] "msg", source: file:///... (1)`
# (older Chromium: `INFO:CONSOLE(1)]`).
console=$(grep -E ':CONSOLE[:(]' "$log" || true)
if [[ -n "$console" ]]; then
    uncaught=$(grep -E '\] "Uncaught ' <<<"$console" || true)
    if [[ -n "$uncaught" ]]; then
        echo "browser-check: FAIL: uncaught exception(s) on the page:" >&2
        echo "$uncaught" >&2
    fi
    others=$(grep -vE '\] "Uncaught ' <<<"$console" || true)
    if [[ -n "$others" ]]; then
        echo "browser-check: FAIL: console message(s) on the page (the report must log nothing):" >&2
        echo "$others" >&2
    fi
    fail=1
fi

if [[ $fail -ne 0 ]]; then
    echo "browser-check: FAIL: $report (screenshot: $abs_png)" >&2
    exit 1
fi
echo "browser-check: ok: $report rendered with no console output; screenshot: $abs_png"
