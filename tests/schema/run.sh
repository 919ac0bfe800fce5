#!/usr/bin/env bash
# Schema-driven API tests: schemathesis against the OpenAPI document the real
# server serves, every operation, with auth. Passes only with 0 server errors
# and every response conforming to the document (`--checks all`).
#
#   tests/schema/run.sh [max-examples-per-operation]   (default 25)
#
# Starts, on 127.0.0.1 only, the CircleCI simulator and `buildsnap serve` on a
# temporary data dir with an admin token; creates an org and an org token
# with the binary's own commands; runs schemathesis twice (admin token, then
# the org token on the org's routes) and stops both servers. Schemathesis is
# pinned, with every dependency (constraints.txt), and installed into a venv
# under target/. See docs/reliability.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
examples="${1:-25}"
case "$examples" in '' | *[!0-9]*) echo "usage: $0 [max-examples]" >&2; exit 2 ;; esac
SCHEMATHESIS_VERSION=4.32.5

venv=target/schemathesis-venv
constraints=tests/schema/constraints.txt
# The venv is rebuilt whenever the pins change (a copy of them is kept in it).
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION" ||
  ! cmp -s "$constraints" "$venv/constraints.txt"; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -c "$constraints" "schemathesis==$SCHEMATHESIS_VERSION"
  cp "$constraints" "$venv/constraints.txt"
fi

cargo build -q -p buildsnap -p circleci-sim
bin=target/debug

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() { # url, what: until it answers at all, at most 60 s
  for _ in $(seq 600); do
    if curl -sS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "$2 did not come up at $1" >&2
  exit 1
}

sim_port=$(free_port)
"$bin/circleci-sim" --scenario host/simulators/circleci/scenarios/demo.json \
  --listen "127.0.0.1:$sim_port" >"$work/sim.log" 2>&1 &
pids+=($!)

data="$work/data"
admin=$(python3 -c 'import secrets; print("adm-" + secrets.token_hex(16))')
"$bin/buildsnap" orgs create acme --name Acme --data-dir "$data" >/dev/null
org_token=$("$bin/buildsnap" tokens create --org acme --name schema --data-dir "$data")
port=$(free_port)
BUILDSNAP_ADMIN_TOKEN="$admin" "$bin/buildsnap" serve --listen "127.0.0.1:$port" --data-dir "$data" \
  --allow-hosts "http://127.0.0.1:$sim_port" --sync-interval 0 --log warn >"$work/server.log" 2>&1 &
pids+=($!)
base="http://127.0.0.1:$port"
wait_for "http://127.0.0.1:$sim_port/api/v2/me" "the simulator"
wait_for "$base/healthz" "buildsnap serve"

export SCHEMATHESIS_HOOKS=hooks
export PYTHONPATH="$PWD/tests/schema${PYTHONPATH:+:$PYTHONPATH}"
export SCHEMA_SIM_URL="http://127.0.0.1:$sim_port" SCHEMA_ORG=acme

# One worker: with two, hypothesis describes strategies from two threads at
# once, and CPython 3.11 before 3.11.8 shares ast.parse's recursion counter
# between threads (gh-106905), so a run could die with "AST constructor
# recursion depth mismatch" at random. It did, once, in CI.
st() {
  "$venv/bin/st" --config-file tests/schema/schemathesis.toml run "$base/api/v1/openapi.json" --checks all --max-examples "$examples" \
    --seed 1 --workers 1 --no-color --suppress-health-check all "$@"
}
status=0
echo "== schemathesis: every operation, admin token"
st -H "Authorization: Bearer $admin" || status=1
echo "== schemathesis: the org's operations, org token"
st -H "Authorization: Bearer $org_token" --include-path-regex '^/api/v1/orgs/\{org\}' || status=1
if grep -q ' ERROR ' "$work/server.log"; then
  echo "the server logged errors:" >&2
  grep ' ERROR ' "$work/server.log" | head -20 >&2
  status=1
fi
exit "$status"
