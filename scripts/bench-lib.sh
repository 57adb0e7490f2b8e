# Shared by the bench scripts (sourced, not run).

# Wait until the server $SERVER on $PORT answers /healthz. Python and
# JavaScript plugins take minutes to compile on an empty cache (a release
# server on 2 cores): say so every 30 s instead of giving up; fail if the
# server exits or does not answer within 600 s.
wait_until_up() {
  for i in $(seq 6000); do
    curl -sf "localhost:$PORT/healthz" >/dev/null && return 0
    kill -0 "$SERVER" 2>/dev/null || { echo "the server exited before it answered" >&2; return 1; }
    [ $((i % 300)) -eq 0 ] && echo "waiting for the server ($((i / 10)) s): compiling plugins into $CACHE" >&2
    sleep 0.1
  done
  echo "the server did not come up in 600 s" >&2
  return 1
}

# Write a wrk script to $1 that POSTs the JSON body $2 with the bearer
# token $3.
wrk_post() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.body = '$2'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $3"
LUA
}

# The decision every decide bench asks: copilot, for alice, reads the ledger.
DECIDE_BODY='{"action":"sql.read","assets":["finance/ledger"],"intent":"task: bench"}'
