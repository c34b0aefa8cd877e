#!/usr/bin/env bash
# Journey latency under load: event -> segment change -> journey send in the outbox, and
# event -> send with no segment hop, beside the DESIGN goal (p99 <= 20 ms).
# Usage: bash bench/journeys.sh [PINGS] [PING_RATE] [BACKGROUND_EVENTS_PER_S] [journey-latency flags...]
# (e.g. `--poll-ms 0` to leave out the live outbox watch; `journey-latency --help` lists them).
set -euo pipefail
cd "$(dirname "$0")/.."
PINGS="${1:-2000}"
PING_RATE="${2:-200}"
BACKGROUND="${3:-2000}"
shift $(( $# < 3 ? $# : 3 ))
PORT="${PORT:-18081}"
cargo build --release -q -p herald -p herald-bench
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)
trap 'kill ${SERVER:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT
STORE="$WORK/store"

"$BIN/herald" init --data "$STORE" --write-key bench-key --admin-token bench-admin >/dev/null 2>&1
cat > "$WORK/pinged.seg" <<'SEG'
segment pinged "Sent a Ping in the last day"
  count("Ping") in last 1 day >= 1
SEG
# Both journeys send at once, so each measures only how fast the runner gets to the send.
cat > "$WORK/ping.journeys" <<'JOURNEYS'
journey ping_segment "Email people as they enter pinged"
  on entering pinged
  entry once
do
  send email ping_segment
end

journey ping_direct "Email people on their Ping, no segment in between"
  on "Ping"
  entry once
do
  send email ping_direct
end
JOURNEYS
# Lint warnings (nobody has sent a Ping yet) are expected.
"$BIN/herald" segments apply "$WORK/pinged.seg" --data "$STORE" >/dev/null 2>&1
"$BIN/herald" journeys apply "$WORK/ping.journeys" --data "$STORE" 2>/dev/null

"$BIN/herald" serve --data "$STORE" --listen "127.0.0.1:$PORT" 2>"$WORK/serve.log" &
SERVER=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
"$BIN/journey-latency" --url "http://127.0.0.1:$PORT" --write-key bench-key --data "$STORE" \
  --pings "$PINGS" --ping-rate "$PING_RATE" --background-rate "$BACKGROUND" "$@"
kill -TERM $SERVER; wait $SERVER || true
