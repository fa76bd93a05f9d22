#!/usr/bin/env bash
# Instructions per proxied request, measured with callgrind: deterministic, so a change of a
# few percent shows even on a busy machine (wall-clock req/s on 2 shared cores varies ±15%).
#
#   benches/profile.sh [REQUESTS]     default 20 000 (≈ 1 min under valgrind)
#   ACCESS_LOG=true benches/profile.sh   the same with the default access log (text, stdout)
#   GANGWAY_BIN=path benches/profile.sh  profile that binary instead of building one
#   TRACE_RATIO=0.01 benches/profile.sh  with [tracing] on at that sample_ratio (exports go
#                                        to a closed loopback port and fail, off the workers)
#   GROUP=1 benches/profile.sh      the route goes to a 3-server upstream group (the same
#                                   nginx on 3 ports) instead of one server
#   LOAD=h2c benches/profile.sh     the load over h2c (prior knowledge), 4 connections × 8
#                                   streams, instead of HTTP/1.1 over 8 connections
#                                   (gangway and hyper-util; the floor speaks HTTP/1.1 only)
#   PROXY=floor benches/profile.sh  profile another proxy under the same load instead:
#     floor       hyper's HTTP/1 server and client connections and nothing else, one
#                 current-thread runtime (gwbench floor-proxy): what hyper costs anywhere
#     floor-pool  the same with gangway-pool's Client as the upstream side
#     hyper-util  the comparison proxy of benches/run.sh (TOKIO_WORKER_THREADS=1)
#
# One nginx upstream, gangway with one worker under `valgrind --tool=callgrind
# --instr-atstart=no`, 2 000 warm-up requests, then instrumentation on for REQUESTS
# requests from `h2load --h1 -c 8`, off, dump. Prints Ir/request and the dump file, which
# `callgrind_annotate --inclusive=yes FILE` breaks down by function.
# Installs valgrind, nginx-light and nghttp2-client from Debian when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
N=${1:-20000}
missing=()
command -v valgrind >/dev/null || missing+=(valgrind)
command -v h2load >/dev/null || missing+=(nghttp2-client)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
PROXY=${PROXY:-gangway}
case "$PROXY" in
  gangway)
    if [ -z "${GANGWAY_BIN:-}" ]; then
      cargo build --release -p gangway >&2
      GANGWAY_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/gangway"
    fi ;;
  floor|floor-pool|hyper-util)
    PY=$(command -v python3)
    GWB=${GWBENCH_BIN:-$(cargo bench -p gangway-benches --no-run --message-format=json 2>/dev/null \
          | "$PY" "$ROOT/benches/report.py" executable gwbench)}
    [ -x "$GWB" ] || { echo "ERROR: gwbench executable not found" >&2; exit 1; } ;;
  *) echo "PROXY: gangway, floor, floor-pool or hyper-util, not '$PROXY'" >&2; exit 2 ;;
esac
WORK=$(mktemp -d /tmp/gangway-profile.XXXXXX)
PORT_UP=${BASE_PORT:-29080}; PORT_GW=$((PORT_UP + 1))
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/b; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f; uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$PORT_UP; listen 127.0.0.1:$((PORT_UP + 2)); listen 127.0.0.1:$((PORT_UP + 3));
    location / { return 200 "hello from the upstream\n"; }
  }
}
CONF
/usr/sbin/nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/error.log" & PIDS+=($!)
if [ "${GROUP:-0}" = 1 ]; then
  ROUTE_UPSTREAM='"three"'
  GROUP_TABLE="[[upstream]]
name = \"three\"
servers = [\"http://127.0.0.1:$PORT_UP\", \"http://127.0.0.1:$((PORT_UP + 2))\", \"http://127.0.0.1:$((PORT_UP + 3))\"]"
else
  ROUTE_UPSTREAM="\"http://127.0.0.1:$PORT_UP\""
  GROUP_TABLE=""
fi
cat > "$WORK/gangway.toml" <<CONF
[[listener]]
address = "127.0.0.1:$PORT_GW"
$GROUP_TABLE
[[route]]
prefix = "/"
upstream = $ROUTE_UPSTREAM
[log]
level = "warn"
access_log = ${ACCESS_LOG:-false}
[runtime]
workers = 1
CONF
if [ -n "${TRACE_RATIO:-}" ]; then
  printf '[tracing]\notlp_endpoint = "http://127.0.0.1:9"\nsample_ratio = %s\n' "$TRACE_RATIO" >> "$WORK/gangway.toml"
fi
case "$PROXY" in
  gangway) CMD=("$GANGWAY_BIN" --config "$WORK/gangway.toml") ;;
  floor) CMD=("$GWB" floor-proxy --listen "127.0.0.1:$PORT_GW" --upstream "http://127.0.0.1:$PORT_UP") ;;
  floor-pool) CMD=("$GWB" floor-proxy --mode pool --listen "127.0.0.1:$PORT_GW" --upstream "http://127.0.0.1:$PORT_UP") ;;
  hyper-util) export TOKIO_WORKER_THREADS=1; CMD=("$GWB" hyperutil-proxy --listen "127.0.0.1:$PORT_GW" --upstream "http://127.0.0.1:$PORT_UP") ;;
esac
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$WORK/callgrind.out.%p" \
  "${CMD[@]}" >"$WORK/gangway.log" 2>&1 &
VG=$!; PIDS+=($VG)
for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT_GW") 2>/dev/null && break; sleep 0.2; done
case "${LOAD:-h1}" in
  h1) H2LOAD=(h2load --h1 -c 8) ;;
  h2c) H2LOAD=(h2load -c 4 -m 8) ;;
  *) echo "LOAD: h1 or h2c, not '$LOAD'" >&2; exit 2 ;;
esac
"${H2LOAD[@]}" -n 2000 "http://127.0.0.1:$PORT_GW/" >/dev/null
callgrind_control -i on "$VG" >/dev/null
"${H2LOAD[@]}" -n "$N" "http://127.0.0.1:$PORT_GW/" | grep -E '^requests:' >&2
callgrind_control -i off "$VG" >/dev/null
callgrind_control -d "$VG" >/dev/null
sleep 1
kill "$VG" 2>/dev/null || true; wait "$VG" 2>/dev/null || true
F=$(ls -S "$WORK"/callgrind.out.* | head -1)
OUT=${OUT:-$ROOT/target/callgrind.out}
cp "$F" "$OUT"
TOTAL=$(callgrind_annotate "$OUT" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
echo "$PROXY: $((TOTAL / N)) instructions per proxied request ($N requests; profile: $OUT)"
