#!/usr/bin/env bash
# /v1/query throughput and latency on the embedded SQLite demo warehouse,
# with wrk (Debian package `wrk`). Starts the release server on a copy of
# the demo policies whose daily budgets are raised out of the way (the
# budget is still reserved and settled on every query), runs a bounded
# load, prints wrk's figures, stops the server.
#
#   scripts/bench-query.sh [duration-seconds] [connections] [durability: full|process]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
DURATION=${1:-10}
CONNECTIONS=${2:-32}
DURABILITY=${3:-full}
PORT=${PORT:-18182}
BIN=./target/release/steward
# Compiled plugins are kept across runs: only the first run of a fresh
# checkout pays for compiling the Python and JavaScript plugins.
CACHE=${CACHE_DIR:-target/bench-compile-cache}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$BIN" ] || { echo "$BIN is missing: make build" >&2; exit 1; }

DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
cp -r policies "$DATA/policies"
sed -i -E 's/^(rows_per_day|pii_cells_per_day|queries_per_day) = .*/\1 = 1000000000000/' "$DATA/policies/data.toml"
STEWARD_LOG=warn $BIN serve --listen 127.0.0.1:$PORT --data "$DATA" --cache-dir "$CACHE" --policies "$DATA/policies" --durability "$DURABILITY" &
SERVER=$!
wait_until_up

TOKEN=$($BIN token mint --key policies/demo/issuer.key --sub bob)
BODY='{"sql":"SELECT c.customer_id, c.email, o.total FROM sales.customers c JOIN sales.orders o ON o.customer_id = c.customer_id WHERE o.total > 900 ORDER BY o.total DESC LIMIT 10"}'
wrk_post "$DATA/query.lua" "$BODY" "$TOKEN"
curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' localhost:$PORT/v1/query -d "$BODY" | head -c 600; echo
echo "wrk: ${DURATION}s, ${CONNECTIONS} connections, 2 threads, audit durability ${DURABILITY}"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DATA/query.lua" "http://127.0.0.1:$PORT/v1/query"
echo "audit records: $($BIN audit verify --db "$DATA/audit.db")"
