#!/usr/bin/env bash
# Hot swap under load, and the server's memory. Starts the release server
# on the demo policies and the shipped plugins (as `make run` does), then:
#
#   1. reads its RSS idle;
#   2. runs wrk on /v1/decide (the finance read, which calls finance-sop)
#      for DURATION seconds: the steady figures, and the RSS under load;
#   3. runs wrk again for DURATION seconds while SWAPS new versions of
#      finance-sop are uploaded and made live through the admin API, paced
#      to spread over the run (the same signed component under versions
#      1.0.1, 1.0.2, ...), counting failed requests and failed swaps.
#
# Prints both wrk runs, the p99 ratio swaps/steady, the swaps done and the
# RSS figures. Loopback only, bounded in time.
#
#   scripts/bench-swap.sh [duration-seconds] [swaps] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
DURATION=${1:-15}
SWAPS=${2:-100}
CONNECTIONS=${3:-64}
PORT=${PORT:-18183}
BIN=./target/release/steward
CACHE=${CACHE_DIR:-target/bench-compile-cache}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install -y wrk" >&2; exit 1; }
[ -x "$BIN" ] || { echo "$BIN is missing: make build" >&2; exit 1; }
[ -f plugins/finance-sop/plugin.sig ] || { echo "plugins are not built: make plugins" >&2; exit 1; }

DATA=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DATA"' EXIT
STEWARD_LOG=error $BIN serve --listen 127.0.0.1:$PORT --data "$DATA" --cache-dir "$CACHE" --durability full &
SERVER=$!
wait_until_up
rss() { awk '/VmRSS/ { printf "%.0f MiB", $2 / 1024 }' /proc/$SERVER/status; }
sleep 2
echo "RSS idle, six shipped plugins loaded: $(rss)"

TOKEN=$($BIN token mint --key policies/demo/issuer.key --sub alice --act copilot --session bench --turn 1)
ADMIN=$(cat "$DATA/admin.token")
wrk_post "$DATA/decide.lua" "$DECIDE_BODY" "$TOKEN"
# One upload body per version, made before the load starts.
python3 - "$DATA" "$SWAPS" <<'PY'
import base64, json, pathlib, sys
data, swaps = pathlib.Path(sys.argv[1]), int(sys.argv[2])
plugin = pathlib.Path("plugins/finance-sop")
manifest = (plugin / "plugin.toml").read_text()
component = base64.b64encode((plugin / "plugin.wasm").read_bytes()).decode()
cases = (plugin / "cases.toml").read_text()
signature = (plugin / "plugin.sig").read_text()
for i in range(1, swaps + 1):
    body = {"manifest": manifest.replace('version = "1.0.0"', f'version = "1.0.{i}"', 1), "component_base64": component,
            "cases": cases, "signature": signature, "activate": True}
    (data / f"swap-{i}.json").write_text(json.dumps(body))
PY

run_wrk() { wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$DATA/decide.lua" "http://127.0.0.1:$PORT/v1/decide"; }
p99_ms() { awk '$1 == "99%" { v = $2; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }' "$1"; }

echo "== steady: wrk ${DURATION}s, ${CONNECTIONS} connections, 2 threads, audit durability full"
run_wrk > "$DATA/steady.txt" &
WRK=$!
sleep $((DURATION / 2))
LOADED=$(rss)
wait $WRK
cat "$DATA/steady.txt"
echo "RSS under load: $LOADED"

echo "== during ${SWAPS} swaps of finance-sop"
run_wrk > "$DATA/swaps.txt" &
WRK=$!
sleep 1
ok=0; failed=0; started=$(date +%s.%N)
PACE=$(echo "scale=3; ($DURATION - 5) / $SWAPS" | bc)
for i in $(seq "$SWAPS"); do
  sleep "$PACE"
  code=$(curl -s -o "$DATA/swap-out.json" -w '%{http_code}' -H "Authorization: Bearer $ADMIN" -H 'content-type: application/json' \
    --data-binary "@$DATA/swap-$i.json" "localhost:$PORT/admin/plugins")
  if [ "$code" = 200 ]; then ok=$((ok + 1)); else failed=$((failed + 1)); echo "swap $i: HTTP $code $(head -c 300 "$DATA/swap-out.json")" >&2; fi
done
took=$(echo "$(date +%s.%N) - $started" | bc)
wait $WRK
cat "$DATA/swaps.txt"
echo "swaps: $ok made live, $failed failed, in ${took} s (all within the wrk run: $(echo "$took < $DURATION - 1" | bc | sed 's/1/yes/;s/0/no/'))"
echo "live finance-sop: $(curl -s -H "Authorization: Bearer $ADMIN" localhost:$PORT/admin/plugins | python3 -c 'import json,sys; print([p["active"]["version"] for p in json.load(sys.stdin)["plugins"] if p["active"]["name"] == "finance-sop"])')"
steady=$(p99_ms "$DATA/steady.txt"); during=$(p99_ms "$DATA/swaps.txt")
echo "p99 steady ${steady} ms, during swaps ${during} ms, ratio $(echo "scale=2; $during / $steady" | bc)"
echo "failed requests during swaps (non-2xx, socket errors): $(grep -E 'Non-2xx|Socket errors' "$DATA/swaps.txt" || echo none)"
echo "RSS after: $(rss)"
kill $SERVER; wait $SERVER 2>/dev/null || true
echo "audit: $($BIN audit verify --db "$DATA/audit.db" | tail -1)"
