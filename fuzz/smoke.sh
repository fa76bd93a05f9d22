#!/usr/bin/env bash
# Fuzz smoke (scripts/test.sh runs it): build the cargo-fuzz targets and run each one briefly
# from its committed seeds. Any crash (panic, sanitizer report, timeout, OOM) fails the script
# and leaves the input in fuzz/artifacts/<target>/. Long runs: see fuzz/README.md.
#
#   FUZZ_SMOKE_SECONDS  seconds per target (default 8)
#   FUZZ_SMOKE_TARGETS  space-separated subset (default: every target)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SMOKE_SECONDS:-8}
targets=${FUZZ_SMOKE_TARGETS:-"rewrite cors_url config strict"}
started=$(date +%s)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

# cargo-fuzz needs nightly flags (-Zsanitizer). Use a nightly toolchain when rustup has one;
# otherwise let the machine's stable toolchain accept them.
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  fuzz=(cargo +nightly fuzz)
else
  export RUSTC_BOOTSTRAP=1
  fuzz=(cargo fuzz)
fi

# A debug build without AddressSanitizer: a third of the release build's time, and ten times
# the executions per second of a debug build with ASan (which the long runs keep). It goes to a
# target dir of its own, so a smoke doesn't undo the release build that long runs use. The
# runs start from the committed seeds only, not from whatever a long local run left in
# fuzz/corpus/.
build=(--dev --sanitizer none --target-dir fuzz/target/smoke)
echo "building fuzz targets: ${fuzz[*]} build ${build[*]}"
"${fuzz[@]}" build "${build[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for target in $targets; do
  mkdir -p "$work/$target"
  cp fuzz/corpus/"$target"/seed-* "$work/$target"/
  echo "fuzzing $target for ${seconds}s ($(ls "$work/$target" | wc -l) seeds)"
  if ! "${fuzz[@]}" run "${build[@]}" "$target" "$work/$target" -- \
    -max_total_time="$seconds" -runs=10000000 -timeout=10 -rss_limit_mb=4096 \
    -print_final_stats=1 >"$work/$target.log" 2>&1; then
    tail -n 60 "$work/$target.log"
    echo "FAIL: fuzz target $target crashed; input saved under fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units)' "$work/$target.log" || true
done
echo "fuzz smoke passed in $(($(date +%s) - started))s"
