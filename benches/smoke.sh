#!/usr/bin/env bash
# Benchmark smoke for CI (scripts/test.sh): builds gangway and gwbench in the dev profile
# (the release build alone takes minutes) and runs every section of benches/run.sh for about
# a second each with small counts, checking that each section printed its table. Numbers
# from it mean nothing; it only proves the benchmarks still run. The run itself takes under
# a minute (49 s on the 2-core CI machine); the dev build of gwbench's comparison clients
# (hyper-util, reqwest) comes first and is timed separately (≈ 90 s from a cold cache).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d /tmp/gangway-bench-smoke.XXXXXX)
trap 'rm -rf "$out"' EXIT
built=$(date +%s)
# As run.sh --dev builds: the whole workspace selected, so the test run's dependencies serve.
cargo build --workspace --bins --benches >&2
start=$(date +%s)
echo "bench smoke: built in $(( start - built )) s"
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
echo "bench smoke: ok (ran in $(( $(date +%s) - start )) s after the build, report below)"
cat "$out/report.md"
