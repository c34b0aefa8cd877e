#!/usr/bin/env bash
# Segment backfill: Herald replaying its store through the library vs DuckDB running the same
# rules as SQL over the same events, in the same run.
# Usage: bash bench/segments.sh [PROFILES] [DAYS]   (defaults: 200000 profiles, 270 days ~ 10M events)
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILES="${1:-200000}"
DAYS="${2:-270}"
cargo build --release -q -p herald -p herald-bench
python3 -c "import duckdb" 2>/dev/null || pip install -q duckdb==2.0.0
BIN=${CARGO_TARGET_DIR:-target}/release
WORK=${BENCH_WORK:-$(mktemp -d)}
mkdir -p "$WORK"
if [ ! -f "$WORK/store/herald.db" ]; then
  echo "== generating $PROFILES profiles over $DAYS days and importing (not timed)" >&2
  "$BIN/herald" generate --profiles "$PROFILES" --days "$DAYS" --seed 5 --end 2026-11-01T00:00:00Z -o "$WORK/events.ndjson"
  "$BIN/herald" init --data "$WORK/store" >/dev/null 2>&1
  "$BIN/herald" import "$WORK/events.ndjson" --data "$WORK/store" >/dev/null
  rm -f "$WORK/events.ndjson"
fi
NOW=$(python3 -c "import calendar; print(calendar.timegm((2026,11,1,0,0,0))*1000)")
echo "== Herald backfill of the library" >&2
"$BIN/segment-backfill" --data "$WORK/store" --now "$NOW" > "$WORK/herald.json"
echo "== DuckDB, same rules as SQL" >&2
python3 bench/segments_duckdb.py "$WORK/store/herald.db" "$NOW" > "$WORK/duckdb.json"
python3 - "$WORK/herald.json" "$WORK/duckdb.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2]))
print(json.dumps({
    "events": h["events"],
    "herald_seconds": round(h["seconds"], 3),
    "herald_runs": [round(x, 3) for x in h["runs"]],
    "herald_cold_seconds": round(h["cold_seconds"], 3),
    "replay_log_bytes_per_event": round(h["replay_log_bytes"] / max(h["replay_log_messages"], 1), 1),
    "herald_events_per_s": h["events_per_s"],
    "state_bytes_per_profile": round(h["state_bytes_per_profile"], 1),
    "duckdb_seconds": d["seconds"],
    "duckdb_runs": d["runs"],
    "duckdb_threads": d["threads"],
    "ratio_herald_to_duckdb": round(h["seconds"] / d["seconds"], 3),
    "ratio_cold_herald_to_duckdb": round(h["cold_seconds"] / d["seconds"], 3),
    "timers_per_s": h["timers_per_s"],
}, indent=2))
diff = {k: (h["counts"].get(k), d["counts"][k]) for k in d["counts"] if h["counts"].get(k) != d["counts"][k]}
print("segment sizes that differ (herald, duckdb):", json.dumps(diff) if diff else "none")
PY
