#!/usr/bin/env bash
# What parking an idle HTTP/1.1 connection costs the request that follows it, in CPU time
# of the gangway process per request ([timeouts] client_park, see conn/park.rs).
#
#   benches/park_cost.sh                    ≈ 1 min: 2 configurations × RUNS rounds
#   GANGWAY_BIN=path benches/park_cost.sh   measure that binary (no build)
#   GAP=0.15 CONNS=20 REQUESTS=40 RUNS=2    the defaults
#
# Each client connection sends REQUESTS sequential GETs with GAP seconds between them, CONNS
# connections at once, against an nginx upstream. Two gangways take turns, each a fresh
# process with one worker: `client_park = "1h"` (never parked within a gap) and
# `client_park = "100ms"` (parked before every request after the first). CPU is the sum of
# the gangway's threads' run time from /proc/PID/task/*/schedstat (nanoseconds) over the
# round, divided by the requests; at this pace everything is cold, so both figures are far
# above the loaded CPU per request of BENCHMARKS.md. Not a test: run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
GAP=${GAP:-0.15}
CONNS=${CONNS:-20}
REQUESTS=${REQUESTS:-40}
RUNS=${RUNS:-2}
missing=()
command -v python3 >/dev/null || missing+=(python3)
[ -x /usr/sbin/nginx ] || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then apt-get install -y "${missing[@]}" >/dev/null; fi
if [ -z "${GANGWAY_BIN:-}" ]; then
  cargo build --release -p gangway >&2
  GANGWAY_BIN=${CARGO_TARGET_DIR:-target}/release/gangway
fi
WORK=$(mktemp -d /tmp/gangway-park.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

PORT_UP=${BASE_PORT:-33600}; PORT_GW=$((PORT_UP + 1))
cat > "$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $WORK/b; proxy_temp_path $WORK/p; fastcgi_temp_path $WORK/f;
  uwsgi_temp_path $WORK/u; scgi_temp_path $WORK/s;
  keepalive_requests 1000000;
  server { listen 127.0.0.1:$PORT_UP; location / { return 200 "hello from the upstream\n"; } }
}
CONF
/usr/sbin/nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log" & PIDS+=($!)
wait_port "$PORT_UP"

# The client: CONNS threads, each one connection with REQUESTS sequential GETs, GAP apart.
cat > "$WORK/client.py" <<'PY'
import glob, socket, sys, threading, time
port, pid, conns, requests, gap = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                   int(sys.argv[4]), float(sys.argv[5]))
def cpu_ns():
    total = 0
    for f in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        try:
            total += int(open(f).read().split()[0])
        except OSError:
            pass
    return total
failed = []
def one():
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        for _ in range(requests):
            s.sendall(b"GET / HTTP/1.1\r\nHost: park.test\r\n\r\n")
            got = b""
            while not got.endswith(b"upstream\n"):
                chunk = s.recv(4096)
                if not chunk:
                    raise OSError("closed")
                got += chunk
            if not got.startswith(b"HTTP/1.1 200"):
                raise OSError(got[:40])
            time.sleep(gap)
        s.close()
    except OSError as e:
        failed.append(str(e))
start = cpu_ns()
threads = [threading.Thread(target=one) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
print(f"{(cpu_ns() - start) / (conns * requests) / 1000:.1f} {len(failed)}")
PY

echo "| round | client_park | requests | failed | CPU µs per request |"
echo "|---:|---|---:|---:|---:|"
for run in $(seq 1 "$RUNS"); do
  for park in 1h 100ms; do
    cat > "$WORK/gw.toml" <<CONF
[[listener]]
address = "127.0.0.1:$PORT_GW"
[[route]]
prefix = "/"
upstream = "http://127.0.0.1:$PORT_UP"
[log]
access_log = false
level = "warn"
[runtime]
workers = 1
[timeouts]
client_park = "$park"
CONF
    "$GANGWAY_BIN" --config "$WORK/gw.toml" & gw=$!
    wait_port "$PORT_GW"
    read -r cpu failed < <(python3 "$WORK/client.py" "$PORT_GW" "$gw" "$CONNS" "$REQUESTS" "$GAP")
    kill "$gw"; wait "$gw" 2>/dev/null || true
    echo "| $run | $park | $((CONNS * REQUESTS)) | $failed | $cpu |"
  done
done
