#!/usr/bin/env bash
# Durable ingest over HTTP and NDJSON import: prints figures and the ratio to the parse-only anchor.
# Usage: bash bench/ingest.sh [EVENTS] [CONNECTIONS]
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS="${1:-1000000}"
CONNECTIONS="${2:-16}"
cargo build --release -q -p herald -p herald-bench
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=$(mktemp -d)
trap 'kill ${SERVER:-} 2>/dev/null || true; rm -rf "$WORK"' EXIT

# One load against a fresh store; with "library", every library segment is kept live meanwhile.
load() {
  local store="$WORK/store-$1"
  "$BIN/herald" init --data "$store" --write-key bench-key --admin-token bench-admin >/dev/null 2>&1
  if [ "$1" = library ]; then
    "$BIN/herald" segments library > "$WORK/library.seg"
    "$BIN/herald" segments apply "$WORK/library.seg" --data "$store" >/dev/null 2>&1
  fi
  "$BIN/herald" serve --data "$store" --listen 127.0.0.1:18080 2>"$WORK/serve.log" &
  SERVER=$!
  for _ in $(seq 50); do curl -sf http://127.0.0.1:18080/healthz >/dev/null && break; sleep 0.1; done
  "$BIN/ingest-load" --url http://127.0.0.1:18080 --write-key bench-key --events "$EVENTS" --connections "$CONNECTIONS" | tee "$WORK/load-$1.json"
  kill -TERM $SERVER; wait $SERVER || true
}

echo "== durable HTTP ingest (/v1/batch, $CONNECTIONS connections), no segments"
load plain
echo "== the same with all library segments kept live"
load library
python3 - "$WORK/load-plain.json" "$WORK/load-library.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1])); b = json.load(open(sys.argv[2]))
print(json.dumps({"with_library_to_without": round(b["durable_events_per_s"] / a["durable_events_per_s"], 3)}))
PY

echo "== NDJSON import"
"$BIN/herald" generate --profiles $((EVENTS / 30)) --days 90 --seed 11 --end now -o "$WORK/events.ndjson" 2>/dev/null
LINES=$(wc -l < "$WORK/events.ndjson")
"$BIN/herald" init --data "$WORK/import" >/dev/null 2>&1
START=$(date +%s.%N)
"$BIN/herald" import "$WORK/events.ndjson" --data "$WORK/import" >/dev/null
END=$(date +%s.%N)
python3 -c "import sys; n=$LINES; s=$END-$START; print(f'{{\"import_events\": {n}, \"seconds\": {s:.2f}, \"events_per_s\": {n/s:.0f}}}')"
