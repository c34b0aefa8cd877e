//! `kill -9` while journeys are sending: after a restart on the same store, every acknowledged
//! event that starts a journey has produced exactly one outbox message.
//!
//! The journey sends one email at once per `Ping`, keyed by the event's `n` with `entry once`,
//! so each key must end up with exactly one message whatever happened: a step replayed after the
//! crash must not send twice (message ids are idempotency keys), a step lost with the crash must
//! be redone, and the entry already made must still be remembered (a later `Ping` with the same
//! key sends nothing). Nothing here depends on timing: the test waits, with a generous limit,
//! for the outbox to hold what it must, and only then compares.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const JOURNEY: &str = "journey ping_once \"One email per key\"
  on \"Ping\"
  key n
  entry once
do
  send email ping
end
";

/// People the keys are spread over: several keys each, so entries are per key, not per person.
const PEOPLE: usize = 150;
/// Events per request.
const BATCH: usize = 25;

fn user_of(worker: usize, n: usize, i: usize) -> String {
    format!("u{}", (worker * 31 + n * 7 + i) % PEOPLE)
}

/// `(key, user)`: a `Ping`'s key and who sent it.
type Pair = (String, String);
/// A request body as sent, with the pairs it carries.
type Sent = (String, Vec<Pair>);

/// One request of `Ping`s, each with a new key; returns the body and its `(key, user)` pairs.
fn batch(worker: usize, n: usize) -> Sent {
    let pairs: Vec<Pair> = (0..BATCH)
        .map(|i| (format!("w{worker}-b{n}-e{i}"), user_of(worker, n, i)))
        .collect();
    let events: Vec<Value> = pairs
        .iter()
        .map(|(key, user)| {
            json!({"type": "track", "userId": user, "event": "Ping", "messageId": format!("m-{key}"),
                   "properties": {"n": key}})
        })
        .collect();
    (json!({"batch": events}).to_string(), pairs)
}

/// `(key, user)` pairs as `Ping`s with the given message id prefix.
fn body_of(pairs: &[Pair], prefix: &str) -> String {
    let events: Vec<Value> = pairs
        .iter()
        .map(|(key, user)| {
            json!({"type": "track", "userId": user, "event": "Ping", "messageId": format!("{prefix}-{key}"),
                   "properties": {"n": key}})
        })
        .collect();
    json!({"batch": events}).to_string()
}

/// The whole outbox through the API of a running server.
fn outbox(base: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut path = "/api/v1/messages?limit=10000".to_owned();
    loop {
        let page = admin_get(base, &path);
        out.extend(page["messages"].as_array().unwrap().iter().cloned());
        match page["next"].as_u64() {
            Some(next) => path = format!("/api/v1/messages?limit=10000&after={next}"),
            None => return out,
        }
    }
}

fn key_of(m: &Value) -> String {
    m["context"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("an outbox message without a key: {m}"))
        .to_owned()
}

async fn post(client: &reqwest::Client, base: &str, body: String) -> reqwest::StatusCode {
    client
        .post(format!("{base}/v1/batch"))
        .basic_auth(WRITE_KEY, Some(""))
        .body(body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("the restarted server answers")
        .status()
}

#[test]
fn every_acknowledged_ping_sends_once_across_kill_9() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("s");
    let d = dir.to_str().unwrap();
    init(&dir);
    let file = tmp.path().join("ping.journeys");
    std::fs::write(&file, JOURNEY).unwrap();
    let o = run(&["journeys", "apply", file.to_str().unwrap(), "--data", d]);
    assert!(o.status.success(), "apply failed: {}", stderr(&o));

    let server = Server::start(&dir);
    // Every key acknowledged before the crash with its user, and every request body sent.
    let load = BatchLoad::start(&server.base, 4, batch);
    // Pull the plug once plenty is acknowledged and the journey runner is well into sending
    // (its 1,000th message is out), so the kill lands in the middle of its work.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let enough = load.acked_len() >= 3_000;
        let sending = enough && {
            let o = run(&[
                "messages", "list", "--data", d, "--after", "999", "--limit", "1",
            ]);
            o.status.success() && !stdout(&o).trim().is_empty()
        };
        if sending || Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    server.kill();
    let (acked, sent, rt) = load.finish();
    let acked: HashMap<String, String> = acked.into_iter().collect();
    assert!(
        acked.len() >= 500,
        "the load barely ran: {} acknowledged",
        acked.len()
    );
    let o = run(&["messages", "list", "--data", d, "--limit", "1000000"]);
    assert!(o.status.success(), "messages list: {}", stderr(&o));
    eprintln!(
        "killed with {} pings acknowledged, {} sent, {} messages in the outbox",
        acked.len(),
        sent.iter().map(|(_, p)| p.len()).sum::<usize>(),
        stdout(&o).lines().count()
    );

    // Restart on the same store. The SDKs retry everything (acknowledged or not: nothing may
    // double); then the same keys come again as new events (entry once: nothing may be sent);
    // then fresh keys, posted last so that once they are sent, everything before them is done.
    let server = Server::start(&dir);
    let mut keys: HashMap<String, String> = HashMap::new();
    let again: Vec<Pair> = {
        let mut a: Vec<_> = acked.iter().map(|(k, u)| (k.clone(), u.clone())).collect();
        a.sort();
        a.into_iter().step_by(3).collect()
    };
    let fresh: Vec<Pair> = (0..500)
        .map(|i| (format!("after-{i}"), format!("u{}", i % PEOPLE)))
        .collect();
    rt.block_on(async {
        let client = crate::common::client();
        for (body, pairs) in &sent {
            assert_eq!(post(&client, &server.base, body.clone()).await, 200);
            keys.extend(pairs.iter().cloned());
        }
        for chunk in again.chunks(BATCH) {
            let status = post(&client, &server.base, body_of(chunk, "again")).await;
            assert_eq!(status, 200);
        }
        for chunk in fresh.chunks(BATCH) {
            assert_eq!(post(&client, &server.base, body_of(chunk, "m")).await, 200);
            keys.extend(chunk.iter().cloned());
        }
    });
    for (k, u) in &acked {
        assert_eq!(keys.get(k), Some(u), "acknowledged key {k} was sent");
    }

    // Everything is acknowledged now: wait until every key has its message.
    let deadline = Instant::now() + Duration::from_secs(180);
    let messages = loop {
        let messages = outbox(&server.base);
        let have: HashSet<String> = messages.iter().map(key_of).collect();
        if keys.keys().all(|k| have.contains(k)) {
            break messages;
        }
        assert!(
            Instant::now() < deadline,
            "after 180 s, {} of {} keys still have no message",
            keys.keys().filter(|k| !have.contains(*k)).count(),
            keys.len()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    server.stop();

    // The stored outbox, as the CLI reads it after a clean stop, is the one the API showed.
    let o = run(&["messages", "list", "--data", d, "--limit", "1000000"]);
    assert!(o.status.success(), "messages list: {}", stderr(&o));
    let stored: Vec<Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        stored.len(),
        messages.len(),
        "nothing was sent after the last key"
    );
    let ids: HashSet<&str> = stored.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), stored.len(), "no message id twice");
    let mut per_key: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for m in &stored {
        per_key.entry(key_of(m)).or_default().push(m);
    }
    for (key, user) in &keys {
        let got = per_key.get(key).map_or(&[][..], Vec::as_slice);
        assert_eq!(got.len(), 1, "key {key}: exactly one message, got {got:?}");
        assert_eq!(
            got[0]["person"],
            json!(user),
            "key {key} went to its person"
        );
        assert_eq!(got[0]["status"], "queued");
    }
    assert_eq!(per_key.len(), keys.len(), "no message for a key never sent");

    // The journey's own counts agree with the outbox: each key entered once and sent once.
    let o = run(&["journeys", "list", "--data", d]);
    assert!(o.status.success(), "journeys list: {}", stderr(&o));
    let list: Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(list["entered"], json!(keys.len()), "{list}");
    assert_eq!(list["sent"], json!(keys.len()), "{list}");
}
