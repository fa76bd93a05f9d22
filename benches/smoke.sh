#!/usr/bin/env bash
# Benchmark smoke for CI (scripts/test.sh): builds gangway and gwbench in the dev profile
# (the release build alone takes minutes) and runs every section of benches/run.sh for about
# a second each with small counts, checking that each section printed its table. Numbers
# from it mean nothing; it only proves the benchmarks still run. About 40 s after the build.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/gangway-bench-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
start=$(date +%s)
QUICK_IDLE_CONNS=200 STREAM_SIZE=16M benches/run.sh --quick --dev --out "$out" > "$out/report.md"
for section in "Proxy throughput" "The pool as a client library" "Streaming one large body" \
               "Idle keep-alive client connections" "Connection churn" "Targets"; do
  if ! grep -q "### $section" "$out/report.md"; then
    echo "bench smoke: section \"$section\" missing from the report" >&2
    cat "$out/report.md" >&2
    exit 1
  fi
done
for f in results.jsonl results.md chart.svg; do
  [ -s "$out/$f" ] || { echo "bench smoke: $f not written" >&2; exit 1; }
done
# Every measured point produced a number (a crashed proxy shows up as 0 req/s).
if grep -E '^\| [a-z0-9]+ \| [0-9]+ \| \**[a-z-]+\** \| 0 \|' "$out/report.md"; then
  echo "bench smoke: a system served nothing" >&2
  exit 1
fi
echo "bench smoke: ok ($(( $(date +%s) - start )) s, report in the log above)"
cat "$out/report.md"
