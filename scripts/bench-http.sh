#!/usr/bin/env bash
# /v1/decide throughput and latency on loopback with wrk (Debian package
# `wrk`). Starts the release server on the demo policies and plugins with a
# fresh data dir, runs a bounded load, prints wrk's figures, stops the server.
#
#   scripts/bench-http.sh [duration-seconds] [connections] [durability: full|process]
#
# SERVE_ARGS adds arguments to `steward serve` (e.g. SERVE_ARGS="--shadow-per-second 0").
# CHECKPOINT_MS (default 2000, the server's) sets how often the audit head is
# signed; CHECKPOINT_MS=0 CHECKPOINT_RECORDS=1000000000 turns checkpoints off
# for a side-by-side figure.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
DURATION=${1:-10}
CONNECTIONS=${2:-64}
DURABILITY=${3:-full}
PORT=${PORT:-18181}
CHECKPOINT_MS=${CHECKPOINT_MS:-2000}
CHECKPOINT_RECORDS=${CHECKPOINT_RECORDS:-10000}
BIN=./target/release/steward
# Compiled plugins are kept across runs: only the first run of a fresh
# checkout pays for compiling the Python and JavaScript plugins.
CACHE=${CACHE_DIR:-target/bench-compile-cache}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$BIN" ] || { echo "$BIN is missing: make build" >&2; exit 1; }

DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
STEWARD_LOG=error $BIN serve --listen 127.0.0.1:$PORT --data "$DATA" --cache-dir "$CACHE" --durability "$DURABILITY" \
  --checkpoint-ms "$CHECKPOINT_MS" --checkpoint-records "$CHECKPOINT_RECORDS" ${SERVE_ARGS:-} &
SERVER=$!
wait_until_up

TOKEN=$($BIN token mint --key policies/demo/issuer.key --sub alice --act copilot --session bench --turn 1)
wrk_post "$DATA/decide.lua" "$DECIDE_BODY" "$TOKEN"
curl -s -H "Authorization: Bearer $TOKEN" -H 'content-type: application/json' localhost:$PORT/v1/decide \
  -d "$DECIDE_BODY"; echo
echo "wrk: ${DURATION}s, ${CONNECTIONS} connections, 2 threads, audit durability ${DURABILITY}, checkpoints every ${CHECKPOINT_MS} ms / ${CHECKPOINT_RECORDS} records"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DATA/decide.lua" "http://127.0.0.1:$PORT/v1/decide"
kill $SERVER; wait $SERVER 2>/dev/null || true
echo "audit: $($BIN audit verify --db "$DATA/audit.db")"
echo "checkpoints signed: $(ls "$DATA/witness" | wc -l)"
