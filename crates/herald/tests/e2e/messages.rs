//! Delivery end to end: `herald serve` configured only through the environment variables the
//! issue names, sending a journey's email to a real SMTP server (aiosmtpd), read back by Python's
//! `email` parser with the DKIM signature checked by dkimpy; the tracking links round-tripped
//! over HTTP; one-click unsubscribe stopping the next send and the preference centre restoring
//! it; a hard bounce suppressing the address; and the SMTP server stopped mid-run without a
//! message lost or sent twice.

use crate::common::*;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

const TEMPLATE: &str = r#"template hello email
subject: Hello {{ profile.traits.first_name | default: "there" }}
--- html
<html><body>
<p>Hi {{ profile.traits.first_name }}, our sale is on.</p>
<p><a href="https://shop.example/sale?x=1&amp;y=2">See the sale</a></p>
<p><a href="{{ links.preferences_url }}">Preferences</a> <a href="{{ links.unsubscribe_url }}">Unsubscribe</a></p>
</body></html>
end
"#;

const JOURNEY: &str = "journey ping_mail \"One email per ping\"
  on \"Ping\"
  key n
  entry once
do
  send email hello
end
";

const LIMIT: Duration = Duration::from_secs(60);

/// A fresh RSA key for DKIM and its public key (DER) for the verifier.
fn dkim_key(dir: &Path) -> (PathBuf, PathBuf) {
    let key = dir.join("dkim.pem");
    let der = dir.join("dkim.pub.der");
    let ok = |c: &mut Command| assert!(c.status().unwrap().success(), "{c:?}");
    ok(Command::new("openssl")
        .args(["genrsa", "-out"])
        .arg(&key)
        .arg("2048")
        .stderr(Stdio::null()));
    ok(Command::new("openssl")
        .args(["rsa", "-pubout", "-outform", "DER", "-in"])
        .arg(&key)
        .arg("-out")
        .arg(&der)
        .stderr(Stdio::null()));
    (key, der)
}

/// A store with the template and the journey applied.
fn store(tmp: &TempDir) -> PathBuf {
    let dir = tmp.path().join("store");
    init(&dir);
    let d = dir.to_str().unwrap();
    let t = tmp.path().join("hello.templates");
    std::fs::write(&t, TEMPLATE).unwrap();
    let o = run(&["templates", "apply", t.to_str().unwrap(), "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    let j = tmp.path().join("ping.journeys");
    std::fs::write(&j, JOURNEY).unwrap();
    let o = run(&["journeys", "apply", j.to_str().unwrap(), "--data", d]);
    assert!(o.status.success(), "{}", stderr(&o));
    dir
}

fn ping(base: &str, user: &str, n: &str) {
    ingest(
        base,
        vec![json!({"type": "track", "userId": user, "event": "Ping",
                    "messageId": format!("ping-{user}-{n}"), "properties": {"n": n}})],
    );
}

/// The person's messages with their delivery, by outbox order.
fn messages(base: &str, user: &str) -> Vec<Value> {
    admin_get(base, &format!("/api/v1/messages?profile={user}"))["messages"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits for the person's `count`-th message to leave the pending state; returns it.
fn settled(base: &str, user: &str, count: usize) -> Value {
    wait_for(
        &format!("message {count} of {user} to settle"),
        LIMIT,
        || {
            let m = messages(base, user);
            let last = m.get(count - 1)?;
            (last["delivery"]["state"] != "pending").then(|| last.clone())
        },
    )
}

fn event_names(base: &str, user: &str) -> Vec<String> {
    admin_get(base, &format!("/api/v1/profiles/{user}/events"))["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["event"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn a_journey_email_is_signed_tracked_unsubscribable_and_bounces_suppress() {
    let tmp = TempDir::new().unwrap();
    let dir = store(&tmp);
    let (key, der) = dkim_key(tmp.path());
    let sink = Sink::start(tmp.path(), 0);
    let port = free_port();
    let public = format!("http://127.0.0.1:{port}");
    let smtp = format!("smtp://127.0.0.1:{}?tls=none", sink.port);
    let server = Server::start_with(
        &dir,
        &format!("127.0.0.1:{port}"),
        &[
            ("HERALD_PUBLIC_URL", public.as_str()),
            ("HERALD_SMTP_URL", smtp.as_str()),
            ("HERALD_EMAIL_FROM", "Shop <news@shop.example>"),
            ("HERALD_DKIM_DOMAIN", "shop.example"),
            ("HERALD_DKIM_SELECTOR", "herald"),
            ("HERALD_DKIM_KEY_FILE", key.to_str().unwrap()),
        ],
    );
    let base = server.base.clone();
    ingest(
        &base,
        vec![json!({"type": "identify", "userId": "ann",
                    "traits": {"email": "Ann@Example.com", "first_name": "Ann"}})],
    );
    ping(&base, "ann", "1");
    let first = settled(&base, "ann", 1);
    assert_eq!(first["delivery"]["state"], "delivered", "{first}");
    let mails = sink.mails();
    assert_eq!(mails.len(), 1);

    // Read by an independent parser and verifier.
    let mail = read_mail(&mails[0], Some(&der));
    assert_eq!(mail["dkim"], true, "{mail}");
    let signed = mail["dkim_signature"]
        .as_str()
        .unwrap()
        .replace(char::is_whitespace, "");
    for h in [
        "list-unsubscribe",
        "list-unsubscribe-post",
        "from",
        "subject",
        "message-id",
    ] {
        assert!(
            signed.to_ascii_lowercase().contains(h),
            "{h} not signed: {signed}"
        );
    }
    assert_eq!(mail["from"], "Shop <news@shop.example>");
    assert_eq!(mail["to"], "ann@example.com");
    assert_eq!(mail["subject"], "Hello Ann");
    let id = first["id"].as_str().unwrap();
    assert_eq!(mail["x_herald_message"], id);
    assert_eq!(mail["message_id"], format!("<{id}@shop.example>"));
    assert_eq!(
        mail["parts"],
        json!(["multipart/alternative", "text/plain", "text/html"])
    );
    assert!(
        mail["text"].as_str().unwrap().contains("our sale is on"),
        "{mail}"
    );
    let unsubscribe = mail["list_unsubscribe"]
        .as_str()
        .unwrap()
        .trim_matches(['<', '>'])
        .to_owned();
    assert!(
        unsubscribe.starts_with(&format!("{public}/u/")),
        "{unsubscribe}"
    );
    assert_eq!(mail["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    let hrefs: Vec<String> = serde_json::from_value(mail["hrefs"].clone()).unwrap();
    assert!(
        !hrefs.iter().any(|h| h.contains("shop.example/sale")),
        "{hrefs:?}"
    );
    let click = hrefs
        .iter()
        .find(|h| h.starts_with(&format!("{public}/t/c/")))
        .expect("a rewritten link");
    let preferences = hrefs
        .iter()
        .find(|h| h.starts_with(&format!("{public}/p/")))
        .expect("the preferences link, not rewritten")
        .clone();
    let pixel = mail["imgs"][0].as_str().unwrap();
    assert!(pixel.starts_with(&format!("{public}/t/o/")), "{pixel}");

    // Open and click round trips; a tampered token redirects nowhere.
    let (status, _, _) = http("GET", pixel, false, None, vec![]);
    assert_eq!(status, 200);
    let (status, location, _) = http("GET", click, false, None, vec![]);
    assert_eq!(status, 302);
    assert_eq!(
        location.as_deref(),
        Some("https://shop.example/sale?x=1&y=2")
    );
    let mut tampered = click.clone();
    tampered.insert(tampered.len() - 3, 'A');
    let (status, location, _) = http("GET", &tampered, false, None, vec![]);
    assert_eq!((status, location), (404, None));
    wait_for("delivery, open and click events", LIMIT, || {
        let names = event_names(&base, "ann");
        ["Email Delivered", "Email Opened", "Email Link Clicked"]
            .iter()
            .all(|n| names.iter().any(|e| e == n))
            .then_some(())
    });

    // A GET of the unsubscribe link (a mail scanner) changes nothing; the one-click POST does.
    let (status, _, page) = http("GET", &unsubscribe, false, None, vec![]);
    assert_eq!(status, 200);
    assert!(page.contains("<form method=\"post\""), "{page}");
    ping(&base, "ann", "2");
    assert_eq!(settled(&base, "ann", 2)["delivery"]["state"], "delivered");
    let (status, _, _) = http(
        "POST",
        &unsubscribe,
        false,
        Some("application/x-www-form-urlencoded"),
        b"List-Unsubscribe=One-Click".to_vec(),
    );
    assert_eq!(status, 200);
    ping(&base, "ann", "3");
    let third = settled(&base, "ann", 3);
    assert_eq!(third["delivery"]["state"], "suppressed", "{third}");
    assert!(
        third["delivery"]["error"]
            .as_str()
            .unwrap()
            .contains("unsubscribed from email"),
        "{third}"
    );
    assert_eq!(sink.mails().len(), 2, "nothing sent after the unsubscribe");
    assert!(
        event_names(&base, "ann")
            .iter()
            .any(|e| e == "Unsubscribed")
    );

    // The preference centre shows the choice and takes it back.
    let (status, _, page) = http("GET", &preferences, false, None, vec![]);
    assert_eq!(status, 200);
    assert!(
        page.contains("name=\"email\" value=\"on\">"),
        "unticked: {page}"
    );
    let (status, _, page) = http(
        "POST",
        &preferences,
        false,
        Some("application/x-www-form-urlencoded"),
        b"shown=email&email=on".to_vec(),
    );
    assert_eq!(status, 200);
    assert!(
        page.contains("name=\"email\" value=\"on\" checked"),
        "{page}"
    );
    ping(&base, "ann", "4");
    assert_eq!(settled(&base, "ann", 4)["delivery"]["state"], "delivered");
    assert_eq!(sink.mails().len(), 3);

    // A hard bounce of that mail, as the receiving MTA reports it, suppresses the address.
    let fourth = &messages(&base, "ann")[3];
    let dsn = format!(
        "From: MAILER-DAEMON@mx.example.com\r\nTo: bounces@shop.example\r\n\
         Subject: Undelivered Mail Returned to Sender\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status; boundary=\"B\"\r\n\r\n\
         --B\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n\
         --B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.com\r\n\r\n\
         Final-Recipient: rfc822; ann@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n\
         Diagnostic-Code: smtp; 550 5.1.1 no such user\r\n\r\n\
         --B\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <{}@shop.example>\r\n\
         From: news@shop.example\r\nTo: ann@example.com\r\n\r\n--B--\r\n",
        fourth["id"].as_str().unwrap()
    );
    let (status, _, report) = http(
        "POST",
        &format!("{base}/api/v1/feedback/email"),
        true,
        Some("message/rfc822"),
        dsn.into_bytes(),
    );
    assert_eq!(status, 200, "{report}");
    let report: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(
        (report["hard"].as_u64(), report["unmatched"].as_u64()),
        (Some(1), Some(0))
    );
    let (status, _, bad) = http(
        "POST",
        &format!("{base}/api/v1/feedback/email"),
        true,
        Some("message/rfc822"),
        b"Subject: hi\r\n\r\njust a mail".to_vec(),
    );
    assert_eq!(status, 400, "{bad}");
    assert!(bad.contains("invalid_report"), "{bad}");
    ping(&base, "ann", "5");
    let fifth = settled(&base, "ann", 5);
    assert_eq!(fifth["delivery"]["state"], "suppressed", "{fifth}");
    assert!(
        fifth["delivery"]["error"]
            .as_str()
            .unwrap()
            .contains("hard_bounce"),
        "{fifth}"
    );
    assert!(
        event_names(&base, "ann")
            .iter()
            .any(|e| e == "Email Bounced")
    );
    let suppressions = admin_get(&base, "/api/v1/suppressions");
    assert_eq!(
        suppressions["suppressions"][0]["address"],
        "ann@example.com"
    );
    assert_eq!(sink.stop().len(), 3);
    server.stop();

    // The same from the command line.
    let d = dir.to_str().unwrap();
    let o = run(&["messages", "list", "--data", d, "--state", "suppressed"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 2);
    let o = run(&["messages", "list", "--data", d, "--state", "lost"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--state must be"), "{}", stderr(&o));
}

#[test]
fn the_smtp_server_stopped_mid_run_loses_and_repeats_nothing() {
    let tmp = TempDir::new().unwrap();
    let dir = store(&tmp);
    std::fs::write(
        dir.join("herald.toml"),
        "[delivery]\nbackoff_seconds = 1\nmax_attempts = 30\n",
    )
    .unwrap();
    let sink = Sink::start(tmp.path(), 0);
    let smtp_port = sink.port;
    let port = free_port();
    let smtp = format!("smtp://127.0.0.1:{smtp_port}?tls=none");
    let public = format!("http://127.0.0.1:{port}");
    let server = Server::start_with(
        &dir,
        &format!("127.0.0.1:{port}"),
        &[
            ("HERALD_PUBLIC_URL", public.as_str()),
            ("HERALD_SMTP_URL", smtp.as_str()),
            ("HERALD_EMAIL_FROM", "news@shop.example"),
        ],
    );
    let base = server.base.clone();
    let people: Vec<String> = (0..20).map(|i| format!("p{i}")).collect();
    ingest(
        &base,
        people
            .iter()
            .map(|p| json!({"type": "identify", "userId": p, "traits": {"email": format!("{p}@example.com")}}))
            .collect(),
    );
    for p in &people {
        ping(&base, p, "before");
    }
    wait_for("the first 20 mails", LIMIT, || {
        (sink.mails().len() == 20).then_some(())
    });
    let before = sink.stop();

    // The server is down: messages wait and are retried.
    for p in &people {
        ping(&base, p, "during");
    }
    wait_for("a retry after a failed attempt", LIMIT, || {
        let pending = admin_get(&base, "/api/v1/messages?state=pending")["messages"].clone();
        pending
            .as_array()?
            .iter()
            .any(|m| m["delivery"]["attempts"].as_u64() >= Some(2))
            .then_some(())
    });
    let sink = Sink::start(&tmp.path().join("again"), smtp_port);
    wait_for("the other 20 mails", LIMIT, || {
        (sink.mails().len() >= 20).then_some(())
    });
    // Give a duplicate, if there were one, the time to arrive.
    std::thread::sleep(Duration::from_secs(2));
    let after = sink.stop();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for eml in before.iter().chain(&after) {
        let raw = std::fs::read_to_string(eml).unwrap();
        let id = raw
            .lines()
            .find_map(|l| l.strip_prefix("X-Herald-Message: "))
            .unwrap()
            .trim()
            .to_owned();
        *seen.entry(id).or_default() += 1;
    }
    assert_eq!(seen.len(), 40, "every message arrived");
    assert!(seen.values().all(|&n| n == 1), "none twice: {seen:?}");
    let failed = admin_get(&base, "/api/v1/messages?state=failed");
    assert_eq!(failed["messages"], json!([]));
    server.stop();
}
