#!/usr/bin/env bash
# Boots the real binary the way a newcomer does (`serve --dev`, no DATABASE_URL: a private
# Postgres cluster in a fresh data folder), checks the ops endpoints, then stops it with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."

data_dir=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
ops_port=$(free_port)
log=$(mktemp)
cargo build --quiet --package qubital
env -u DATABASE_URL QUBITAL_DATA_DIR="$data_dir" RUST_LOG=info \
  "${CARGO_TARGET_DIR:-target}/debug/qubital" serve --dev --port "$port" --ops-port "$ops_port" >"$log" 2>&1 &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$data_dir"; }
trap cleanup EXIT

for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$log"; echo "the server exited during boot"; exit 1; fi
  sleep 0.5
done
for path in /healthz /readyz /openapi.json /docs; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")
  echo "GET $path -> $code"
  [ "$code" = 200 ] || { cat "$log"; exit 1; }
done
# /metrics only on the ops listener (OPS_PORT), never on the API's.
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics")
echo "GET :$port/metrics -> $code"
[ "$code" = 404 ] || { cat "$log"; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ops_port/metrics")
echo "GET :$ops_port/metrics -> $code"
[ "$code" = 200 ] || { cat "$log"; exit 1; }
kill -TERM "$pid"
wait "$pid"
grep -q "stopping the private Postgres cluster" "$log" || { cat "$log"; echo "the cluster was not stopped"; exit 1; }
echo "smoke test passed"
