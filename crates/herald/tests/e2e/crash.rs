use crate::common::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::time::Duration;
use tempfile::TempDir;

fn batch(worker: usize, n: usize) -> (String, Vec<String>) {
    let ids: Vec<String> = (0..50).map(|i| format!("w{worker}-b{n}-e{i}")).collect();
    let events: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| json!({"type": "track", "userId": format!("u{}", (worker * 7 + i) % 300), "event": "Crash Test", "messageId": id}))
        .collect();
    (json!({"batch": events}).to_string(), ids)
}

/// `kill -9` during a load: after a restart every acknowledged event is there exactly once, and
/// resending everything (as SDKs retry) adds nothing twice.
#[test]
fn acknowledged_events_survive_kill_9() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    init(&dir);
    let server = Server::start(&dir);
    let load = BatchLoad::start(&server.base, 8, batch);
    // Let the load run, then pull the plug.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while load.acked_len() < 20_000 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    let (acked, sent, rt) = load.finish();
    let acked: HashSet<String> = acked.into_iter().collect();
    assert!(
        acked.len() >= 1_000,
        "the load barely ran: {} acknowledged",
        acked.len()
    );

    let events = export(&dir);
    let mut count: HashMap<String, usize> = HashMap::new();
    for e in &events {
        *count
            .entry(e["messageId"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    for id in &acked {
        assert_eq!(
            count.get(id),
            Some(&1),
            "acknowledged {id} must be stored exactly once"
        );
    }
    assert!(count.values().all(|&c| c == 1));

    // The SDKs retry what was not acknowledged, and some of what was: nothing doubles.
    let server = Server::start(&dir);
    let bodies: Vec<String> = sent.into_iter().map(|(body, _)| body).collect();
    rt.block_on(async {
        let client = crate::common::client();
        for body in bodies {
            let r = client
                .post(server.url("/v1/batch"))
                .basic_auth(WRITE_KEY, Some(""))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    });
    server.stop();
    let events = export(&dir);
    let ids: HashSet<&str> = events
        .iter()
        .map(|e| e["messageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), events.len(), "no duplicates after the retry");
    assert!(acked.iter().all(|id| ids.contains(id.as_str())));
}
