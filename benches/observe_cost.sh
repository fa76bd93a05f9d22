#!/usr/bin/env bash
# What observability costs, in CPU time per proxied request, side by side in one run:
#
#   off      no access log, no tracing
#   log      the default access log ([log] access_log = true, text, to stdout = /dev/null)
#   trace    no access log; [tracing] otlp_endpoint set, sample_ratio 0.01, to a loopback
#            OTLP sink that reads and discards (every request carries trace context; 1 %
#            of them are exported)
#   group    no access log; the route goes to a 3-server upstream group (the defaults:
#            least_requests, passive health) of the same nginx on 3 ports, not one server
#            (issue #11's price of a group: CONFIGS="off group")
#
#   benches/observe_cost.sh                 ≈ 2 min: 3 configurations × 2 runs × 15 s
#   DURATION=5 RUNS=1 benches/observe_cost.sh   a quick look
#   GANGWAY_BIN=path benches/observe_cost.sh    measure that binary (no build)
#   RATE=12000 benches/observe_cost.sh      open loop: h2load offers that many requests/s in
#                                           total instead of wrk's closed loop (see below)
#   REQUESTS=150000 benches/observe_cost.sh closed loop, h2load sends that many requests per
#                                           run (a count, not a duration: the same work each)
#   CONFIGS="off log" benches/observe_cost.sh   only these configurations
#   THREADS=1 CONNS=8 RUNS=10 REQUESTS=150000 CONFIGS="off log" benches/observe_cost.sh
#                                           the one-worker pairs of BENCHMARKS.md (≈ 4 min)
#   TOGETHER=1 CONFIGS="off log" benches/observe_cost.sh
#                                           the configurations run at the same time, each
#                                           its own gangway and its own wrk (see below)
#   PIN=1 …                                 gangway on CPU 0, nginx and the load on CPU 1
#                                           (taskset): the steadiest figures on this host
#   CONFIGS="off trace:0.1 trace:1"        tracing at another sample_ratio (trace = 0.01)
#   PER_THREAD=1 TOGETHER=1 …               also print each round's CPU per request by thread
#                                           (/proc/PID/task/*/schedstat, nanoseconds): the
#                                           worker, the access log's writer, the exporter's
#   H2C=1 …                                 the load over h2c (prior knowledge) instead:
#                                           h2load, CONNS/4 connections × 4 streams
#   CONFIGS="log=/tmp/gw-old log=/tmp/gw-new" …   a configuration may name its own binary
#                                           (KIND=PATH, no spaces): two builds compared in
#                                           the same configuration. Differences are always
#                                           against the first configuration listed.
#
# Load: wrk, HTTP/1.1, 64 connections, against one nginx upstream answering a short body.
# wrk is a closed loop: each configuration runs as fast as it can, and on this shared 2-core
# host CPU per request moves with the throughput a run happens to reach (fewer requests per
# wake-up at a lower rate), so a configuration that is a little slower also looks dearer
# per request. With RATE, h2load offers the same fixed rate (below saturation) to every
# configuration over the same 64 connections: each does the same work per second, and the
# difference in CPU per request is the configuration's own.
# CPU: user + system time of the gateway process from /proc/PID/stat (utime + stime) over
# the measured window, divided by the requests wrk completed in it. Each configuration is a
# fresh gangway process (THREADS workers, default nproc), run one after the other and
# interleaved across runs, so a busy moment of the machine does not favour one of them.
# TOGETHER=1: one after the other, two runs of the same configuration on this VM differ by
# more (±2–10 µs per request: other guests, frequency, where the scheduler puts threads)
# than the log costs. Run at the same time, every configuration meets the same moment of
# the machine, so what the moment adds cancels in the difference. Each round starts every
# configuration's gangway on its own port and loads them all at once (wrk, or h2load with
# RATE or REQUESTS); the ports and the start order rotate between rounds, so neither a port
# nor being started first favours a configuration.
# Not a test: run it on a quiet machine. Prints one table (markdown), also written to
# $OUT (default target/observe_cost.md).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
DURATION=${DURATION:-15}
RUNS=${RUNS:-2}
THREADS=${THREADS:-$(nproc)}
CONNS=${CONNS:-64}
BASE=${BASE_PORT:-29480}
OUT=${OUT:-$ROOT/target/observe_cost.md}
if [ "${PIN:-0}" = 1 ]; then GW_CPU=(taskset -c 0); LOAD_CPU=(taskset -c 1); else GW_CPU=(); LOAD_CPU=(); fi

missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -z "${RATE:-}${REQUESTS:-}${H2C:-}" ] || command -v h2load >/dev/null || missing+=(nghttp2-client)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
if [ -z "${GANGWAY_BIN:-}" ]; then
  cargo build --release -p gangway >&2
  GANGWAY_BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/gangway"
fi

WORK=$(mktemp -d /tmp/gangway-observe.XXXXXX)
PORT_UP=$BASE; PORT_OTLP=$((BASE + 1)); PORT_GW=$((BASE + 2))
PORT_UP2=$((BASE + 3)); PORT_UP3=$((BASE + 4))   # the group's other two servers
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/b; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f; uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$PORT_UP; listen 127.0.0.1:$PORT_UP2; listen 127.0.0.1:$PORT_UP3;
    location / { return 200 "hello from the upstream\n"; }
  }
}
CONF
"${LOAD_CPU[@]}" /usr/sbin/nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" & PIDS+=($!)

# The OTLP sink: answers every POST 200 after reading its body, keeps nothing.
cat > "$WORK/otlp_sink.py" <<'PY'
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a gangway killed at the end of a round resets its connection: not news
Server(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
PY
"${LOAD_CPU[@]}" python3 "$WORK/otlp_sink.py" "$PORT_OTLP" & PIDS+=($!)

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }
wait_port "$PORT_UP"; wait_port "$PORT_OTLP"

config() { # name → gangway.toml on stdout
  local upstream="http://127.0.0.1:$PORT_UP"
  if [ "$1" = group ]; then
    upstream=three
    printf '[[upstream]]\nname = "three"\nservers = ["http://127.0.0.1:%s", "http://127.0.0.1:%s", "http://127.0.0.1:%s"]\n' \
      "$PORT_UP" "$PORT_UP2" "$PORT_UP3"
  fi
  cat <<CONF
[[listener]]
address = "127.0.0.1:$PORT_GW"
[[route]]
prefix = "/"
upstream = "$upstream"
[runtime]
workers = $THREADS
[log]
level = "warn"
CONF
  case "$1" in
    off|group) echo "access_log = false" ;;
    log) echo "access_log = true" ;;
    trace) printf 'access_log = false\n[tracing]\notlp_endpoint = "http://127.0.0.1:%s"\nsample_ratio = 0.01\n' "$PORT_OTLP" ;;
    trace:*) printf 'access_log = false\n[tracing]\notlp_endpoint = "http://127.0.0.1:%s"\nsample_ratio = %s\n' "$PORT_OTLP" "${1#trace:}" ;;
  esac
}

# Nanoseconds each thread of PID has run, one "name ns" line per thread.
thread_ns() { for t in /proc/"$1"/task/*; do echo "$(tr ' ' _ < "$t/comm") $(cut -d' ' -f1 "$t/schedstat")"; done 2>/dev/null; }

# A configuration is KIND (off, log, trace, trace:RATIO) or KIND=PATH (that binary instead
# of GANGWAY_BIN).
kind_of() { echo "${1%%=*}"; }
bin_of() { case "$1" in *=*) echo "${1#*=}" ;; *) echo "$GANGWAY_BIN" ;; esac; }
file_of() { echo "$WORK/$(echo "$1" | tr -c 'A-Za-z0-9\n' '_')"; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK)

measure() { # name run → appends "name run requests seconds cpu_seconds" to $WORK/raw
  local name=$1 run=$2
  local f; f=$(file_of "$name")
  config "$(kind_of "$name")" > "$f.toml"
  "${GW_CPU[@]}" "$(bin_of "$name")" --config "$f.toml" >/dev/null 2>"$f.err" &
  local gw=$!
  wait_port "$PORT_GW"
  local before after requests
  if [ -n "${REQUESTS:-}" ]; then
    "${LOAD_CPU[@]}" h2load --h1 -c"$CONNS" -n 20000 "http://127.0.0.1:$PORT_GW/" >/dev/null   # warm-up
    local t0 t1
    before=$(cpu_ticks "$gw"); t0=$(date +%s.%N)
    "${LOAD_CPU[@]}" h2load --h1 -c"$CONNS" -n "$REQUESTS" "http://127.0.0.1:$PORT_GW/" > "$WORK/load.txt"
    after=$(cpu_ticks "$gw"); t1=$(date +%s.%N)
    requests=$(awk '/^requests:/ { print $8 }' "$WORK/load.txt")
    if ! grep -q " 0 failed" "$WORK/load.txt"; then
      echo "warning: $name run $run had failures:" >&2; grep "^requests:" "$WORK/load.txt" >&2
    fi
    kill "$gw"; wait "$gw" 2>/dev/null || true
    echo "$name $run $requests $(awk "BEGIN { print $t1 - $t0 }") $(( after - before ))" >> "$WORK/raw"
    printf '  %-5s run %s: %s requests\n' "$name" "$run" "$requests" >&2
    return
  elif [ -n "${RATE:-}" ]; then
    local rps=$(( RATE / CONNS ))
    "${LOAD_CPU[@]}" h2load --h1 -c"$CONNS" --rps "$rps" -D 2 "http://127.0.0.1:$PORT_GW/" >/dev/null   # warm-up
    before=$(cpu_ticks "$gw")
    "${LOAD_CPU[@]}" h2load --h1 -c"$CONNS" --rps "$rps" -D "$DURATION" "http://127.0.0.1:$PORT_GW/" > "$WORK/load.txt"
    after=$(cpu_ticks "$gw")
    # "requests: N total, N started, N done, N succeeded, N failed, …"
    requests=$(awk '/^requests:/ { print $8 }' "$WORK/load.txt")
    if ! grep -q " 0 failed" "$WORK/load.txt"; then
      echo "warning: $name run $run had failures:" >&2; grep "^requests:" "$WORK/load.txt" >&2
    fi
  elif [ "${H2C:-0}" = 1 ]; then
    "${LOAD_CPU[@]}" $(load_cmd "$PORT_GW" warmup) >/dev/null
    before=$(cpu_ticks "$gw")
    "${LOAD_CPU[@]}" $(load_cmd "$PORT_GW" measure) > "$WORK/load.txt"
    after=$(cpu_ticks "$gw")
    requests=$(awk '/^requests:/ { print $8 }' "$WORK/load.txt")
    if ! grep -q " 0 failed" "$WORK/load.txt"; then
      echo "warning: $name run $run had failures:" >&2; grep "^requests:" "$WORK/load.txt" >&2
    fi
  else
    "${LOAD_CPU[@]}" wrk -t2 -c"$CONNS" -d2s "http://127.0.0.1:$PORT_GW/" >/dev/null   # warm-up
    before=$(cpu_ticks "$gw")
    "${LOAD_CPU[@]}" wrk -t2 -c"$CONNS" -d"${DURATION}s" "http://127.0.0.1:$PORT_GW/" > "$WORK/load.txt"
    after=$(cpu_ticks "$gw")
    requests=$(awk '/requests in/ { print $1 }' "$WORK/load.txt")
    if grep -q "Non-2xx\|Socket errors" "$WORK/load.txt"; then
      echo "warning: $name run $run had errors:" >&2; grep "Non-2xx\|Socket errors" "$WORK/load.txt" >&2
    fi
  fi
  kill "$gw"; wait "$gw" 2>/dev/null || true
  echo "$name $run $requests $DURATION $(( after - before ))" >> "$WORK/raw"
  printf '  %-5s run %s: %s requests\n' "$name" "$run" "$requests" >&2
}

load_cmd() { # port warmup|measure → the load command for one gangway, on stdout
  local port=$1 phase=$2
  if [ -n "${REQUESTS:-}" ]; then
    if [ "$phase" = warmup ]; then echo "h2load --h1 -c$CONNS -n 20000 http://127.0.0.1:$port/"
    else echo "h2load --h1 -c$CONNS -n $REQUESTS http://127.0.0.1:$port/"; fi
  elif [ -n "${RATE:-}" ]; then
    local d=$DURATION; [ "$phase" = warmup ] && d=2
    echo "h2load --h1 -c$CONNS --rps $(( RATE / CONNS )) -D $d http://127.0.0.1:$port/"
  elif [ "${H2C:-0}" = 1 ]; then
    local d=$DURATION; [ "$phase" = warmup ] && d=2
    echo "h2load -t1 -c$(( (CONNS + 3) / 4 )) -m4 -D $d http://127.0.0.1:$port/"
  else
    local d=$DURATION; [ "$phase" = warmup ] && d=2
    echo "wrk -t1 -c$CONNS -d${d}s http://127.0.0.1:$port/"
  fi
}

measure_together() { # run → one line per configuration in $WORK/raw
  local run=$1 n=${#CONFS[@]} i name port
  local -a names=() pids=() loads=() before=()
  for i in $(seq 0 $((n - 1))); do
    name=${CONFS[$(( (i + run - 1) % n ))]}; port=$((PORT_GW + 10 + i))
    local f; f=$(file_of "$name")
    config "$(kind_of "$name")" | sed "s/127.0.0.1:$PORT_GW\"/127.0.0.1:$port\"/" > "$f.toml"
    "${GW_CPU[@]}" "$(bin_of "$name")" --config "$f.toml" >/dev/null 2>"$f.err" &
    names+=("$name"); pids+=($!)
    wait_port "$port"
  done
  for i in "${!names[@]}"; do "${LOAD_CPU[@]}" $(load_cmd $((PORT_GW + 10 + i)) warmup) >/dev/null & loads+=($!); done
  wait "${loads[@]}"; loads=()
  local t0 t1
  t0=$(date +%s.%N)
  for i in "${!names[@]}"; do
    before+=("$(cpu_ticks "${pids[$i]}")")
    [ "${PER_THREAD:-0}" != 1 ] || thread_ns "${pids[$i]}" > "$WORK/threads-$i.before"
    "${LOAD_CPU[@]}" $(load_cmd $((PORT_GW + 10 + i)) measure) > "$WORK/load-$i.txt" & loads+=($!)
  done
  wait "${loads[@]}"
  t1=$(date +%s.%N)
  for i in "${!names[@]}"; do
    local after requests
    after=$(cpu_ticks "${pids[$i]}")
    [ "${PER_THREAD:-0}" != 1 ] || thread_ns "${pids[$i]}" > "$WORK/threads-$i.after"
    if [ -n "${REQUESTS:-}${RATE:-}${H2C:-}" ]; then
      requests=$(awk '/^requests:/ { print $8 }' "$WORK/load-$i.txt")
      grep -q " 0 failed" "$WORK/load-$i.txt" || echo "warning: ${names[$i]} run $run had failures" >&2
    else
      requests=$(awk '/requests in/ { print $1 }' "$WORK/load-$i.txt")
      ! grep -q "Non-2xx\|Socket errors" "$WORK/load-$i.txt" || echo "warning: ${names[$i]} run $run had errors" >&2
    fi
    kill "${pids[$i]}"; wait "${pids[$i]}" 2>/dev/null || true
    echo "${names[$i]} $run $requests $(awk "BEGIN { print $t1 - $t0 }") $(( after - before[i] ))" >> "$WORK/raw"
    printf '  %-5s run %s: %s requests (together)\n' "${names[$i]}" "$run" "$requests" >&2
    if [ "${PER_THREAD:-0}" = 1 ]; then
      # Threads of one name summed (the workers are numbered; the writer and exporter not).
      awk -v n="$requests" 'FNR == NR { b[$1] += $2; next } { a[$1] += $2 }
        END { for (t in a) if (a[t] - b[t] > 0) printf "        %-22s %7.2f µs/request\n", t, (a[t] - b[t]) / 1000 / n }' \
        "$WORK/threads-$i.before" "$WORK/threads-$i.after" | sort >&2
    fi
  done
}

: > "$WORK/raw"
read -r -a CONFS <<< "${CONFIGS:-off log trace}"
for c in "${CONFS[@]}"; do
  case "$(kind_of "$c")" in
    off|log|trace|trace:*|group) ;;
    *) echo "CONFIGS: '$c' is not off, log, trace, trace:RATIO or group (optionally =PATH)" >&2; exit 2 ;;
  esac
done
for run in $(seq 1 "$RUNS"); do
  if [ "${TOGETHER:-0}" = 1 ]; then measure_together "$run"; continue; fi
  # The order rotates per run, so no configuration always runs first (or last) in a round.
  n=${#CONFS[@]}
  for i in $(seq 0 $((n - 1))); do
    measure "${CONFS[$(( (i + run - 1) % n ))]}" "$run"
  done
done

python3 - "$WORK/raw" "$TCK" "$THREADS" "$CONNS" "$DURATION" "$RUNS" "${RATE:-}" "${CONFS[@]}" <<'PY' | tee "$OUT"
import os, sys, collections, statistics
raw, tck, threads, conns, duration, runs, rate = sys.argv[1], int(sys.argv[2]), *sys.argv[3:8]
confs = list(dict.fromkeys(sys.argv[8:]))
rows = collections.defaultdict(list)
for line in open(raw):
    name, run, requests, seconds, ticks = line.split()
    rows[name].append((int(requests), float(seconds), int(ticks) / tck))
def per_request(samples):
    req = sum(r for r, _, _ in samples)
    cpu = sum(c for _, _, c in samples)
    return cpu * 1e6 / req if req else float("nan"), req / sum(s for _, s, _ in samples)
first = confs[0]
base, _ = per_request(rows[first])
labels = {"off": "no access log, no tracing",
          "log": "default access log (text, stdout)",
          "trace": "tracing, sample_ratio 0.01, OTLP sink",
          "group": "no access log, a 3-server upstream group"}
def label(conf):
    kind, _, path = conf.partition("=")
    text = labels.get(kind, kind)
    if kind.startswith("trace:"):
        text = f"tracing, sample_ratio {kind[6:]}, OTLP sink"
    return text + (f", `{path}`" if path else "")
requests_per_run = os.environ.get("REQUESTS", "")
together = os.environ.get("TOGETHER", "0") == "1"
h2c = os.environ.get("H2C", "0") == "1"
load = (f"h2load -c{conns}, {requests_per_run} requests per run (closed loop)" if requests_per_run
        else f"h2load -c{conns} at {rate} requests/s (open loop)" if rate
        else f"h2load -c{(int(conns) + 3) // 4} -m4" if h2c else f"wrk -c{conns}")
print(f"{'h2c' if h2c else 'h1'}, {load}, {threads} worker(s), {runs} run(s) × {duration} s each"
      + (", the configurations at the same time" if together else "")
      + (", gangway pinned to CPU 0, nginx and the load to CPU 1" if os.environ.get("PIN") == "1" else "")
      + "; CPU = gateway utime+stime from /proc")
print()
# Paired: each run measured off, log and trace back to back, so a run's differences cancel
# most of what the shared machine was doing then; their median is the steadier figure.
def paired(name):
    diffs = []
    for i, s in enumerate(rows[name]):
        if i < len(rows[first]):
            (r, _, c), (r0, _, c0) = s, rows[first][i]
            diffs.append(c * 1e6 / r - c0 * 1e6 / r0)
    return sorted(diffs)
vs = "off" if first == "off" else "the first"
print(f"| configuration | req/s | CPU µs/request | vs {vs} (pooled) | vs {vs} (median of paired runs) | paired runs |")
print("|---|---:|---:|---:|---:|---|")
for name in confs:
    if not rows[name]:
        continue
    us, rps = per_request(rows[name])
    d = paired(name)
    med = f"{statistics.median(d):+.2f}" if d and name != first else ""
    runs_text = ", ".join(f"{x:+.2f}" for x in d) if name != first else ""
    print(f"| {label(name)} | {rps:,.0f} | {us:.2f} | {us - base:+.2f} | {med} | {runs_text} |")
PY
echo "(table also in $OUT)" >&2
