#!/bin/bash
# Usage: f9_measure.sh BINARY (see docs/reliability.md, F9).
# F9: 30 two-MiB POSTs (no Expect: 100-continue) with curl; counts answers.
BIN=$1; D=$(mktemp -d); PORT=$(python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
head -c 2097152 /dev/zero | tr '\0' x > $D/body
$BIN serve --listen 127.0.0.1:$PORT --data-dir $D/data --admin-token admin-token-0123456789abcdef --sync-interval 0 --log warn >/dev/null 2>$D/log &
PID=$!
for i in $(seq 1 600); do curl -sf http://127.0.0.1:$PORT/healthz >/dev/null && break; sleep 0.1; done
for i in $(seq 1 30); do
  curl -s -o /dev/null -w '%{http_code}\n' -H 'Expect:' -H 'content-type: application/json' -H 'authorization: Bearer admin-token-0123456789abcdef' --data-binary @$D/body http://127.0.0.1:$PORT/api/v1/orgs/acme/projects/web/deploys
done | sort | uniq -c
kill $PID; wait $PID 2>/dev/null; rm -rf $D
