#!/usr/bin/env bash
# HTTP read benchmark (docs/performance.md, "HTTP API"): wrk against
# `GET /api/v1/orgs/{org}/deploys/{id}/builds` with COUNT deploys stored, side
# by side with nginx serving the very same JSON body as a static file.
#
#   apt-get install -y wrk nginx jq curl
#   host/api/examples/bench_http.sh            # from the repository root
#
# Two data sets, each in its own data dir with COUNT deploys:
#   plain    - registered through the HTTP API without an integration, so
#              every snapshot is `no_build_server` (body ~0.4 KB);
#   complete - stored by `seed_deploys complete` with the server stopped: each
#              snapshot `complete` with 5 builds and 25 jobs (body ~10 KB).
# For each: wrk on buildsnap and on nginx, alternating, ROUNDS times each, then
# once on buildsnap with a random deploy id per request (random.lua).
# Everything listens on 127.0.0.1 only; all servers are stopped on exit.
#
# Settings (environment): COUNT (100000), DURATION (20s), CONNECTIONS (64),
# THREADS (2), ROUNDS (2), BS_PORT (18480), NGINX_PORT (18481),
# NGINX_WORKERS (2), OUT (a new temp dir: data dirs, bodies, wrk output).
set -euo pipefail

COUNT=${COUNT:-100000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
BS_PORT=${BS_PORT:-18480}
NGINX_PORT=${NGINX_PORT:-18481}
NGINX_WORKERS=${NGINX_WORKERS:-2}
OUT=${OUT:-$(mktemp -d /tmp/bench-http.XXXXXX)}
ADMIN=bench-admin-token-0123456789abcdef
ORG=acme
PROJECT=web

for c in wrk nginx jq curl cargo; do
    command -v "$c" >/dev/null || { echo "missing $c (apt-get install -y wrk nginx jq curl)" >&2; exit 1; }
done
cd "$(dirname "$0")/../../.."
cargo build --release -p buildsnap
cargo build --release -p buildsnap-api --example seed_deploys
BIN=target/release/buildsnap
SEED=target/release/examples/seed_deploys
mkdir -p "$OUT"
echo "output in $OUT"

BS_PID=
NGINX_PID=
stop_buildsnap() {
    if [ -n "$BS_PID" ]; then
        kill -TERM "$BS_PID" 2>/dev/null || true
        wait "$BS_PID" 2>/dev/null || true
        BS_PID=
    fi
}
stop_nginx() {
    if [ -n "$NGINX_PID" ]; then
        kill -QUIT "$NGINX_PID" 2>/dev/null || true
        wait "$NGINX_PID" 2>/dev/null || true
        NGINX_PID=
    fi
}
trap 'stop_buildsnap; stop_nginx' EXIT

start_buildsnap() { # DATA_DIR
    "$BIN" serve --data-dir "$1" --listen "127.0.0.1:$BS_PORT" --admin-token "$ADMIN" \
        --sync-interval 0 --log warn >>"$OUT/buildsnap.log" 2>&1 &
    BS_PID=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$BS_PORT/healthz" >/dev/null && return 0
        sleep 0.2
    done
    echo "buildsnap did not start; see $OUT/buildsnap.log" >&2
    exit 1
}

api() { # METHOD PATH JSON -> response body
    curl -sf -X "$1" "http://127.0.0.1:$BS_PORT/api/v1$2" -H "Authorization: Bearer $ADMIN" \
        -H 'Content-Type: application/json' -d "$3"
}

# Org, org token (scope all), project and code deployment; prints the token.
setup_org() {
    api POST /orgs "{\"slug\":\"$ORG\",\"name\":\"Acme\"}" >/dev/null
    api POST "/orgs/$ORG/projects" "{\"slug\":\"$PROJECT\",\"name\":\"Web\"}" >/dev/null
    api POST "/orgs/$ORG/projects/$PROJECT/code-deployments" \
        "{\"slug\":\"main\",\"repo_url\":\"https://github.com/$ORG/$PROJECT\",\"branch\":\"main\"}" >/dev/null
    api POST "/orgs/$ORG/tokens" '{"name":"bench","scope":"all"}' | jq -r .token
}

# nginx: own config, loopback only, NGINX_WORKERS workers, no access log; the
# body is stored under the same path as the API route, so both servers get
# byte-identical requests and send byte-identical bodies.
start_nginx() {
    local conf=$OUT/nginx
    mkdir -p "$conf/tmp"
    cat >"$conf/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $conf/nginx.pid;
error_log $conf/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    default_type application/json;
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path $conf/tmp/body;
    proxy_temp_path $conf/tmp/proxy;
    fastcgi_temp_path $conf/tmp/fastcgi;
    uwsgi_temp_path $conf/tmp/uwsgi;
    scgi_temp_path $conf/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $OUT/www;
    }
}
EOF
    nginx -p "$conf" -c "$conf/nginx.conf" &
    NGINX_PID=$!
    for _ in $(seq 50); do
        curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/" && return 0
        sleep 0.1
    done
    echo "nginx did not start; see $conf/error.log" >&2
    exit 1
}

# Runs wrk against buildsnap and nginx, alternating, ROUNDS times each.
measure() { # NAME TOKEN MIN_ID MAX_ID
    local name=$1 token=$2 min=$3 max=$4
    local id=$(((min + max) / 2))
    local path="/api/v1/orgs/$ORG/deploys/$id/builds"
    mkdir -p "$OUT/www$(dirname "$path")"
    curl -sf "http://127.0.0.1:$BS_PORT$path" -H "Authorization: Bearer $token" -o "$OUT/www$path"
    cmp <(curl -sf "http://127.0.0.1:$NGINX_PORT$path") "$OUT/www$path"
    cp "$OUT/www$path" "$OUT/body-$name.json"
    echo "== $name: deploy $id of ids $min..$max, body $(wc -c <"$OUT/www$path") bytes"
    for round in $(seq "$ROUNDS"); do
        for target in buildsnap nginx; do
            local port=$BS_PORT
            [ "$target" = nginx ] && port=$NGINX_PORT
            echo "-- $name $target round $round (load: $(cut -d' ' -f1-3 /proc/loadavg))"
            wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency \
                "http://127.0.0.1:$port$path" -H "Authorization: Bearer $token" \
                | tee "$OUT/wrk-$name-$target-$round.txt"
        done
    done
    cat >"$OUT/random.lua" <<EOF
math.randomseed(os.time())
request = function()
    return wrk.format(nil, "/api/v1/orgs/$ORG/deploys/" .. math.random($min, $max) .. "/builds")
end
EOF
    echo "-- $name buildsnap, random deploy id per request (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s "$OUT/random.lua" \
        "http://127.0.0.1:$BS_PORT" -H "Authorization: Bearer $token" \
        | tee "$OUT/wrk-$name-buildsnap-random.txt"
}

ids() { # "N deploys in T s, ids MIN..=MAX" -> "MIN MAX"
    sed -n 's/.*ids \([0-9]*\)\.\.=\([0-9]*\).*/\1 \2/p'
}

start_nginx

# plain: COUNT `no_build_server` deploys registered through the API.
start_buildsnap "$OUT/data-plain"
TOKEN=$(setup_org)
SEEDED=$("$SEED" http "http://127.0.0.1:$BS_PORT" "$ORG" "$PROJECT" "$TOKEN" "$COUNT" 8)
echo "plain: $SEEDED"
read -r MIN MAX < <(ids <<<"$SEEDED")
measure plain "$TOKEN" "$MIN" "$MAX"
stop_buildsnap

# complete: COUNT `complete` deploys with 5 builds each, stored directly.
start_buildsnap "$OUT/data-complete"
TOKEN=$(setup_org)
stop_buildsnap
SEEDED=$("$SEED" complete "$OUT/data-complete" "$ORG" "$PROJECT" "$COUNT")
echo "complete: $SEEDED"
read -r MIN MAX < <(ids <<<"$SEEDED")
start_buildsnap "$OUT/data-complete"
measure complete "$TOKEN" "$MIN" "$MAX"
stop_buildsnap

echo "done; wrk output in $OUT"
