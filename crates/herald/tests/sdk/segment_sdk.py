"""Drives a running `herald serve` with Segment's own Python SDK (segment-analytics-python).

Usage: segment_sdk.py HOST WRITE_KEY USERS
Prints one JSON object: the messageIds the SDK enqueued and any errors it reported.
"""
import json
import sys

import segment.analytics as analytics

host, write_key, users = sys.argv[1], sys.argv[2], int(sys.argv[3])
errors = []
analytics.write_key = write_key
analytics.host = host
analytics.gzip = True
analytics.max_retries = 2
analytics.on_error = lambda error, batch: errors.append(repr(error))

ids = []


def sent(result):
    ok, msg = result
    if not ok:
        errors.append("not enqueued: " + json.dumps(msg, default=str))
    ids.append(msg["messageId"])


for i in range(users):
    anon = f"anon-{i}"
    sent(analytics.page(anonymous_id=anon, name="Home", properties={"path": "/"}))
    sent(analytics.track(anonymous_id=anon, event="Product Viewed", properties={"product_id": f"p{i % 17}", "price": 19.99}))
    sent(analytics.identify(user_id=f"user-{i}", anonymous_id=anon, traits={"email": f"user{i}@example.com", "plan": "trial"}))
    sent(analytics.track(user_id=f"user-{i}", event="Order Completed", properties={"revenue": 10 + i, "cart_id": f"c{i}"}))

# History on both sides, then alias joins them.
sent(analytics.track(user_id="legacy-crm-1", event="Order Completed", properties={"revenue": 99}))
sent(analytics.alias(previous_id="legacy-crm-1", user_id="user-1"))
sent(analytics.group(user_id="user-2", group_id="acme", traits={"name": "Acme Inc"}))

analytics.flush()
analytics.shutdown()
print(json.dumps({"ids": ids, "errors": errors}))
