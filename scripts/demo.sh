#!/usr/bin/env bash
# Runs the example gateway (the routes of gangway.example.toml: :2000/users -> :3000,
# :2000/profiles -> :4000, metrics on :9901) with two tiny demo upstreams. The ports can be
# changed with GATEWAY_PORT, USERS_PORT, PROFILES_PORT and ADMIN_PORT, e.g.
#   USERS_PORT=3100 PROFILES_PORT=4100 scripts/demo.sh
# Try, in another terminal (with the default ports):
#   curl -i 'http://127.0.0.1:2000/users/42?x=1'
#   curl -i http://127.0.0.1:2000/profiles/7
#   curl -i http://127.0.0.1:2000/healthcheck
#   curl -s http://127.0.0.1:9901/metrics | head
# Ctrl-C stops everything. If a port is taken, the script says which one and exits 1
# (it never proxies to whatever else listens there).
set -euo pipefail
cd "$(dirname "$0")/.."

GATEWAY_PORT=${GATEWAY_PORT:-2000}
USERS_PORT=${USERS_PORT:-3000}
PROFILES_PORT=${PROFILES_PORT:-4000}
ADMIN_PORT=${ADMIN_PORT:-9901}

fail() {
    echo "demo.sh: $*" >&2
    exit 1
}

# Something accepts connections on 127.0.0.1:$1.
listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

for var in GATEWAY_PORT USERS_PORT PROFILES_PORT ADMIN_PORT; do
    port=${!var}
    [[ $port =~ ^[0-9]+$ ]] && ((port >= 1 && port <= 65535)) || fail "$var=$port is not a port number"
    if listening "$port"; then
        fail "port $port ($var) is already in use on 127.0.0.1; stop what listens there or set $var to a free port"
    fi
done

cargo build --release -p gangway --bin gangway --example demo_upstream
bin=${CARGO_TARGET_DIR:-target}/release

pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# Starts a demo upstream and waits until it accepts connections; if it exits first (the
# port was taken after the check above), says so instead of leaving the gateway to proxy
# to someone else's server.
start_upstream() {
    local port=$1 name=$2 var=$3
    "$bin/examples/demo_upstream" "127.0.0.1:$port" "$name" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || fail "the $name demo upstream could not listen on 127.0.0.1:$port ($var); is the port taken?"
        listening "$port" && return 0
        sleep 0.05
    done
    fail "the $name demo upstream did not start listening on 127.0.0.1:$port ($var) within 5 s"
}

start_upstream "$USERS_PORT" users USERS_PORT
start_upstream "$PROFILES_PORT" profiles PROFILES_PORT

# The example file's gateway, as flags, so that every port can be overridden.
"$bin/gangway" \
    --listen "127.0.0.1:$GATEWAY_PORT" \
    --route "/users=http://127.0.0.1:$USERS_PORT" \
    --route "/profiles=http://127.0.0.1:$PROFILES_PORT" \
    --admin "127.0.0.1:$ADMIN_PORT"
