#!/usr/bin/env bash
# Message delivery: personalised emails rendered and handed to a loopback SMTP server by the
# dispatcher (consent, suppression, Liquid, tracked links, MIME, DKIM, pooled SMTP, committed
# outcomes with their events), without DKIM, with Ed25519 and with RSA-2048 signatures; and open
# pixel hits over HTTP; then the `recommendations` email, four "recommended for you" products from
# the live model and the catalog in each. Goal: >= 2,000 messages/s (Postal manages ~20/s, Mautic
# ~4/s).
# Usage: bash bench/messages.sh [MESSAGES] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
MESSAGES="${1:-20000}"
RUNS="${2:-3}"
cargo build --release -q -p herald-bench --bin message-delivery
BIN=${CARGO_TARGET_DIR:-target}/release/message-delivery
for run in "none welcome_1" "ed25519 welcome_1" "rsa welcome_1" "none recommendations"; do
  read -r dkim template <<<"$run"
  for _ in $(seq "$RUNS"); do
    "$BIN" --messages "$MESSAGES" --hits "$MESSAGES" --dkim "$dkim" --template "$template"
  done | python3 -c '
import json, statistics, sys
runs = [json.loads(l) for l in sys.stdin if l.startswith("{")]
rate = statistics.median(r["messages_per_second"] for r in runs)
hits = statistics.median(r["tracking_hits_per_second"] for r in runs)
print(json.dumps({"dkim": runs[0]["dkim"], "template": runs[0]["template"], "messages": runs[0]["messages"], "runs": len(runs),
  "median_messages_per_second": round(rate), "goal": 2000, "ratio_to_goal": round(rate / 2000, 2),
  "median_tracking_hits_per_second": round(hits),
  "all_messages_per_second": [round(r["messages_per_second"]) for r in runs]}))'
done
