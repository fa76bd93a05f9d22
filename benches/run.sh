#!/usr/bin/env bash
# gangway benchmarks, side by side in one invocation (see BENCHMARKS.md).
#
#   benches/run.sh                  full run (≈ 14 min on 2 cores after the build): every section, 2 runs each
#   benches/run.sh --quick          ≈ 1 min: 1 s per point, 1 run, fewer points (benches/smoke.sh)
#   benches/run.sh --only proxy,client --duration 10 --runs 3
#   benches/run.sh --update-doc     also splice the tables and chart into BENCHMARKS.md
#   GANGWAY_BIN=/tmp/gw-old benches/run.sh --only idle,stream   an A/B with another binary
#
# Sections: proxy   wrk (HTTP/1.1) and h2load (h2c) through each proxy, concurrency 1/64/512,
#                   with the CPU time (user, system) each proxy spent per request, from /proc;
#                   gangway and nginx run twice: logs off, and their default access logs on
#           client  gangway-pool vs hyper-util legacy Client vs reqwest, h1/h2, concurrency 1/64
#           stream  a 1 GiB body through gangway vs straight from the upstream
#           idle    gangway's RSS holding 10 000 idle keep-alive client connections
#           churn   every client request with `Connection: close`
#
# Environment: PIN=0 (default) lets every process share all cores, as the issue's reference
# numbers were taken; every proxy gets THREADS worker threads/processes (default nproc:
# nginx worker_processes, HAProxy nbthread, gangway's [runtime] workers, TOKIO_WORKER_THREADS
# for the hyper-util proxy and the client bench). PIN=1 puts the system under test on CPU 1 and the load
# generator and upstream on CPU 0 (taskset), THREADS default 1: less noise, other ratios.
# POINTS="h1:64 h2c:64", CPOINTS="h1:64 h2:64", SYSTEMS="direct gangway nginx" narrow a run.
# Installs what it needs from Debian (wrk, nghttp2-client, nginx-light, haproxy, curl).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

DURATION=5
RUNS=2
QUICK=0
ONLY="proxy,client,stream,idle,churn"
PROFILE=release
UPDATE_DOC=0
OUT=${OUT:-$ROOT/benches/results}
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; DURATION=1; RUNS=1 ;;
    --duration) DURATION=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    --dev) PROFILE=dev ;;
    --out) OUT=$2; shift ;;
    --update-doc) UPDATE_DOC=1 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
has() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }
say() { printf '\n== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  # Debian's first install after an update sometimes fails in dpkg; once more is enough.
  apt-get install -y --no-install-recommends "$@" || { sleep 2; apt-get install -y --no-install-recommends "$@"; }
}
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
command -v curl >/dev/null || missing+=(curl)
command -v node >/dev/null || command -v nodejs >/dev/null || missing+=(nodejs)
command -v python3 >/dev/null || missing+=(python3)
command -v taskset >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "ERROR: the benchmarks need ${missing[*]}; run as root or install them first." >&2
    exit 1
  fi
  apt-get update -qq
  apt_install "${missing[@]}"
fi
NGINX=/usr/sbin/nginx
HAPROXY=$(command -v haproxy || echo /usr/sbin/haproxy)
# Node (Debian's nodejs) for the Node proxy baseline; skipped when absent and not installable.
NODE=$(command -v node || command -v nodejs || true)
PY=$(command -v python3)

# ---------------------------------------------------------------- build
say "building gangway and gwbench ($PROFILE)"
if [ -n "${GANGWAY_BIN:-}" ]; then
  # A binary built elsewhere (an A/B against an older commit): used as it is.
  GANGWAY=$GANGWAY_BIN
  [ -x "$GANGWAY" ] || { echo "ERROR: GANGWAY_BIN=$GANGWAY is not executable" >&2; exit 1; }
fi
if [ "$PROFILE" = release ]; then
  [ -n "${GANGWAY_BIN:-}" ] || cargo build --release -p gangway >&2
  GANGWAY=${GANGWAY_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/gangway}
  GWB=$(cargo bench -p gangway-benches --no-run --message-format=json 2>/dev/null \
        | "$PY" "$ROOT/benches/report.py" executable gwbench)
else
  # One build with the whole workspace selected (and bench targets, which turn on the
  # dev-dependencies): the same dependency features as the test run, so after the tests
  # (the CI smoke) only gangway's binary and gwbench are compiled, not every dependency again.
  GWB=$(cargo build --workspace --bins --benches --message-format=json 2>/dev/null \
        | "$PY" "$ROOT/benches/report.py" executable gwbench)
  GANGWAY=${GANGWAY_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/gangway}
fi
[ -x "$GWB" ] || { echo "ERROR: gwbench executable not found" >&2; exit 1; }

# ---------------------------------------------------------------- machine
NPROC=$(nproc)
PIN=${PIN:-0}
[ "$NPROC" -ge 2 ] || PIN=0
if [ "$PIN" = 1 ]; then
  THREADS=${THREADS:-1}
  SUT=(taskset -c 1)    # the system under test
  LOAD=(taskset -c 0)   # load generator and upstream
else
  THREADS=${THREADS:-$NPROC}
  SUT=()
  LOAD=()
fi
export TOKIO_WORKER_THREADS=$THREADS   # gangway, the hyper-util proxy and the client bench

# 10 000 idle connections need 10 000 descriptors on each side.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
NOFILE_N=$([ "$NOFILE" = unlimited ] && echo 65536 || echo "$NOFILE")
# gangway refuses limits that cannot fit in its open-file limit (client connections + the
# pool's default 1 024 per upstream host + 128 reserved): leave that room below ulimit -n.
GW_MAX_CONNS=$(( NOFILE_N > 21152 ? 20000 : NOFILE_N - 1024 - 128 - 16 ))
IDLE_CONNS=${IDLE_CONNS:-10000}
[ "$QUICK" = 1 ] && IDLE_CONNS=${QUICK_IDLE_CONNS:-200}
IDLE_NOTE=""
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt $((IDLE_CONNS + 200)) ]; then
  IDLE_NOTE="ulimit -n is capped at $NOFILE: measured $((NOFILE - 200)) connections and scaled"
  IDLE_CONNS=$((NOFILE - 200))
fi

WORK=$(mktemp -d /tmp/gangway-bench.XXXXXX)
chmod 755 "$WORK"
mkdir -p "$OUT"
RESULTS=$WORK/results.jsonl
: > "$RESULTS"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

BASE=${BASE_PORT:-28080}
UP_H1=$BASE; UP_H2=$((BASE + 1))
GW=$((BASE + 10)); GW_ADMIN=$((BASE + 11))
GWL=$((BASE + 12)); GWL_ADMIN=$((BASE + 13))
NG_H1=$((BASE + 20)); NG_H2=$((BASE + 21))
NGL_H1=$((BASE + 22)); NGL_H2=$((BASE + 23))
HA_H1=$((BASE + 30)); HA_H2=$((BASE + 31))
HU=$((BASE + 40))
NODE_PORT=$((BASE + 50))
FLOOR_PORT=$((BASE + 55))

wait_port() {
  local port=$1 i
  for i in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "ERROR: nothing listens on port $port" >&2
  return 1
}
start() { # start NAME CMD... : background, remember the PID
  local name=$1; shift
  "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  LAST_PID=$!
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
record() { # record JSON FIELDS...: add the fields to a JSON object and keep it
  "$PY" "$ROOT/benches/report.py" record "$1" "${@:2}" >> "$RESULTS"
}

# ---------------------------------------------------------------- upstream: nginx
mkdir -p "$WORK/www" "$WORK/up"
if [ "$QUICK" = 1 ]; then STREAM_SIZE=${STREAM_SIZE:-64M}; else STREAM_SIZE=${STREAM_SIZE:-1G}; fi
truncate -s "$STREAM_SIZE" "$WORK/www/big"
temp_paths() {
  local d=$1
  echo "client_body_temp_path $d/body; proxy_temp_path $d/proxy; fastcgi_temp_path $d/fastcgi; uwsgi_temp_path $d/uwsgi; scgi_temp_path $d/scgi;"
}
cat > "$WORK/up/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $NOFILE_N;
daemon off;
pid $WORK/up/nginx.pid;
error_log $WORK/up/error.log warn;
events { worker_connections $((NOFILE_N / 2)); }
http {
  access_log off;
  $(temp_paths "$WORK/up")
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  sendfile on;
  tcp_nodelay on;
  default_type text/plain;
  server {
    listen 127.0.0.1:$UP_H1 backlog=4096;
    listen 127.0.0.1:$UP_H2 http2 backlog=4096;
    root $WORK/www;
    location / { return 200 "hello from the upstream\n"; }
    location = /big { }
    location = /nginx_status { stub_status; }
  }
}
EOF
start upstream "${LOAD[@]}" "$NGINX" -p "$WORK/up" -c "$WORK/up/nginx.conf" -e "$WORK/up/error.log"
UPSTREAM_PID=$LAST_PID
wait_port "$UP_H1"; wait_port "$UP_H2"
upstream_accepts() {
  # (awk reads to the end: an early exit would SIGPIPE curl, fatal under pipefail)
  curl -s "http://127.0.0.1:$UP_H1/nginx_status" | awk '/^ *[0-9]+ +[0-9]+ +[0-9]+/ && !n { print $1; n = 1 }'
}

# ---------------------------------------------------------------- the proxies
cat > "$WORK/gangway.toml" <<EOF
[[listener]]
address = "127.0.0.1:$GW"

[[route]]
prefix = "/"
upstream = "http://127.0.0.1:$UP_H1"

[admin]
address = "127.0.0.1:$GW_ADMIN"

[limits]
max_connections = $GW_MAX_CONNS

[log]
level = "warn"
access_log = false

[runtime]
workers = $THREADS
EOF
start_gangway() {
  start gangway "${SUT[@]}" "$GANGWAY" --config "$WORK/gangway.toml"
  GANGWAY_PID=$LAST_PID
  wait_port "$GW"
}
# gangway with its default [log] section: the access log on, one JSON line per request to
# stdout (a file in $WORK here, as under systemd's journal or a container runtime).
cat > "$WORK/gangway-log.toml" <<EOF
[[listener]]
address = "127.0.0.1:$GWL"

[[route]]
prefix = "/"
upstream = "http://127.0.0.1:$UP_H1"

[admin]
address = "127.0.0.1:$GWL_ADMIN"

[limits]
max_connections = $GW_MAX_CONNS

[runtime]
workers = $THREADS
EOF
start_gangway_log() {
  start gangway-log "${SUT[@]}" "$GANGWAY" --config "$WORK/gangway-log.toml"
  GANGWAY_LOG_PID=$LAST_PID
  wait_port "$GWL"
}
start_hyperutil() {
  start hyperutil "${SUT[@]}" "$GWB" hyperutil-proxy --listen "127.0.0.1:$HU" --upstream "http://127.0.0.1:$UP_H1"
  HYPERUTIL_PID=$LAST_PID
  wait_port "$HU"
}
start_floor() {
  # Not a proxy to run: hyper's HTTP/1 server and client connections and nothing else
  # (benches/src/floor.rs), the floor under any proxy built on them. HTTP/1.1 only.
  start floor "${SUT[@]}" "$GWB" floor-proxy --threads "$THREADS" --listen "127.0.0.1:$FLOOR_PORT" --upstream "http://127.0.0.1:$UP_H1"
  FLOOR_PID=$LAST_PID
  wait_port "$FLOOR_PORT"
}
start_node() {
  # Node's core http proxy (benches/node_proxy.js): HTTP/1.1 only, one process.
  if [ -z "$NODE" ]; then NODE_PID=; return; fi
  start node "${SUT[@]}" "$NODE" "$ROOT/benches/node_proxy.js" "$NODE_PORT" "$UP_H1"
  NODE_PID=$LAST_PID
  wait_port "$NODE_PORT"
}
start_nginx_proxy() { # start_nginx_proxy DIR H1_PORT H2_PORT ACCESS_LOG_DIRECTIVE
  local dir=$1 h1=$2 h2=$3 alog=$4
  mkdir -p "$WORK/$dir"
  cat > "$WORK/$dir/nginx.conf" <<EOF
worker_processes $THREADS;
worker_rlimit_nofile $NOFILE_N;
daemon off;
pid $WORK/$dir/nginx.pid;
error_log $WORK/$dir/error.log warn;
events { worker_connections $((NOFILE_N / 2)); }
http {
  $alog
  $(temp_paths "$WORK/$dir")
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  tcp_nodelay on;
  upstream up {
    server 127.0.0.1:$UP_H1;
    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$h1 backlog=4096;
    listen 127.0.0.1:$h2 http2 backlog=4096;
    http2_max_concurrent_streams 512;
    location / {
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_max_temp_file_size 0;   # a large body streams through, not via a temp file
    }
  }
}
EOF
  start "$dir" "${SUT[@]}" "$NGINX" -p "$WORK/$dir" -c "$WORK/$dir/nginx.conf" -e "$WORK/$dir/error.log"
  wait_port "$h1"; wait_port "$h2"
}
start_haproxy() {
  cat > "$WORK/haproxy.cfg" <<EOF
global
  nbthread $THREADS
  maxconn $(( (NOFILE_N - 100) / 2 ))
defaults
  mode http
  timeout connect 5s
  timeout client 300s
  timeout server 300s
  http-reuse always
frontend fe
  bind 127.0.0.1:$HA_H1
  bind 127.0.0.1:$HA_H2 proto h2
  default_backend be
backend be
  server up 127.0.0.1:$UP_H1
EOF
  start haproxy "${SUT[@]}" "$HAPROXY" -f "$WORK/haproxy.cfg" -db
  HAPROXY_PID=$LAST_PID
  wait_port "$HA_H1"; wait_port "$HA_H2"
}

read -r -a SYSTEMS <<< "${SYSTEMS:-direct gangway gangway-log nginx nginx-log haproxy hyper-util hyper-floor node}"
port_of() { # port_of SYSTEM PROTO
  case "$1:$2" in
    direct:h1) echo "$UP_H1" ;; direct:h2c) echo "$UP_H2" ;;
    gangway:*) echo "$GW" ;;
    gangway-log:*) echo "$GWL" ;;
    nginx:h1) echo "$NG_H1" ;; nginx:h2c) echo "$NG_H2" ;;
    nginx-log:h1) echo "$NGL_H1" ;; nginx-log:h2c) echo "$NGL_H2" ;;
    haproxy:h1) echo "$HA_H1" ;; haproxy:h2c) echo "$HA_H2" ;;
    hyper-util:*) echo "$HU" ;;
    hyper-floor:h1) echo "$FLOOR_PORT" ;;
    hyper-floor:*) ;;   # HTTP/1.1 only
    node:h1) if [ -n "$NODE" ]; then echo "$NODE_PORT"; fi ;;
    node:*) ;;   # no h2c in Node's core http server
  esac
}

pid_of() { # pid_of SYSTEM: the process whose CPU time is the system's (children added below)
  case "$1" in
    direct) echo "$UPSTREAM_PID" ;;
    gangway) echo "$GANGWAY_PID" ;;
    gangway-log) echo "$GANGWAY_LOG_PID" ;;
    nginx) echo "$NGINX_PID" ;;
    nginx-log) echo "$NGINX_LOG_PID" ;;
    haproxy) echo "$HAPROXY_PID" ;;
    hyper-util) echo "$HYPERUTIL_PID" ;;
    hyper-floor) echo "$FLOOR_PID" ;;
    node) echo "${NODE_PID:-}" ;;
  esac
}
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # cpu_ticks PID -> "user system" clock ticks of PID, its threads and its children
  local pid=$1 u=0 s=0 p f
  for p in "$pid" $(pgrep -P "$pid" || true); do
    # Fields 14 and 15 of /proc/PID/stat (after the parenthesised name) are utime and stime,
    # already summed over the process's threads.
    f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    set -- $f
    u=$((u + ${12})); s=$((s + ${13}))
  done
  echo "$u $s"
}
load() { # load PROTO CONCURRENCY PORT SECONDS [extra wrk args] -> one JSON object
  local proto=$1 c=$2 port=$3 secs=$4; shift 4
  if [ "$proto" = h1 ]; then
    "${LOAD[@]}" wrk -t1 -c"$c" -d"${secs}s" --latency "$@" "http://127.0.0.1:$port/" > "$WORK/load.out" 2>&1 || true
    "$PY" "$ROOT/benches/report.py" parse-wrk "$WORK/load.out"
  else
    # h2c: up to 16 connections, the rest as concurrent streams on them.
    local conns=$(( c < 16 ? c : 16 )); local streams=$(( c / conns ))
    rm -f "$WORK/h2.log"
    "${LOAD[@]}" h2load -c"$conns" -m"$streams" -t1 -D"$secs" --log-file="$WORK/h2.log" \
      "http://127.0.0.1:$port/" > "$WORK/load.out" 2>&1 || true
    "$PY" "$ROOT/benches/report.py" parse-h2load "$WORK/load.out" "$WORK/h2.log"
  fi
}

# ---------------------------------------------------------------- section: proxy
if has proxy || has churn; then
  say "starting gangway, nginx, haproxy, hyper-util proxy (THREADS=$THREADS, PIN=$PIN)"
  start_gangway; start_gangway_log
  start_nginx_proxy ng "$NG_H1" "$NG_H2" "access_log off;"; NGINX_PID=$LAST_PID
  # nginx's default: the combined format to a file, one write per request.
  start_nginx_proxy ngl "$NGL_H1" "$NGL_H2" "access_log $WORK/ngl/access.log;"; NGINX_LOG_PID=$LAST_PID
  start_haproxy; start_hyperutil; start_floor; start_node
  for s in "${SYSTEMS[@]}"; do
    p=$(port_of "$s" h1 || true); [ -n "$p" ] && load h1 64 "$p" 1 >/dev/null
  done   # warm-up
fi
if has proxy; then
  if [ "$QUICK" = 1 ]; then DEF="h1:1 h1:64 h2c:64"; else DEF="h1:1 h1:64 h1:512 h2c:1 h2c:64 h2c:512"; fi
  POINTS=${POINTS:-$DEF}
  for point in $POINTS; do
    proto=${point%%:*}; c=${point##*:}
    for run in $(seq 1 "$RUNS"); do
      for s in "${SYSTEMS[@]}"; do
        [ -n "$(port_of "$s" "$proto" || true)" ] || continue
        say "proxy $proto c=$c $s (run $run)"
        # Only one system is loaded at a time; the others idle. The system's CPU time over
        # the load (user and system, from /proc) gives its CPU per request.
        pid=$(pid_of "$s")
        read -r u0 s0 <<< "$(cpu_ticks "$pid")"
        r=$(load "$proto" "$c" "$(port_of "$s" "$proto")" "$DURATION")
        read -r u1 s1 <<< "$(cpu_ticks "$pid")"
        echo "$r" >&2
        record "$r" section=proxy system="$s" proto="$proto" conc="$c" run="$run" \
          user_ticks=$((u1 - u0)) sys_ticks=$((s1 - s0)) clk_tck="$CLK_TCK"
      done
    done
  done
fi

# ---------------------------------------------------------------- section: churn
if has churn; then
  for run in $(seq 1 "$RUNS"); do
    for s in "${SYSTEMS[@]}"; do
      [ -n "$(port_of "$s" h1 || true)" ] || continue
      say "churn $s (run $run)"
      before=$(upstream_accepts)
      r=$(load h1 64 "$(port_of "$s" h1)" "$DURATION" -H "Connection: close")
      after=$(upstream_accepts)
      echo "$r" >&2
      # Minus the one connection of the stub_status request itself.
      record "$r" section=churn system="$s" proto=h1 conc=64 run="$run" upstream_conns=$((after - before - 1))
    done
  done
fi
if has proxy || has churn; then
  record "{}" section=gangway_metrics metrics="$(curl -s "http://127.0.0.1:$GW_ADMIN/metrics" | grep -E '^gangway_pool_(connections_opened|connections_closed)_total' | tr '\n' ';')"
  stop "$GANGWAY_PID"; stop "$GANGWAY_LOG_PID"; stop "$NGINX_PID"; stop "$NGINX_LOG_PID"
  stop "$HAPROXY_PID"; stop "$HYPERUTIL_PID"
  [ -z "$NODE_PID" ] || stop "$NODE_PID"
fi

# ---------------------------------------------------------------- section: client
if has client; then
  if [ "$QUICK" = 1 ]; then DEF="h1:64 h2:64"; else DEF="h1:1 h1:64 h2:1 h2:64"; fi
  CPOINTS=${CPOINTS:-$DEF}
  for point in $CPOINTS; do
    proto=${point%%:*}; c=${point##*:}
    if [ "$proto" = h2 ]; then url="http://127.0.0.1:$UP_H2/"; flag=--h2; else url="http://127.0.0.1:$UP_H1/"; flag=; fi
    for run in $(seq 1 "$RUNS"); do
      for s in gangway-pool hyper-util reqwest; do
        say "client $s $proto c=$c (run $run)"
        warm=1; [ "$QUICK" = 1 ] && warm=0.2
        r=$("${SUT[@]}" "$GWB" client --system "$s" --url "$url" $flag --concurrency "$c" \
              --duration "$DURATION" --warmup "$warm" | tail -n1)
        echo "$r" >&2
        record "$r" section=client system="$s" proto="$proto" conc="$c" run="$run"
      done
    done
  done
fi

# ---------------------------------------------------------------- section: stream
# direct is nginx's sendfile straight into the client's socket; every proxy copies each byte
# into user space and out again, so the other proxies stream the same file as the yardstick
# for what a copying proxy reaches on this machine.
STREAM_SYSTEMS="direct gangway nginx haproxy hyper-util"
if has stream; then
  start_gangway
  start_nginx_proxy ng "$NG_H1" "$NG_H2" "access_log off;"; NGINX_PID=$LAST_PID
  start_haproxy; start_hyperutil
  for s in $STREAM_SYSTEMS; do
    # Warm-up: the file into the page cache, each proxy's buffers sized.
    "${LOAD[@]}" "$GWB" stream --addr "127.0.0.1:$(port_of "$s" h1)" --path /big >/dev/null
  done
  for run in $(seq 1 "$RUNS"); do
    for s in $STREAM_SYSTEMS; do
      say "stream $STREAM_SIZE $s (run $run)"
      pid=(); [ "$s" = gangway ] && pid=(--pid "$GANGWAY_PID")
      r=$("${LOAD[@]}" "$GWB" stream --addr "127.0.0.1:$(port_of "$s" h1)" --path /big "${pid[@]}" | tail -n1)
      echo "$r" >&2
      record "$r" section=stream system="$s" run="$run" size="$STREAM_SIZE"
    done
  done
  stop "$GANGWAY_PID"; stop "$NGINX_PID"; stop "$HAPROXY_PID"; stop "$HYPERUTIL_PID"
fi

# ---------------------------------------------------------------- section: idle
if has idle; then
  for s in gangway hyper-util; do
    say "idle: $IDLE_CONNS keep-alive connections to $s"
    if [ "$s" = gangway ]; then start_gangway; pid=$GANGWAY_PID; port=$GW
    else start_hyperutil; pid=$HYPERUTIL_PID; port=$HU; fi
    # One request first, so the upstream connection and lazily built state exist.
    curl -s -o /dev/null "http://127.0.0.1:$port/"
    sleep 0.3
    # Held 2 s before RSS is read: gangway parks an HTTP/1 connection idle for 1 s.
    r=$("${LOAD[@]}" "$GWB" idle --addr "127.0.0.1:$port" --conns "$IDLE_CONNS" --pid "$pid" --hold 2 | tail -n1)
    echo "$r" >&2
    record "$r" section=idle system="$s" note="$IDLE_NOTE"
    stop "$pid"
  done
fi

# ---------------------------------------------------------------- report
# No `head` in these pipelines: a reader that stops early SIGPIPEs the writer (pipefail).
MACHINE="$(nproc) cores ($(awk -F': *' '/model name/ && !n { print $2; n = 1 }' /proc/cpuinfo)), $(free -g | awk '/^Mem:/ {print $2}') GiB, $(uname -sr)"
VERSIONS="wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}'), h2load $(h2load --version | awk 'NR == 1 {print $2}'), nginx $($NGINX -v 2>&1 | sed 's|.*/||'), haproxy $($HAPROXY -v | awk 'NR == 1 {print $3}')"
ARGS="--duration $DURATION --runs $RUNS"
[ "$QUICK" = 1 ] && ARGS="--quick"
# The previous results in --out (the committed ones by default) are the regression baseline.
[ -f "$OUT/results.jsonl" ] && cp "$OUT/results.jsonl" "$WORK/previous.jsonl"
cp "$RESULTS" "$OUT/results.jsonl"
"$PY" "$ROOT/benches/report.py" report "$OUT/results.jsonl" \
  --out "$OUT" --machine "$MACHINE" --versions "$VERSIONS" --date "$(date -u '+%Y-%m-%d %H:%M UTC')" \
  --setup "PIN=$PIN THREADS=$THREADS, $DURATION s per point, median of $RUNS run(s)" \
  --command "benches/run.sh $ARGS" \
  --previous "$WORK/previous.jsonl" \
  $([ "$UPDATE_DOC" = 1 ] && echo "--doc $ROOT/BENCHMARKS.md")
