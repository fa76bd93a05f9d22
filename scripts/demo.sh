#!/usr/bin/env bash
# Runs the example gateway (gangway.example.toml: :2000/users -> :3000, :2000/profiles -> :4000)
# with two tiny demo upstreams. Try, in another terminal:
#   curl -i http://127.0.0.1:2000/users/42?x=1
#   curl -i http://127.0.0.1:2000/profiles/7
#   curl -i http://127.0.0.1:2000/healthcheck
#   curl -s http://127.0.0.1:9901/metrics | head
# Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p gangway --bin gangway --example demo_upstream
./target/release/examples/demo_upstream 127.0.0.1:3000 users &
users=$!
./target/release/examples/demo_upstream 127.0.0.1:4000 profiles &
profiles=$!
trap 'kill $users $profiles 2>/dev/null || true' EXIT
./target/release/gangway --config gangway.example.toml --admin 127.0.0.1:9901
