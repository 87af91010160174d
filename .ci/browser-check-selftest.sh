#!/usr/bin/env bash
# Proves that .ci/browser-check.sh can fail: runs it on scratch pages that log a console error,
# throw an uncaught exception (from a <script> and from an inline handler, which the `<script`
# grep cannot see) or hold a script, and on a clean page that must pass. If a Chromium update
# changed how console lines are printed, the check would pass everything; this catches that.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

page() { # NAME HTML
    mkdir -p "$scratch/$1"
    printf '<!DOCTYPE html><html><head><meta charset="utf-8"><title>%s</title></head><body><p>%s</p>%s</body></html>\n' \
        "$1" "$1" "$2" >"$scratch/$1/report.html"
}
page clean ''
page console-error '<script>console.error("x")</script>'
page exception '<script>throw new Error("boom")</script>'
page handler-error '<img src="missing.png" onerror="console.error(&quot;from a handler&quot;)">'
page handler-exception '<svg width="8" height="8" onload="throw new Error(&quot;svg boom&quot;)"></svg>'
page script-only '<SCRIPT>void 0</SCRIPT>'

failures=0
expect() { # NAME WANT(pass|fail) STDERR-PATTERN
    local name=$1 want=$2 pattern=${3:-} got err
    if err=$(bash "$here/browser-check.sh" "$scratch/$name" "$scratch/$name.png" 2>&1 >/dev/null); then
        got=pass
    else
        got=fail
    fi
    if [[ $got != "$want" ]]; then
        echo "browser-check self-test: $name: expected $want, got $got" >&2
        echo "$err" >&2
        failures=$((failures + 1))
    elif [[ -n $pattern ]] && ! grep -q "$pattern" <<<"$err"; then
        echo "browser-check self-test: $name: failed, but without '$pattern' in its message:" >&2
        echo "$err" >&2
        failures=$((failures + 1))
    else
        echo "browser-check self-test: $name: $got, as expected"
    fi
}
expect clean pass
expect console-error fail 'console message'
expect exception fail 'uncaught exception'
expect handler-error fail 'console message'
expect handler-exception fail 'uncaught exception'
expect script-only fail "contains '<script'"

if [[ $failures -ne 0 ]]; then
    echo "browser-check self-test: $failures case(s) wrong" >&2
    exit 1
fi
