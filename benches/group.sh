#!/usr/bin/env bash
# What an upstream group costs: CPU time of the gateway process per request for a route to a
# 3-server group (`least_requests`, passive health on: the defaults) against a route to one
# server, with the same nginx behind both, side by side in one run (issue #11: "a 3-server
# group costs ≤ 0.5 µs CPU per request more than a single-server route at h1 c=64").
#
#   benches/group.sh                 2 runs of 10 s per route, alternating (≈ 1 min after the build)
#   DURATION=5 RUNS=1 benches/group.sh
#
# CPU per request = (utime + stime of the gangway process, from /proc/PID/stat, over the
# run) / requests wrk completed. That is the gateway's own work only: wrk and nginx are other
# processes. THREADS (default 1) = gangway's [runtime] workers, so the figure does not depend
# on how the scheduler spreads a few threads over 2 shared cores. Prints one table.
# Installs wrk and nginx-light from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-10}
RUNS=${RUNS:-2}
THREADS=${THREADS:-1}
CONC=${CONC:-64}
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
# GANGWAY_BIN=path skips the build (e.g. a binary built elsewhere).
if [ -z "${GANGWAY_BIN:-}" ]; then cargo build --release -p gangway >&2; fi
BIN=${GANGWAY_BIN:-"${CARGO_TARGET_DIR:-$ROOT/target}/release/gangway"}
WORK=$(mktemp -d /tmp/gangway-group.XXXXXX)
BASE=${BASE_PORT:-29180}
UP1=$BASE; UP2=$((BASE + 1)); UP3=$((BASE + 2)); GW=$((BASE + 3))
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/b; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f; uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$UP1; listen 127.0.0.1:$UP2; listen 127.0.0.1:$UP3;
    location / { return 200 "hello from the upstream\n"; }
  }
}
CONF
/usr/sbin/nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" & PIDS+=($!)
cat > "$WORK/gangway.toml" <<CONF
[[listener]]
address = "127.0.0.1:$GW"
[[upstream]]
name = "three"
servers = ["http://127.0.0.1:$UP1", "http://127.0.0.1:$UP2", "http://127.0.0.1:$UP3"]
[[route]]
prefix = "/group"
upstream = "three"
[[route]]
prefix = "/single"
upstream = "http://127.0.0.1:$UP1"
[log]
level = "warn"
access_log = false
[runtime]
workers = $THREADS
CONF
"$BIN" --config "$WORK/gangway.toml" >"$WORK/gangway.log" 2>&1 &
GPID=$!; PIDS+=($GPID)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$GW") 2>/dev/null && break; sleep 0.1; done
TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$GPID/stat"; }
user_ticks() { awk '{ print $14 }' "/proc/$GPID/stat"; }
declare -A REQS CPU
for route in single group; do REQS[$route]=0; CPU[$route]=0; done
# Warm-up: connections to every server exist before anything is measured.
for route in single group; do wrk -t 2 -c "$CONC" -d 1s "http://127.0.0.1:$GW/$route" >/dev/null; done
for run in $(seq 1 "$RUNS"); do
  # Alternating which route runs first, so neither always gets the quieter half of a round.
  order="single group"; [ $((run % 2)) = 0 ] && order="group single"
  for route in $order; do
    before=$(cpu_ticks); ubefore=$(user_ticks)
    out=$(wrk -t 2 -c "$CONC" -d "${DURATION}s" "http://127.0.0.1:$GW/$route")
    after=$(cpu_ticks); uafter=$(user_ticks)
    n=$(awk '/requests in/ { print $1 }' <<<"$out")
    bad=$(awk '/Non-2xx/ { print $NF }' <<<"$out")
    if [ -n "$bad" ]; then echo "run $run $route: $bad non-2xx responses" >&2; fi
    REQS[$route]=$((REQS[$route] + n))
    CPU[$route]=$((CPU[$route] + after - before))
    echo "run $run $route: $n requests, $((after - before)) ticks" >&2
    echo "$run $route $n $((after - before)) $((uafter - ubefore))" >> "$WORK/raw"
  done
done
printf '\n%-8s %12s %10s %14s\n' route requests cpu_s "cpu_us/request"
for route in single group; do
  awk -v r="$route" -v n="${REQS[$route]}" -v t="${CPU[$route]}" -v hz="$TICK" \
    'BEGIN { printf "%-8s %12d %10.2f %14.2f\n", r, n, t / hz, (t / hz) * 1e6 / n }'
done
awk -v ns="${REQS[single]}" -v ts="${CPU[single]}" -v ng="${REQS[group]}" -v tg="${CPU[group]}" -v hz="$TICK" \
  'BEGIN { printf "group - single: %+.2f us CPU per request (h1, c='"$CONC"', '"$THREADS"' worker)\n", ((tg / hz) * 1e6 / ng) - ((ts / hz) * 1e6 / ns) }'
# Each run's two routes ran back to back, so their difference cancels most of what the
# machine was doing at the time: the median of those paired differences is the steadier
# figure on a shared machine (the pooled one above weighs a busy run as much as a quiet one).
python3 - "$WORK/raw" "$TICK" <<'PY'
import sys, statistics
runs, users = {}, {}
totals = {}
for line in open(sys.argv[1]):
    run, route, n, ticks, uticks = line.split()
    hz, n = int(sys.argv[2]), max(int(n), 1)
    runs.setdefault(run, {})[route] = int(ticks) / hz * 1e6 / n
    users.setdefault(run, {})[route] = int(uticks) / hz * 1e6 / n
    t = totals.setdefault(route, [0, 0])
    t[0] += n; t[1] += int(uticks) / hz
for name, table in (("CPU (user+sys)", runs), ("user CPU only", users)):
    diffs = sorted(r["group"] - r["single"] for r in table.values() if len(r) == 2)
    if diffs:
        print(f"group - single, {name}, median of {len(diffs)} paired runs: "
              f"{statistics.median(diffs):+.2f} us (runs: {', '.join(f'{d:+.2f}' for d in diffs)})")
# A group adds no system call per request (the same connections, spread over three
# ports), so its price is user time; the kernel's share, which moves most with the
# machine's load, is left out here.
if len(totals) == 2:
    u = {r: t[1] * 1e6 / t[0] for r, t in totals.items()}
    print(f"group - single, user CPU only, pooled: {u['group'] - u['single']:+.2f} us "
          f"(single {u['single']:.2f}, group {u['group']:.2f} us/request)")
PY
