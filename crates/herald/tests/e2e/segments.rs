use crate::common::*;
use std::io::Write;
use tempfile::TempDir;

const LIBRARY_NAMES: [&str; 25] = [
    "frequent_buyers",
    "one_time_buyers",
    "high_value_buyers",
    "lapsed_buyers",
    "recent_buyers",
    "product_viewers",
    "product_page_3x",
    "cart_abandoners",
    "form_abandoners",
    "active_engagers",
    "passive_engagers",
    "inactive_subscribers",
    "ctr_shoes",
    "welcome_opened_not_clicked",
    "ebook_downloaders",
    "new_subscribers",
    "trial_users",
    "long_term_customers",
    "churn_risk",
    "light_users",
    "mid_users",
    "heavy_users",
    "loyal_customers",
    "birthday_this_week",
    "holiday_shoppers",
];

#[test]
fn library_apply_list_members_as_of_and_explain() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    let d = dir.to_str().unwrap();
    init(&dir);
    let data = ok(&run(&[
        "generate",
        "--profiles",
        "300",
        "--days",
        "120",
        "--seed",
        "4",
    ]));
    let events = tmp.path().join("events.ndjson");
    std::fs::write(&events, data).unwrap();
    ok(&run(&["import", events.to_str().unwrap(), "--data", d]));

    let library = ok(&run(&["segments", "library"]));
    for name in LIBRARY_NAMES {
        assert!(library.contains(&format!("segment {name}")), "{name}");
    }
    let lib = tmp.path().join("library.seg");
    std::fs::write(&lib, &library).unwrap();
    let o = run(&["segments", "apply", lib.to_str().unwrap(), "--data", d]);
    ok(&o);
    assert!(
        stderr(&o).contains("frequent_buyers"),
        "the preview names the segments"
    );

    let list = ok(&run(&["segments", "list", "--data", d]));
    let sizes: Vec<(String, u64)> = list
        .lines()
        .map(|l| {
            let (n, s) = l.split_once('\t').unwrap();
            (n.to_owned(), s.parse().unwrap())
        })
        .collect();
    assert_eq!(sizes.len(), 25);
    assert!(sizes.iter().filter(|(_, s)| *s > 0).count() >= 10, "{list}");

    let members = ok(&run(&["segments", "members", "recent_buyers", "--data", d]));
    let ids: Vec<&str> = members.lines().collect();
    assert!(!ids.is_empty());
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "members are printed sorted");
    // As of now, membership equals the live one.
    let now = jiff::Timestamp::now().to_string();
    let as_of = ok(&run(&[
        "segments",
        "members",
        "recent_buyers",
        "--data",
        d,
        "--at",
        &now,
    ]));
    assert_eq!(as_of, members);
    // Long ago, nobody had bought anything.
    let before = ok(&run(&[
        "segments",
        "members",
        "recent_buyers",
        "--data",
        d,
        "--at",
        "2001-01-01T00:00:00Z",
    ]));
    assert!(before.is_empty());

    let why = ok(&run(&[
        "segments",
        "explain",
        "recent_buyers",
        ids[0],
        "--data",
        d,
    ]));
    let v: serde_json::Value = serde_json::from_str(&why).unwrap();
    assert!(v.is_object());

    // Mistakes are reported with their position and change nothing.
    let bad = tmp.path().join("bad.seg");
    let mut f = std::fs::File::create(&bad).unwrap();
    writeln!(
        f,
        "segment oops\n  count(\"Order Completed\") in last 9 dayz >= 1"
    )
    .unwrap();
    let o = run(&["segments", "apply", bad.to_str().unwrap(), "--data", d]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    let o = run(&["segments", "members", "nope", "--data", d]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("segments list"), "{}", stderr(&o));
    let o = run(&[
        "segments",
        "members",
        "recent_buyers",
        "--data",
        d,
        "--at",
        "yesterday",
    ]);
    assert!(!o.status.success());

    // With a server running, writing verbs refuse and say why.
    let server = Server::start(&dir);
    let o = run(&["segments", "apply", lib.to_str().unwrap(), "--data", d]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("running Herald server"),
        "{}",
        stderr(&o)
    );
    // Reading still works beside it.
    let again = ok(&run(&["segments", "members", "recent_buyers", "--data", d]));
    assert_eq!(again, members);
    server.stop();
}
