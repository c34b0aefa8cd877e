"""The DuckDB anchor for segment backfill: the library's rules as SQL over the same events.

Usage: python3 bench/segments_duckdb.py HERALD_DB NOW_MS [--threads N]

Reads Herald's SQLite event log (profile ids already resolved by Herald), loads it into DuckDB
with the properties the rules need as typed columns (not timed: DuckDB's best case), then times
running every library segment as one SQL query each. Prints JSON: seconds (median of 3 runs)
and each segment's member count, for comparison with Herald's backfill of the same store.
"""

import calendar
import csv
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time

import duckdb

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000


def load(db_path: str, con: duckdb.DuckDBPyConnection) -> int:
    src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    rows = src.execute(
        """
        SELECT e.profile_id, e.ts, e.kind, e.name,
               json_extract(e.body, '$.properties.revenue'),
               json_extract(e.body, '$.properties.product_id'),
               json_extract(e.body, '$.properties.link_url'),
               json_extract(e.body, '$.properties.campaign_id'),
               json_extract(e.body, '$.properties.category'),
               json_extract(e.body, '$.properties.form_id'),
               json_extract(e.body, '$.traits.plan'),
               json_extract(e.body, '$.traits.birthday')
        FROM events e
        WHERE e.source_id NOT IN (SELECT id FROM sources WHERE name = 'segments')
        """
    )
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False, newline="") as f:
        w = csv.writer(f)
        n = 0
        for r in rows:
            w.writerow(["" if v is None else v for v in r])
            n += 1
        path = f.name
    con.execute(
        f"""
        CREATE TABLE events AS SELECT * FROM read_csv('{path}', header=false, columns={{
            'profile_id': 'BIGINT', 'ts': 'BIGINT', 'kind': 'INTEGER', 'name': 'VARCHAR',
            'revenue': 'DOUBLE', 'product_id': 'VARCHAR', 'link_url': 'VARCHAR',
            'campaign_id': 'VARCHAR', 'category': 'VARCHAR', 'form_id': 'VARCHAR',
            'plan': 'VARCHAR', 'birthday': 'VARCHAR'}})
        """
    )
    os.unlink(path)
    return n


def queries(now: int) -> dict:
    """One query per library segment, each returning the member profile ids."""
    oc = "name = 'Order Completed'"
    live = f"ts <= {now}"

    def last(days: int) -> str:
        return f"ts > {now - days * DAY} AND ts <= {now}"

    def counted(where: str, having: str) -> str:
        return f"SELECT profile_id FROM events WHERE {where} GROUP BY profile_id HAVING {having}"

    year = time.gmtime(now / 1000).tm_year
    prev = year - 1
    hol_from = calendar.timegm((prev, 11, 15, 0, 0, 0)) * 1000
    hol_to = calendar.timegm((year, 1, 1, 0, 0, 0)) * 1000
    traits = f"""
        SELECT profile_id, arg_max(plan, ts) FILTER (WHERE plan IS NOT NULL) AS plan,
               arg_max(birthday, ts) FILTER (WHERE birthday IS NOT NULL) AS birthday
        FROM events WHERE kind = 0 AND {live} GROUP BY profile_id"""
    today = f"CAST(to_timestamp({now} / 1000) AS DATE)"
    return {
        "frequent_buyers": counted(f"{oc} AND {last(90)}", "count(*) >= 3"),
        "one_time_buyers": counted(f"{oc} AND {live}", "count(*) = 1"),
        "high_value_buyers": counted(f"{oc} AND {last(365)}", "sum(revenue) >= 500"),
        "lapsed_buyers": counted(
            f"{oc} AND {live}", f"count(*) FILTER (WHERE {last(90)}) = 0"
        ),
        "recent_buyers": counted(f"{oc} AND {last(30)}", "count(*) >= 1"),
        "product_viewers": counted(
            f"name IN ('Product Viewed', 'Order Completed') AND {last(7)}",
            "count(*) FILTER (WHERE name = 'Product Viewed') >= 1 "
            "AND count(*) FILTER (WHERE name = 'Order Completed') = 0",
        ),
        "product_page_3x": f"""SELECT DISTINCT profile_id FROM events
            WHERE name = 'Product Viewed' AND {last(7)} AND product_id IS NOT NULL
            GROUP BY profile_id, product_id HAVING count(*) > 3""",
        "cart_abandoners": f"""
            WITH lp AS (SELECT profile_id, max(ts) AS t FROM events
                        WHERE name = 'Product Added' AND {live} GROUP BY profile_id)
            SELECT lp.profile_id FROM lp
            WHERE lp.t > {now - 7 * DAY} AND {now} - lp.t > {HOUR}
              AND NOT EXISTS (SELECT 1 FROM events o WHERE o.profile_id = lp.profile_id
                              AND o.name = 'Order Completed' AND o.ts >= lp.t AND o.ts <= {now})""",
        "form_abandoners": f"""
            SELECT DISTINCT a.profile_id FROM events a
            WHERE a.name = 'Form Started' AND a.ts > {now - 7 * DAY} AND {now} - a.ts > {30 * MINUTE}
              AND NOT EXISTS (SELECT 1 FROM events b WHERE b.profile_id = a.profile_id
                  AND b.name = 'Form Submitted' AND b.form_id = a.form_id
                  AND b.ts >= a.ts AND b.ts <= a.ts + {30 * MINUTE} AND b.ts <= {now})""",
        "active_engagers": counted(f"name = 'Email Link Clicked' AND {last(30)}", "count(*) >= 1"),
        "passive_engagers": counted(
            f"name IN ('Email Opened', 'Email Link Clicked') AND {last(30)}",
            "count(*) FILTER (WHERE name = 'Email Opened') >= 1 "
            "AND count(*) FILTER (WHERE name = 'Email Link Clicked') = 0",
        ),
        "inactive_subscribers": counted(
            f"name IN ('Email Delivered', 'Email Opened') AND {last(60)}",
            "count(*) FILTER (WHERE name = 'Email Delivered') >= 1 "
            "AND count(*) FILTER (WHERE name = 'Email Opened') = 0",
        ),
        "ctr_shoes": counted(
            f"name = 'Email Link Clicked' AND contains(link_url, '/shoes') AND {last(30)}",
            "count(*) >= 1",
        ),
        "welcome_opened_not_clicked": counted(
            f"name IN ('Email Opened', 'Email Link Clicked') AND campaign_id = 'welcome' AND {live}",
            "count(*) FILTER (WHERE name = 'Email Opened') >= 1 "
            "AND count(*) FILTER (WHERE name = 'Email Link Clicked') = 0",
        ),
        "ebook_downloaders": counted(
            f"name = 'File Downloaded' AND category = 'ebook' AND {last(30)}", "count(*) >= 1"
        ),
        "new_subscribers": counted(f"name = 'Signed Up' AND {last(14)}", "count(*) >= 1"),
        "trial_users": f"SELECT profile_id FROM ({traits}) WHERE plan = 'trial'",
        "long_term_customers": counted(
            f"{oc} AND {live}", f"min(ts) < {now - 365 * DAY} AND count(*) >= 4"
        ),
        "churn_risk": counted(
            f"{live}",
            f"count(*) FILTER (WHERE {oc}) >= 2 AND count(*) FILTER (WHERE {last(45)}) = 0",
        ),
        "light_users": counted(f"name = 'Feature Used' AND {last(30)}", "count(*) BETWEEN 1 AND 4"),
        "mid_users": counted(f"name = 'Feature Used' AND {last(30)}", "count(*) BETWEEN 5 AND 19"),
        "heavy_users": counted(f"name = 'Feature Used' AND {last(30)}", "count(*) >= 20"),
        "loyal_customers": counted(
            f"{oc} AND {last(360)}",
            " + ".join(
                f"(count(*) FILTER (WHERE ts > {now - (k + 90) * DAY} AND ts <= {now - k * DAY}) > 0)::INT"
                for k in (0, 90, 180, 270)
            )
            + " >= 3",
        ),
        "birthday_this_week": f"""
            SELECT profile_id FROM (
                SELECT profile_id, TRY_CAST(birthday AS DATE) AS b FROM ({traits})) t
            WHERE b IS NOT NULL AND (
                SELECT min(d) FROM (VALUES
                    (make_date(year({today}), month(b), least(day(b), day(last_day(make_date(year({today}), month(b), 1)))))),
                    (make_date(year({today}) + 1, month(b), least(day(b), day(last_day(make_date(year({today}) + 1, month(b), 1))))))) v(d)
                WHERE d >= {today}) - {today} <= 7""",
        "holiday_shoppers": counted(
            f"{oc} AND ts >= {hol_from} AND ts < {hol_to} AND {live}", "count(*) >= 1"
        ),
    }


def main() -> None:
    db, now = sys.argv[1], int(sys.argv[2])
    threads = int(sys.argv[sys.argv.index("--threads") + 1]) if "--threads" in sys.argv else 2
    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    started = time.perf_counter()
    rows = load(db, con)
    load_s = time.perf_counter() - started
    qs = queries(now)
    runs = []
    counts = {}
    for _ in range(3):
        t = time.perf_counter()
        for name, sql in qs.items():
            counts[name] = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()[0]
        runs.append(time.perf_counter() - t)
    print(
        json.dumps(
            {
                "duckdb_version": duckdb.__version__,
                "threads": threads,
                "events": rows,
                "load_seconds_untimed": round(load_s, 2),
                "seconds": round(statistics.median(runs), 3),
                "runs": [round(r, 3) for r in runs],
                "counts": counts,
            }
        )
    )


if __name__ == "__main__":
    main()
