#!/usr/bin/env bash
# HTTP read benchmark (docs/performance.md, "HTTP API"): wrk against
# `GET /api/v1/orgs/{org}/deploys/{id}/builds` with COUNT deploys stored, side
# by side with nginx serving the very same response bytes as static files, and
# wrk against the first page of the deploy list.
#
#   apt-get install -y wrk nginx jq curl      # zstd too, for the decode check
#   host/api/examples/bench_http.sh            # from the repository root
#   COUNT=1000000 SETS=complete DURATION=20s host/api/examples/bench_http.sh
#
# The last line is the 1,000,000-deploy case: only the `complete` set (no 1M
# registrations over HTTP); its time is mostly `seed_deploys complete` (20,000
# deploys took 20 s on the 2-core machine), then about 4 min of wrk with the
# defaults. A small smoke run: COUNT=20000 DURATION=5s ROUNDS=1 SETS=complete.
#
# Data sets (SETS picks which, in that order), each in its own data dir with
# COUNT deploys:
#   plain    - registered through the HTTP API without an integration, so
#              every snapshot is `no_build_server` (body ~0.4 KB);
#   complete - stored by `seed_deploys complete` with the server stopped: each
#              snapshot `complete` with 5 builds and 25 jobs (body ~10 KB of
#              JSON, ~1 KB as zstd). Its output (bytes stored per deploy, per
#              table) is in the log and the summary.
#
# Content coding: ENCODING is what every request accepts, for both servers:
# `zstd` (default; buildsnap passes the stored zstd frame through), `gzip`
# (buildsnap compresses per request) or `identity` (no Accept-Encoding header
# at all, as the earlier published rounds). nginx serves the bytes buildsnap
# answered with that Accept-Encoding (fetched raw, not decoded), stored under
# the same paths, with the same `Content-Encoding` added and its own gzip off;
# `cmp` checks nginx's raw answer against buildsnap's for every stored id, and
# the `Content-Encoding` of both is checked. With `zstd` installed, decoded
# answers are also compared with the plain JSON.
#
# For each data set:
#   1. fixed id (the middle one): wrk on buildsnap and on nginx, alternating,
#      ROUNDS times each (the earlier published figures, now with ENCODING);
#   2. random ids: buildsnap gets a random id in MIN..MAX per request; nginx a
#      random one of SAMPLE distinct random ids whose answers it holds (all
#      in the page cache: a smaller working set than buildsnap's); both
#      alternating, ROUNDS times each, the Authorization and Accept-Encoding
#      headers set by the lua scripts (OUT/random-*.lua). VmRSS/VmHWM (and RssAnon/RssFile) of
#      buildsnap are read from /proc/PID/status right after each of its runs
#      (VmHWM: peak since it started, so the fixed rounds count too);
#   3. deploy list: `GET /api/v1/orgs/{org}/deploys` (first page, default
#      limit 50, ENCODING accepted) on buildsnap, once per connection count
#      in LIST_CONNECTIONS.
# Then a summary (also in OUT/summary.txt): req/s, p50, p99 (from wrk's
# "Latency Distribution"), non-2xx answers and socket errors of every run;
# buildsnap/nginx rate ratios per round and over all rounds; the aims (random
# reads at CONNECTIONS: p99 under 5 ms, 0.5x nginx's rate or better; list: p99
# under 5 ms) met or missed; memory; the checks; bytes per deploy. Everything
# listens on 127.0.0.1 only; all servers are stopped on exit.
#
# Settings (environment): COUNT (100000), SETS ("plain complete"), ENCODING
# (zstd), SAMPLE (2000), DURATION (20s), CONNECTIONS (64), THREADS (2),
# ROUNDS (2), LIST_CONNECTIONS ("1 $CONNECTIONS"), BS_PORT (18480),
# NGINX_PORT (18481), NGINX_WORKERS (2), OUT (a new temp dir: data dirs,
# bodies, wrk output, lua scripts, summary). REUSE_COMPLETE=DIR with
# REUSE_IDS="ids MIN..=MAX" (seed_deploys' output line) measures the
# `complete` set on a data dir seeded before (`seed_deploys complete DIR
# acme web COUNT`; its org must be `acme`) instead of seeding anew: the
# million-deploy seed takes about 20 minutes.
set -euo pipefail

COUNT=${COUNT:-100000}
SETS=${SETS:-plain complete}
ENCODING=${ENCODING:-zstd}
SAMPLE=${SAMPLE:-2000}
DURATION=${DURATION:-20s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
LIST_CONNECTIONS=${LIST_CONNECTIONS:-1 $CONNECTIONS}
BS_PORT=${BS_PORT:-18480}
NGINX_PORT=${NGINX_PORT:-18481}
NGINX_WORKERS=${NGINX_WORKERS:-2}
OUT=${OUT:-$(mktemp -d /tmp/bench-http.XXXXXX)}
REUSE_COMPLETE=${REUSE_COMPLETE:-}
REUSE_IDS=${REUSE_IDS:-}
ADMIN=bench-admin-token-0123456789abcdef
ORG=acme
PROJECT=web

for s in $SETS; do
    case $s in
    plain | complete) ;;
    *) echo "SETS: unknown data set '$s' (plain, complete)" >&2; exit 1 ;;
    esac
done
case $ENCODING in
identity) AE= ;;
zstd | gzip) AE=$ENCODING ;;
*) echo "ENCODING: '$ENCODING' is none of identity, zstd, gzip" >&2; exit 1 ;;
esac
# The Accept-Encoding header of every request (none for identity).
AE_HEADER=()
[ -n "$AE" ] && AE_HEADER=(-H "Accept-Encoding: $AE")

for c in wrk nginx jq curl cargo shuf cmp; do
    command -v "$c" >/dev/null || { echo "missing $c (apt-get install -y wrk nginx jq curl)" >&2; exit 1; }
done
cd "$(dirname "$0")/../../.."
cargo build --release -p buildsnap
cargo build --release -p buildsnap-api --example seed_deploys
BIN=target/release/buildsnap
SEED=target/release/examples/seed_deploys
mkdir -p "$OUT"
for s in $SETS; do
    [ ! -e "$OUT/data-$s" ] || { echo "$OUT/data-$s exists: give a new or empty OUT" >&2; exit 1; }
done
: >"$OUT/runs.tsv"
: >"$OUT/memory.txt"
: >"$OUT/bytes.txt"
: >"$OUT/checks.txt"
echo "output in $OUT; COUNT=$COUNT SETS='$SETS' ENCODING=$ENCODING SAMPLE=$SAMPLE" \
    "DURATION=$DURATION CONNECTIONS=$CONNECTIONS THREADS=$THREADS ROUNDS=$ROUNDS" \
    "LIST_CONNECTIONS='$LIST_CONNECTIONS'"

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
# answers are stored under the same paths as the API route, so both servers
# get byte-identical requests and send byte-identical bodies. Stored bodies
# are already encoded: nginx adds the matching Content-Encoding (and Vary, as
# buildsnap) and never compresses them itself (gzip off, no gzip_static).
start_nginx() {
    local conf=$OUT/nginx coding= user=
    mkdir -p "$conf/tmp" "$OUT/www"
    [ -n "$AE" ] && coding="add_header Content-Encoding $AE;"
    # Started as root, workers would read OUT as `nobody`, which a mktemp
    # OUT (0700) or curl's 0750 directories do not let in: same user instead.
    [ "$(id -u)" -eq 0 ] && user="user $(id -un) $(id -gn);"
    cat >"$conf/nginx.conf" <<EOF
$user
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
    gzip off;
    gzip_static off;
    client_body_temp_path $conf/tmp/body;
    proxy_temp_path $conf/tmp/proxy;
    fastcgi_temp_path $conf/tmp/fastcgi;
    uwsgi_temp_path $conf/tmp/uwsgi;
    scgi_temp_path $conf/tmp/scgi;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $OUT/www;
        location /api/ {
            $coding
            add_header Vary Accept-Encoding;
        }
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

builds_path() { # ID
    echo "/api/v1/orgs/$ORG/deploys/$1/builds"
}

# Fetches the answers for the ids in IDS_FILE from PORT, raw (Accept-Encoding
# ENCODING, not decoded), into DIR under their paths; one curl, one
# connection. Fails unless every answer is 200.
fetch_raw() { # PORT TOKEN IDS_FILE DIR
    local port=$1 token=$2 ids=$3 dir=$4 cfg codes id
    cfg=$(mktemp "$OUT/curl.XXXXXX")
    while read -r id; do
        printf 'url = "http://127.0.0.1:%s%s"\noutput = "%s%s"\n' \
            "$port" "$(builds_path "$id")" "$dir" "$(builds_path "$id")"
    done <"$ids" >"$cfg"
    codes=$(curl -s --create-dirs -K "$cfg" -H "Authorization: Bearer $token" \
        "${AE_HEADER[@]}" -w '%{http_code}\n')
    rm -f "$cfg"
    if [ "$(grep -cx 200 <<<"$codes")" -ne "$(wc -l <"$ids")" ]; then
        echo "fetching from port $port: not every answer was 200:" \
            "$(sort <<<"$codes" | uniq -c | awk '{ printf "%s x %s; ", $1, $2 }')" >&2
        exit 1
    fi
}

# The Content-Encoding an answer carries ("" for none) and its status line.
coding_of() { # URL TOKEN
    curl -s -o /dev/null -D - "$1" -H "Authorization: Bearer $2" "${AE_HEADER[@]}" \
        | tr -d '\r' | awk 'tolower($1) == "content-encoding:" { print $2 }'
}

# Appends one line to OUT/runs.tsv from a wrk output file:
# set, target, run, req/s, p50 ms, p99 ms, non-2xx answers, socket errors.
record() { # SET TARGET RUN WRK_FILE
    awk -v set="$1" -v target="$2" -v run="$3" '
        function ms(v) {
            if (v ~ /us$/) return sprintf("%.2f", v / 1000)
            if (v ~ /ms$/) return sprintf("%.2f", v + 0)
            if (v ~ /m$/) return sprintf("%.2f", v * 60000)
            if (v ~ /s$/) return sprintf("%.2f", v * 1000)
            return v
        }
        /Requests\/sec:/ { rps = sprintf("%.0f", $2) }
        /Latency Distribution/ { dist = 1 }
        dist && $1 == "50%" { p50 = ms($2) }
        dist && $1 == "99%" { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { non2xx = $NF }
        /Socket errors:/ { sub(/.*Socket errors: */, ""); gsub(/,/, ""); errors = $0 }
        END {
            printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", set, target, run,
                rps, p50, p99, non2xx == "" ? 0 : non2xx, errors == "" ? "-" : errors
        }' "$4" >>"$OUT/runs.tsv"
}

# VmRSS, VmHWM, RssAnon, RssFile of buildsnap now, printed and kept.
memory() { # LABEL
    local line
    line="$1: $(awk '/^(VmRSS|VmHWM|RssAnon|RssFile):/ { printf "%s %d MB  ", $1, $2 / 1024 }' \
        "/proc/$BS_PID/status")"
    echo "   memory $line" | tee -a "$OUT/memory.txt"
}

wrk_run() { # SET TARGET RUN CONNECTIONS -- WRK_ARGS...
    local set=$1 target=$2 run=$3 conns=$4 threads=$THREADS
    shift 5
    [ "$conns" -lt "$threads" ] && threads=$conns
    local file="$OUT/wrk-$set-$target-$run.txt"
    echo "-- $set $target $run, $conns connections (load: $(cut -d' ' -f1-3 /proc/loadavg))"
    wrk -t"$threads" -c"$conns" -d"$DURATION" --latency "$@" | tee "$file"
    record "$set" "$target" "$run" "$file"
}

# A wrk script asking for `builds` of a random deploy per request. Both
# servers' scripts build the path the same way; ID_EXPR picks the id.
random_lua() { # FILE TOKEN PRELUDE ID_EXPR
    {
        cat <<EOF
-- generated by bench_http.sh
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("seed", os.time() * 1000 + threads)
end
function init(args)
    math.randomseed(seed)
end
wrk.headers["Authorization"] = "Bearer $2"
EOF
        [ -n "$AE" ] && echo "wrk.headers[\"Accept-Encoding\"] = \"$AE\""
        echo "$3"
        cat <<EOF
request = function()
    return wrk.format(nil, "/api/v1/orgs/$ORG/deploys/" .. $4 .. "/builds")
end
EOF
    } >"$1"
}

measure() { # NAME TOKEN MIN_ID MAX_ID
    local name=$1 token=$2 min=$3 max=$4
    local id=$(((min + max) / 2))
    local path
    path=$(builds_path "$id")
    local bs="http://127.0.0.1:$BS_PORT" ng="http://127.0.0.1:$NGINX_PORT"

    # The answers nginx serves: the fixed id and SAMPLE distinct random ids.
    rm -rf "$OUT/www/api" "$OUT/check-$name"
    shuf -i "$min-$max" -n "$SAMPLE" >"$OUT/sample-$name.txt"
    { echo "$id"; cat "$OUT/sample-$name.txt"; } | sort -nu >"$OUT/ids-$name.txt"
    local n
    n=$(wc -l <"$OUT/ids-$name.txt")
    fetch_raw "$BS_PORT" "$token" "$OUT/ids-$name.txt" "$OUT/www"
    # Checks: nginx's raw answers are buildsnap's (fetched again), byte for
    # byte, for every stored id; both carry Content-Encoding ENCODING.
    fetch_raw "$NGINX_PORT" "$token" "$OUT/ids-$name.txt" "$OUT/check-$name/nginx"
    fetch_raw "$BS_PORT" "$token" "$OUT/ids-$name.txt" "$OUT/check-$name/buildsnap"
    local differ=0
    while read -r i; do
        cmp -s "$OUT/check-$name/nginx$(builds_path "$i")" \
            "$OUT/check-$name/buildsnap$(builds_path "$i")" \
            || { echo "deploy $i: nginx's bytes differ from buildsnap's" >&2; differ=$((differ + 1)); }
    done <"$OUT/ids-$name.txt"
    [ "$differ" -eq 0 ] || { echo "$differ of $n answers differ" >&2; exit 1; }
    local bs_coding ng_coding
    bs_coding=$(coding_of "$bs$path" "$token")
    ng_coding=$(coding_of "$ng$path" "$token")
    if [ "$bs_coding" != "$AE" ] || [ "$ng_coding" != "$AE" ]; then
        echo "Content-Encoding: buildsnap '$bs_coding', nginx '$ng_coding', want '$AE'" >&2
        exit 1
    fi
    # Decoded, an encoded answer is the plain JSON (a few ids).
    local decoder=
    case $AE in
    zstd) command -v zstd >/dev/null && decoder="zstd -dcq" ;;
    gzip) decoder="gzip -dc" ;;
    esac
    local decoded="no decode check"
    if [ -n "$decoder" ]; then
        for i in $(head -n 20 "$OUT/ids-$name.txt"); do
            $decoder <"$OUT/www$(builds_path "$i")" \
                | cmp -s - <(curl -sf "$bs$(builds_path "$i")" -H "Authorization: Bearer $token") \
                || { echo "deploy $i: decoded $AE answer is not the plain JSON" >&2; exit 1; }
        done
        decoded="decoded = plain JSON for $(head -n 20 "$OUT/ids-$name.txt" | wc -l) ids"
    fi
    curl -sf "$bs$path" -H "Authorization: Bearer $token" -o "$OUT/body-$name.json"
    jq -e .builds "$OUT/body-$name.json" >/dev/null
    cp "$OUT/www$path" "$OUT/body-$name.$ENCODING"
    local check="$name: $n answers ($ENCODING) cmp-equal on nginx and buildsnap,"
    check="$check Content-Encoding '${AE:-none}' on both, $decoded"
    echo "$check" | tee -a "$OUT/checks.txt"
    echo "   headers of deploy $id from buildsnap:"
    curl -s -o /dev/null -D - "$bs$path" -H "Authorization: Bearer $token" "${AE_HEADER[@]}" \
        | tr -d '\r' | sed 's/^/     /'
    echo "   headers of deploy $id from nginx:"
    curl -s -o /dev/null -D - "$ng$path" -H "Authorization: Bearer $token" "${AE_HEADER[@]}" \
        | tr -d '\r' | sed 's/^/     /'

    echo "== $name: deploy $id of ids $min..$max, body $(wc -c <"$OUT/body-$name.json") bytes" \
        "plain, $(wc -c <"$OUT/www$path") bytes sent ($ENCODING)"
    memory "$name buildsnap before the runs"
    for round in $(seq "$ROUNDS"); do
        for target in buildsnap nginx; do
            local port=$BS_PORT
            [ "$target" = nginx ] && port=$NGINX_PORT
            wrk_run "$name" "$target" "fixed-$round" "$CONNECTIONS" -- \
                "http://127.0.0.1:$port$path" -H "Authorization: Bearer $token" "${AE_HEADER[@]}"
        done
    done

    random_lua "$OUT/random-buildsnap-$name.lua" "$token" "" "math.random($min, $max)"
    random_lua "$OUT/random-nginx-$name.lua" "$token" \
        "local ids = { $(paste -sd, "$OUT/sample-$name.txt") }" "ids[math.random(#ids)]"
    echo "== $name: random ids, buildsnap any of $min..$max, nginx one of $SAMPLE sampled"
    for round in $(seq "$ROUNDS"); do
        wrk_run "$name" buildsnap "random-$round" "$CONNECTIONS" -- \
            -s "$OUT/random-buildsnap-$name.lua" "$bs"
        memory "$name buildsnap after random-$round ($CONNECTIONS connections)"
        wrk_run "$name" nginx "random-$round" "$CONNECTIONS" -- \
            -s "$OUT/random-nginx-$name.lua" "$ng"
    done

    # The first page of the deploy list, default limit: plain and as sent.
    local list="/api/v1/orgs/$ORG/deploys" page=$OUT/list-$name.json
    curl -sf "$bs$list" -H "Authorization: Bearer $token" -o "$page"
    curl -sf "$bs$list" -H "Authorization: Bearer $token" "${AE_HEADER[@]}" -o "$page.$ENCODING"
    local want=$((max - min + 1 < 50 ? max - min + 1 : 50)) list_coding
    jq -e --argjson n "$want" '(.deploys | length) == $n' "$page" >/dev/null \
        || { echo "$name: the first page of the deploy list does not hold $want deploys" >&2; exit 1; }
    list_coding=$(coding_of "$bs$list" "$token")
    [ "$list_coding" = "$AE" ] \
        || { echo "$name: deploy list Content-Encoding '$list_coding', want '$AE'" >&2; exit 1; }
    echo "== $name: deploy list, first page: $(jq '.deploys | length' "$page") deploys," \
        "$(wc -c <"$page") bytes plain, $(wc -c <"$page.$ENCODING") bytes sent" \
        "($ENCODING, Content-Encoding '${list_coding:-none}')," \
        "next_cursor $(jq -r 'if .next_cursor then "set" else "null" end' "$page")"
    for c in $LIST_CONNECTIONS; do
        wrk_run "$name" buildsnap "list-c$c" "$c" -- \
            "$bs$list" -H "Authorization: Bearer $token" "${AE_HEADER[@]}"
    done
    memory "$name buildsnap at the end"
}

ids() { # "N deploys in T s, ids MIN..=MAX" -> "MIN MAX"
    sed -n 's/.*ids \([0-9]*\)\.\.=\([0-9]*\).*/\1 \2/p'
}

summary() {
    echo
    echo "== summary: COUNT=$COUNT ENCODING=$ENCODING DURATION=$DURATION THREADS=$THREADS" \
        "CONNECTIONS=$CONNECTIONS (list: $LIST_CONNECTIONS) SAMPLE=$SAMPLE ROUNDS=$ROUNDS"
    echo "   (latencies in ms; VmHWM is the peak since buildsnap started)"
    {
        printf 'set\ttarget\trun\treq/s\tp50\tp99\tnon-2xx\tsocket errors\n'
        cat "$OUT/runs.tsv"
    } | column -t -s $'\t'
    echo
    echo "buildsnap/nginx req/s:"
    awk -F'\t' '
        $3 ~ /^(fixed|random)-/ { rps[$1 "\t" $3 "\t" $2] = $4; if (!seen[$1 "\t" $3]++) order[n++] = $1 "\t" $3 }
        END {
            for (i = 0; i < n; i++) {
                k = order[i]; b = rps[k "\tbuildsnap"]; g = rps[k "\tnginx"]
                split(k, p, "\t"); kind = p[2]; sub(/-[0-9]+$/, "", kind)
                if (g > 0) {
                    printf "  %-10s %-10s %.2fx (%d / %d)\n", p[1], p[2], b / g, b, g
                    a = p[1] " " kind
                    if (!(a in sb)) all[m++] = a
                    sb[a] += b; sg[a] += g
                }
            }
            for (i = 0; i < m; i++) {
                a = all[i]
                printf "  %-21s all rounds: %.2fx (%d / %d req/s summed)\n", a, sb[a] / sg[a], sb[a], sg[a]
            }
        }' "$OUT/runs.tsv"
    echo
    echo "aims (random reads: p99 under 5 ms and 0.5x nginx's rate or better; list: p99 under 5 ms):"
    awk -F'\t' -v conns="$CONNECTIONS" '
        function verdict(ok) { return ok ? "met" : "missed" }
        $2 == "buildsnap" && $3 ~ /^random-/ {
            if (!($1 in worst) || $6 + 0 > worst[$1]) worst[$1] = $6 + 0
            b[$1] += $4; if (!seen[$1]++) sets[n++] = $1
        }
        $2 == "nginx" && $3 ~ /^random-/ { g[$1] += $4 }
        $2 == "buildsnap" && $3 ~ /^list-c/ { list[$1] = list[$1] (list[$1] == "" ? " " : "; ") sprintf("%s p50 %s p99 %s (%s)", $3, $5, $6, verdict($6 + 0 < 5)) }
        END {
            for (i = 0; i < n; i++) {
                k = sets[i]
                r = g[k] > 0 ? b[k] / g[k] : 0
                printf("  %-9s random, %d connections: worst p99 %.2f ms (%s), %.3fx nginx (%s)\n", k, conns,
                    worst[k], verdict(worst[k] < 5), r, verdict(r >= 0.5))
                if (k in list) printf "  %-9s list, first page:%s\n", k, list[k]
            }
        }' "$OUT/runs.tsv"
    echo
    echo "memory of buildsnap (/proc/PID/status):"
    sed 's/^/  /' "$OUT/memory.txt"
    echo
    echo "checks:"
    sed 's/^/  /' "$OUT/checks.txt"
    if [ -s "$OUT/bytes.txt" ]; then
        echo
        echo "bytes per deploy (seed_deploys complete):"
        sed 's/^/  /' "$OUT/bytes.txt"
    fi
}

start_nginx

for set in $SETS; do
    case $set in
    plain)
        # COUNT `no_build_server` deploys registered through the API.
        start_buildsnap "$OUT/data-plain"
        TOKEN=$(setup_org)
        SEEDED=$("$SEED" http "http://127.0.0.1:$BS_PORT" "$ORG" "$PROJECT" "$TOKEN" "$COUNT" 8)
        echo "plain: $SEEDED"
        read -r MIN MAX < <(ids <<<"$SEEDED")
        measure plain "$TOKEN" "$MIN" "$MAX"
        stop_buildsnap
        ;;
    complete)
        if [ -n "$REUSE_COMPLETE" ]; then
            # A data dir seeded by an earlier run: a new org token only.
            start_buildsnap "$REUSE_COMPLETE"
            TOKEN=$(api POST "/orgs/$ORG/tokens" '{"name":"bench","scope":"all"}' | jq -r .token)
            read -r MIN MAX < <(ids <<<"$REUSE_IDS")
            measure complete "$TOKEN" "$MIN" "$MAX"
            stop_buildsnap
            continue
        fi
        # COUNT `complete` deploys with 5 builds each, stored directly.
        start_buildsnap "$OUT/data-complete"
        TOKEN=$(setup_org)
        stop_buildsnap
        SEEDED=$("$SEED" complete "$OUT/data-complete" "$ORG" "$PROJECT" "$COUNT")
        echo "complete: $SEEDED"
        { echo "complete, COUNT=$COUNT:"; sed -n '/bytes/p' <<<"$SEEDED"; } >>"$OUT/bytes.txt"
        read -r MIN MAX < <(ids <<<"$SEEDED")
        start_buildsnap "$OUT/data-complete"
        measure complete "$TOKEN" "$MIN" "$MAX"
        stop_buildsnap
        ;;
    esac
done

summary | tee "$OUT/summary.txt"
echo "done; wrk output in $OUT"
