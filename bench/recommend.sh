#!/usr/bin/env bash
# Recommendations at shop scale: ingest into the model, rebuild every similarity row, for-you and
# similar-item lookups against the 1 ms goal, and refreshes after new traffic, on synthetic data.
# Usage: bash bench/recommend.sh [recommend-build flags]
#   (defaults: --items 50000 --profiles 1000000 --interactions 10000000 --seed 7; needs ~0.6 GB)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p herald-bench --bin recommend-build
BIN=${CARGO_TARGET_DIR:-target}/release
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
"$BIN/recommend-build" "$@" > "$OUT"
python3 - "$OUT" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(json.dumps(r, indent=2))
f, s = r["for_you"], r["similar"]
print(f"ingest: {r['ingest_interactions_per_s']:,.0f} interactions/s ({r['interactions']:,} in {r['ingest_seconds']} s, one thread)")
print(f"rebuild: {r['rebuild_seconds']} s on {r['threads']} threads (runs {r['rebuild_runs']})")
print(f"memory: peak RSS {r['peak_rss_mb']} MB (includes the simulated interactions), model ~{r['model_heap_mb']} MB ({r['model_bytes_per_interaction']} B/interaction)")
print(f"for_you: p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, max {f['max_ms']} ms; p99/goal {f['p99_to_goal']}")
print(f"similar: p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms; p99/goal {s['p99_to_goal']}")
for x in r["refresh"]:
    print(f"refresh after {x['after_interactions']:,} interactions: {x['rows']:,} rows in {x['seconds']} s ({x['to_rebuild']} of a rebuild)")
PY
