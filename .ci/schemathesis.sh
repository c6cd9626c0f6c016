#!/usr/bin/env bash
# The served spec tells the truth: schemathesis (pinned) fuzzes every operation of `serve --dev`
# with every check, signed in with a development session cookie, every vendor pointed at the
# platform crates' fakes (`cargo xtask fakes`) so no operation answers `integration-disabled`.
# Any failure fails CI. See docs/api-conventions.md ("Fuzzing the served spec").
#
# Knobs (environment): SCHEMATHESIS_MAX_EXAMPLES (default 15), SCHEMATHESIS_WORKERS (default 1:
# with threads, CPython 3.11 before 3.11.8 can fail hypothesis's ast.parse with "AST constructor
# recursion depth mismatch", python/cpython#106905, which failed a CI run of ours),
# SCHEMATHESIS_VENV (where the pinned schemathesis is installed; reused when it has the pinned
# version, so a CI cache of that folder skips the download), SCHEMATHESIS_SEED.
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS=4.32.5
venv=${SCHEMATHESIS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/qubital-ci/schemathesis-${SCHEMATHESIS}}
if [ "$("$venv/bin/schemathesis" --version 2>/dev/null || true)" != "schemathesis, version ${SCHEMATHESIS}" ]; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==${SCHEMATHESIS}"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
work=$(mktemp -d)
data_dir=$(mktemp -d) # its own folder, as in .ci/smoke.sh (the cluster may run as another user)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work" "$data_dir"
}
trap cleanup EXIT

cargo build --quiet --package qubital --package xtask
target=${CARGO_TARGET_DIR:-$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}

# The vendors' fakes; their environment lands in $work/fakes.env once every one listens.
"$target/debug/xtask" fakes --env-file "$work/fakes.env" >"$work/fakes.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -e "$work/fakes.env" ] && break; sleep 0.1; done
[ -e "$work/fakes.env" ] || { cat "$work/fakes.log"; echo "the fakes did not start"; exit 1; }

# The app, in development (its private Postgres cluster in a fresh folder), at the fakes.
port=$(free_port)
ops_port=$(free_port)
(
  set -a
  # shellcheck disable=SC1091
  source "$work/fakes.env"
  set +a
  exec env -u DATABASE_URL QUBITAL_DATA_DIR="$data_dir" RUST_LOG=warn \
    "$target/debug/qubital" serve --dev --port "$port" --ops-port "$ops_port"
) >"$work/server.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || { cat "$work/server.log"; echo "the server exited during boot"; exit 1; }
  sleep 0.5
done

# The session cookie: .ci/schemathesis.toml signs in through POST /auth/dev/sign-in (and again
# after any 401). Check once here that it works, for a clear message when it does not.
curl -fsS -o /dev/null -H 'content-type: application/json' \
  -d '{"email":"fuzz@example.com","organizationName":"Fuzz","role":"admin"}' \
  "$base/auth/dev/sign-in" || { tail -n 50 "$work/server.log"; echo "the development sign-in failed"; exit 1; }

started=$(date +%s)
status=0
"$venv/bin/schemathesis" --config-file .ci/schemathesis.toml run "$base/openapi.json" \
  --checks all \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-15}" \
  --workers "${SCHEMATHESIS_WORKERS:-1}" \
  ${SCHEMATHESIS_SEED:+--seed "$SCHEMATHESIS_SEED"} \
  --request-timeout 10 \
  --no-color || status=$?
echo "schemathesis ran $(($(date +%s) - started)) s"
if [ "$status" != 0 ]; then
  echo "--- server log (warnings and errors)"; tail -n 200 "$work/server.log"
  exit "$status"
fi
