use crate::common::*;
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use tempfile::TempDir;

/// Segment's Python SDK, with gzip, against `herald serve`: every event it enqueued is stored
/// exactly once, anonymous history joins the identified person, alias joins two histories.
#[test]
fn segment_python_sdk_round_trip() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    init(&dir);
    let server = Server::start(&dir);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/segment_sdk.py");
    let users = 260;
    let out = Command::new("python3")
        .arg(&script)
        .args([&server.base, WRITE_KEY, &users.to_string()])
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "the SDK script failed (CI installs it with `pip install -r .ci/requirements.txt`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        report["errors"],
        serde_json::json!([]),
        "the SDK reported errors"
    );
    let sent: Vec<&str> = report["ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(sent.len() >= 1000, "only {} events", sent.len());

    let p = admin_get(&server.base, "/api/v1/profiles/anon-7");
    assert_eq!(p["user_id"], "user-7");
    assert_eq!(
        p["event_count"], 4,
        "anonymous page and view belong to user-7"
    );
    assert_eq!(p["traits"]["email"], "user7@example.com");
    let p = admin_get(&server.base, "/api/v1/profiles/legacy-crm-1");
    assert_eq!(p["user_id"], "user-1");
    assert_eq!(
        p["event_count"], 6,
        "four of user-1, the legacy order and the alias"
    );
    let p = admin_get(&server.base, "/api/v1/profiles/user-2");
    assert_eq!(p["groups"], serde_json::json!(["acme"]));
    server.stop();

    let events = export(&dir);
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for e in &events {
        *seen.entry(e["messageId"].as_str().unwrap()).or_default() += 1;
    }
    for id in &sent {
        assert_eq!(
            seen.get(id),
            Some(&1),
            "message {id} should be stored exactly once"
        );
    }
    assert_eq!(events.len(), sent.len());
    // The SDK's sentAt made the skew correction run; its library context came through.
    assert!(
        events
            .iter()
            .all(|e| e["context"]["library"]["name"] == "analytics-python")
    );
    let stats: Value =
        serde_json::from_str(&stdout(&run(&["stats", "--data", dir.to_str().unwrap()]))).unwrap();
    assert_eq!(stats["events"].as_u64().unwrap() as usize, sent.len());
    assert_eq!(stats["profiles"].as_u64().unwrap(), users as u64);
}
