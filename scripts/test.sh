#!/usr/bin/env bash
# The test command (README, .ci/run): installs the system packages the tests drive (nginx,
# chromium, curl), then runs every test in the workspace with cargo-nextest (one process
# per test, so the memory-ceiling tests measure only themselves), the doc tests, and the
# short fuzz and benchmark smokes.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

apt_install() {
  # Debian's first install after an update sometimes fails in dpkg; once more is enough.
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "$@" || { sleep 2; apt-get install -y --no-install-recommends "$@"; }
}

missing=()
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v make >/dev/null 2>&1 || missing+=(make)   # jemalloc's build (tikv-jemalloc-sys)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "ERROR: the tests need ${missing[*]}; run as root or install them first." >&2
    exit 1
  fi
  apt-get update -qq
  apt_install "${missing[@]}"
fi

if ! cargo nextest --version >/dev/null 2>&1; then
  say "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

say "module imports: no cycle between the gateway's modules (scripts/module-edges.sh)"
scripts/module-edges.sh > /dev/null

say "doc tests"
cargo test --workspace --doc 2>&1 | tee "$log"
doc_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}' || true)

# Every public item of gangway-pool is documented, and no doc link is broken.
say "cargo doc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p gangway-pool -p gangway 2>&1 | tail -n 40

say "cargo nextest run --workspace"
cargo nextest run --workspace --no-fail-fast 2>&1 | tee "$log"
passed=$(grep -Eo '[0-9]+ tests run: [0-9]+ passed' "$log" | tail -1 | awk '{print $4}' || true)

# A crate outside the workspace using gangway-pool by path with the `tower` feature, as a
# user's crate would; it shares the workspace's target directory.
say "outside crate (gangway-pool as a dependency, feature tower)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}" \
  cargo test --manifest-path tests/outside/Cargo.toml 2>&1 | tee "$log"
outside_passed=$(grep -Eo 'test result: ok\. [0-9]+ passed' "$log" | awk '{s += $4} END {print s + 0}' || true)

# gangway-pool must stay publishable: the packaged crate builds on its own, and the package
# holds no tests, fixtures or benches.
say "cargo publish --dry-run -p gangway-pool"
if cargo package --list -p gangway-pool --allow-dirty | grep -Ev '^(src/|examples/|Cargo\.toml|Cargo\.toml\.orig|Cargo\.lock|README\.md|CHANGELOG\.md|LICENSE-MIT|LICENSE-APACHE|\.cargo_vcs_info\.json)'; then
  echo "ERROR: unexpected files in the gangway-pool package (listed above)" >&2
  exit 1
fi
cargo publish --dry-run -p gangway-pool --allow-dirty

if [ -x fuzz/smoke.sh ]; then
  say "fuzz smoke"
  fuzz/smoke.sh
fi

if [ -x benches/smoke.sh ]; then
  say "bench smoke"
  benches/smoke.sh
fi

# One plain closing line for whoever reads the end of the log (the suites above already
# failed the script on any failure, through `set -o pipefail`).
echo
echo "summary: $((${passed:-0} + ${doc_passed:-0} + ${outside_passed:-0})) passed, 0 failed"
