use crate::common::*;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
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
    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let all_sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = server.base.clone();
    let load = {
        let (acked, all_sent) = (acked.clone(), all_sent.clone());
        rt.spawn(async move {
            let client = reqwest::Client::new();
            let mut tasks = Vec::new();
            for worker in 0..8 {
                let (client, base, acked, all_sent) = (
                    client.clone(),
                    base.clone(),
                    acked.clone(),
                    all_sent.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    for n in 0..10_000 {
                        let (body, ids) = batch(worker, n);
                        all_sent.lock().unwrap().push(body.clone());
                        let r = client
                            .post(format!("{base}/v1/batch"))
                            .basic_auth(WRITE_KEY, Some(""))
                            .body(body)
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == 200 => acked.lock().unwrap().extend(ids),
                            _ => return, // the server is gone
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        })
    };
    // Let the load run, then pull the plug.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while acked.lock().unwrap().len() < 20_000 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    rt.block_on(load).unwrap();
    let acked = acked.lock().unwrap().clone();
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
    let bodies = all_sent.lock().unwrap().clone();
    rt.block_on(async {
        let client = reqwest::Client::new();
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
