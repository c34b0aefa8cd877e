use crate::common::*;
use tempfile::TempDir;

const LIBRARY_NAMES: [&str; 10] = [
    "welcome_series",
    "abandoned_cart",
    "reengagement",
    "post_purchase_cross_sell",
    "browse_recommendations",
    "product_interest",
    "loyal_new_arrivals",
    "ebook_followup",
    "price_drop",
    "back_in_stock",
];

#[test]
fn library_apply_list_and_the_outbox() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    let d = dir.to_str().unwrap();
    init(&dir);
    let library = ok(&run(&["journeys", "library"]));
    for name in LIBRARY_NAMES {
        assert!(library.contains(&format!("journey {name}")), "{name}");
    }
    let lib = tmp.path().join("library.journeys");
    std::fs::write(&lib, &library).unwrap();
    let applied = ok(&run(&[
        "journeys",
        "apply",
        lib.to_str().unwrap(),
        "--data",
        d,
    ]));
    assert!(
        applied.contains("welcome_series new: version 1"),
        "{applied}"
    );
    // The same file again changes nothing.
    let again = ok(&run(&[
        "journeys",
        "apply",
        lib.to_str().unwrap(),
        "--data",
        d,
    ]));
    assert!(
        again.contains("welcome_series unchanged: version 1"),
        "{again}"
    );

    // Events that arrive after the journeys went live trigger them.
    let data = ok(&run(&[
        "generate",
        "--profiles",
        "200",
        "--days",
        "30",
        "--seed",
        "8",
    ]));
    let events = tmp.path().join("events.ndjson");
    std::fs::write(&events, data).unwrap();
    ok(&run(&["import", events.to_str().unwrap(), "--data", d]));

    let list = ok(&run(&["journeys", "list", "--data", d]));
    let journeys: Vec<serde_json::Value> = list
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(journeys.len(), LIBRARY_NAMES.len());
    let welcome = journeys
        .iter()
        .find(|j| j["name"] == "welcome_series")
        .unwrap();
    assert!(welcome["entered"].as_u64().unwrap() > 0, "{welcome}");
    assert!(welcome["steps"].as_array().unwrap().len() > 1, "{welcome}");

    let outbox = ok(&run(&["messages", "list", "--data", d]));
    let messages: Vec<serde_json::Value> = outbox
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m["template"] == "welcome_1"),
        "{outbox}"
    );
    let first = &messages[0];
    let person = first["person"].as_str().unwrap();
    let mine = ok(&run(&[
        "messages",
        "list",
        "--data",
        d,
        "--profile",
        person,
    ]));
    assert!(mine.lines().all(|l| l.contains(person)));
    let o = run(&[
        "messages",
        "list",
        "--data",
        d,
        "--profile",
        "nobody-at-all",
    ]);
    assert!(!o.status.success());

    // Mistakes are reported with their position and change nothing.
    let bad = tmp.path().join("bad.journeys");
    std::fs::write(
        &bad,
        "journey oops\n  on \"Signed Up\"\ndo\n  sned email welcome_1\nend\n",
    )
    .unwrap();
    let o = run(&["journeys", "apply", bad.to_str().unwrap(), "--data", d]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 4"), "{}", stderr(&o));

    // With a server running, writing verbs refuse and say what to use instead.
    let server = Server::start(&dir);
    let o = run(&["journeys", "apply", lib.to_str().unwrap(), "--data", d]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("/api/v1/journeys"), "{}", stderr(&o));
    server.stop();
}

#[test]
fn templates_library_apply_list_and_preview() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    let d = dir.to_str().unwrap();
    init(&dir);
    let people = tmp.path().join("people.ndjson");
    std::fs::write(
        &people,
        "{\"type\":\"identify\",\"userId\":\"ada\",\"traits\":{\"first_name\":\"Ada\"},\"timestamp\":\"2026-03-01T00:00:00Z\"}\n",
    )
    .unwrap();
    ok(&run(&["import", people.to_str().unwrap(), "--data", d]));
    let library = ok(&run(&["templates", "library"]));
    // Every template the journey library sends is there.
    let journeys = ok(&run(&["journeys", "library"]));
    for line in journeys
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("send "))
    {
        let mut words = line.split_whitespace().skip(1);
        let (channel, name) = (words.next().unwrap(), words.next().unwrap());
        assert!(
            library.contains(&format!("template {name} {channel}")),
            "{name} ({channel})"
        );
    }
    let lib = tmp.path().join("library.templates");
    std::fs::write(&lib, &library).unwrap();
    let applied = ok(&run(&[
        "templates",
        "apply",
        lib.to_str().unwrap(),
        "--data",
        d,
    ]));
    assert!(
        applied.contains("welcome_1 (email) new: version 1"),
        "{applied}"
    );
    let list = ok(&run(&["templates", "list", "--data", d]));
    assert!(list.contains("abandoned_cart_2\tsms\t1"), "{list}");
    let preview = ok(&run(&[
        "templates",
        "preview",
        "welcome_1",
        "ada",
        "--data",
        d,
    ]));
    let v: serde_json::Value = serde_json::from_str(&preview).unwrap();
    assert!(v["subject"].as_str().unwrap().contains("Ada"), "{v}");
    let sms = ok(&run(&[
        "templates",
        "preview",
        "abandoned_cart_2",
        "ada",
        "--data",
        d,
        "--channel",
        "sms",
    ]));
    let v: serde_json::Value = serde_json::from_str(&sms).unwrap();
    assert!(v["body"].as_str().unwrap().chars().count() <= 160, "{v}");

    let bad = tmp.path().join("bad.templates");
    std::fs::write(
        &bad,
        "template x email\nsubject: {{ a | nope }}\n--- html\nhi\nend\n",
    )
    .unwrap();
    let o = run(&["templates", "apply", bad.to_str().unwrap(), "--data", d]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 2"), "{}", stderr(&o));
    let o = run(&["templates", "preview", "welcome_1", "nobody", "--data", d]);
    assert!(!o.status.success());
}
