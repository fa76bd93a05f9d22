#!/usr/bin/env bash
# Soak test (issue #17 item 12; not in CI): SOAK_MINUTES (default 10) of mixed HTTP/1.1 and
# h2c load through a release gangway to loopback upstreams, with periodic upstream faults:
#   - nginx answers `/` (the steady load: wrk over HTTP/1.1, h2load over h2c);
#   - benches/soak_upstream.py answers `/fault/{ok,reset,stall,trunc}` (RST after the head, no
#     answer past gangway's 2 s upstream_response, a truncated body), hit over h1 and h2c
#     with curl; every 30 s it is killed (SIGKILL) and restarted 3 s later.
# Every 10 s it prints gangway's RSS and open fds; at the end the client-side counts by
# kind (status codes per fault, wrk/h2load failures) and gangway's own per-status counters.
# Fails when the median RSS or fd count of the last minute is more than 10 % above the
# second minute's.
#
#   SOAK_MINUTES=3 benches/soak.sh      # quick; ≥ 3 minutes so both windows exist
#   BASE_PORT=29080 KEEP_WORK=1 ...     # ports; keep the scratch dir
#   SOAK_NO_BUILD=1 ...                 # use the release binary already built
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MINUTES=${SOAK_MINUTES:-10}
[ "$MINUTES" -ge 3 ] || { echo "SOAK_MINUTES must be at least 3" >&2; exit 2; }
TOTAL=$((MINUTES * 60))
say() { printf '== %s\n' "$*" >&2; }

missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v h2load >/dev/null || missing+=(nghttp2-client)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  [ "$(id -u)" -eq 0 ] || { echo "ERROR: need ${missing[*]}; run as root or install them" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
PY=$(command -v python3)

if [ -z "${SOAK_NO_BUILD:-}" ]; then
  say "building gangway (release)"
  cargo build --release -p gangway >&2
fi
GANGWAY=${CARGO_TARGET_DIR:-$ROOT/target}/release/gangway

WORK=$(mktemp -d /tmp/gangway-soak.XXXXXX)
chmod 755 "$WORK"
PIDS=()
FAULT_PID=""
cleanup() {
  for pid in "${PIDS[@]}" $FAULT_PID; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}" $FAULT_PID; do wait "$pid" 2>/dev/null || true; done
  [ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

BASE=${BASE_PORT:-29080}
UP=$BASE; FAULT=$((BASE + 1)); GW=$((BASE + 10)); ADMIN=$((BASE + 11))
wait_port() {
  local i
  for i in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.05
  done
  echo "ERROR: nothing listens on port $1" >&2; return 1
}

mkdir -p "$WORK/up"
cat > "$WORK/up/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/up/nginx.pid;
error_log $WORK/up/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/up/body; proxy_temp_path $WORK/up/proxy;
  fastcgi_temp_path $WORK/up/fcgi; uwsgi_temp_path $WORK/up/uwsgi; scgi_temp_path $WORK/up/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 300s;
  default_type text/plain;
  server {
    listen 127.0.0.1:$UP backlog=4096;
    location / { return 200 "hello from the upstream\n"; }
  }
}
CONF
/usr/sbin/nginx -p "$WORK/up" -c "$WORK/up/nginx.conf" -e "$WORK/up/error.log" &
PIDS+=($!)
start_fault() { "$PY" "$ROOT/benches/soak_upstream.py" "$FAULT" >>"$WORK/fault.log" 2>&1 & FAULT_PID=$!; }
start_fault
wait_port "$UP"; wait_port "$FAULT"

cat > "$WORK/gangway.toml" <<CONF
[[listener]]
address = "127.0.0.1:$GW"

[[route]]
prefix = "/"
upstream = "http://127.0.0.1:$UP"

[[route]]
prefix = "/fault"
upstream = "http://127.0.0.1:$FAULT"

[timeouts]
upstream_connect = "1s"
upstream_response = "2s"
upstream_body_idle = "2s"

[admin]
address = "127.0.0.1:$ADMIN"

[log]
level = "error"
access_log = false
CONF
"$GANGWAY" --config "$WORK/gangway.toml" >"$WORK/gangway.log" 2>&1 &
GW_PID=$!
PIDS+=($GW_PID)
wait_port "$GW"
say "gangway pid $GW_PID on 127.0.0.1:$GW; soak for $MINUTES min; scratch $WORK"

STOP=$WORK/stop
# Steady HTTP/1.1 load.
wrk -t1 -c16 -d"${TOTAL}s" --timeout 5s "http://127.0.0.1:$GW/" >"$WORK/wrk.out" 2>&1 &
PIDS+=($!)
# Steady h2c load, in 10 s runs so the counts survive an interruption.
( while [ ! -e "$STOP" ]; do
    h2load -c4 -m8 -D 10 "http://127.0.0.1:$GW/h2" 2>&1 | grep -E '^requests:|^status codes:' >>"$WORK/h2load.out" || true
  done ) &
PIDS+=($!)
# Faults over both protocols; stalls make each round take ~2 s.
( while [ ! -e "$STOP" ]; do
    for kind in ok reset stall trunc; do
      for proto in --http1.1 --http2-prior-knowledge; do
        code=$(curl -s -o /dev/null --max-time 5 $proto -w '%{http_code}' "http://127.0.0.1:$GW/fault/$kind" || true)
        echo "$kind ${proto#--} $code" >>"$WORK/faults.out"
      done &
    done
    wait
    sleep 0.2
  done ) &
PIDS+=($!)
# Kill and restart the fault upstream every 30 s.
( while [ ! -e "$STOP" ]; do
    sleep 30
    [ -e "$STOP" ] && break
    kill -9 "$(cat "$WORK/fault.pid")" 2>/dev/null || true
    echo kill >>"$WORK/kills.out"
    sleep 3
    "$PY" "$ROOT/benches/soak_upstream.py" "$FAULT" >>"$WORK/fault.log" 2>&1 &
    echo $! >"$WORK/fault.pid"
  done ) &
PIDS+=($!)
echo "$FAULT_PID" >"$WORK/fault.pid"
FAULT_PID=""   # owned by the restart loop now; cleaned up below

printf 't_s\trss_kb\tfds\n' >"$WORK/samples.tsv"
start=$(date +%s)
while :; do
  sleep 10
  t=$(($(date +%s) - start))
  rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status")
  fds=$(ls "/proc/$GW_PID/fd" | wc -l)
  printf '%s\t%s\t%s\n' "$t" "$rss" "$fds" | tee -a "$WORK/samples.tsv"
  [ "$t" -lt "$TOTAL" ] || break
done
touch "$STOP"
wait "${PIDS[2]}" 2>/dev/null || true
sleep 1
kill "$(cat "$WORK/fault.pid")" 2>/dev/null || true
curl -s "http://127.0.0.1:$ADMIN/metrics" >"$WORK/metrics.out" || true

say "wrk (HTTP/1.1, 16 connections)"
grep -E 'requests in|Socket errors|Non-2xx|Requests/sec' "$WORK/wrk.out" || cat "$WORK/wrk.out"
say "h2load (h2c, 4 connections x 8 streams, 10 s runs)"
awk '/^requests:/ { t += $2; s += $8; f += $10; e += $12; to += $14; n++ }
     END { printf "runs %d: requests %d, succeeded %d, failed %d, errored %d, timeout %d\n", n, t, s, f, e, to }' "$WORK/h2load.out"
say "faults (curl: kind protocol status → count)"
sort "$WORK/faults.out" | uniq -c | awk '{ printf "  %-6s %-20s %s  %d\n", $2, $3, $4, $1 }'
echo "  upstream killed and restarted: $(wc -l <"$WORK/kills.out" 2>/dev/null || echo 0) times"
say "gangway's counters"
grep -E '^gangway_requests_total|^gangway_connections_accepted_total|^gangway_connections_open' "$WORK/metrics.out" || true

say "growth, median of the second minute vs median of the last minute"
"$PY" - "$WORK/samples.tsv" "$TOTAL" <<'PYEOF'
import statistics, sys
rows = [l.split("\t") for l in open(sys.argv[1]).read().split("\n")[1:] if l]
rows = [(int(t), int(r), int(f)) for t, r, f in rows]
total = int(sys.argv[2])
second = [r for r in rows if 60 < r[0] <= 120]
last = [r for r in rows if r[0] > max(total - 60, 120)]
if not second or not last:
    print("not enough samples"); sys.exit(1)
bad = False
for i, name in ((1, "rss_kb"), (2, "fds")):
    a = statistics.median(r[i] for r in second)
    b = statistics.median(r[i] for r in last)
    growth = (b - a) / a * 100 if a else 0.0
    verdict = "FAIL" if growth > 10 else "ok"
    bad |= growth > 10
    print(f"{name}: minute 2 {a:.0f}, last minute {b:.0f}, growth {growth:+.1f} % {verdict}")
sys.exit(1 if bad else 0)
PYEOF
