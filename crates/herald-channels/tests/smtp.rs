//! SMTP and DKIM against a real server: aiosmtpd (tests/smtp_sink.py) receives what
//! `SmtpSender` sends, and Python's `email` package and dkimpy (tests/verify_mail.py) read it
//! back. Keys and certificates are made by `openssl` at test time.
//!
//! Needs `python3` with aiosmtpd and dkimpy (.ci/requirements.txt) and `openssl`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use herald_channels::SendError;
use herald_channels::email::{
    DkimAlgorithm, DkimSigner, Email, ListUnsubscribe, SmtpConfig, SmtpSecurity, SmtpSender,
};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn tests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests")
}

/// Runs openssl with `args` (split at spaces) and returns what it printed.
fn openssl(args: &str) -> Vec<u8> {
    let args: Vec<&str> = args.split_whitespace().collect();
    let out = Command::new("openssl").args(&args).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "openssl {args:?}: {err}");
    out.stdout
}

fn pem(args: &str) -> String {
    String::from_utf8(openssl(args)).unwrap()
}

fn rsa_pkcs1() -> String {
    pem("genrsa -traditional 2048")
}

fn rsa_pkcs8() -> String {
    pem("genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048")
}

fn ed25519_pkcs8() -> String {
    pem("genpkey -algorithm ed25519")
}

/// A running smtp_sink.py, stopped on drop.
struct Sink {
    child: Child,
    port: u16,
    out: PathBuf,
    _dir: tempfile::TempDir,
}

impl Sink {
    fn start(extra: &[&str]) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let portfile = dir.path().join("port");
        let out = dir.path().join("out");
        let child = Command::new("python3")
            .arg(tests_dir().join("smtp_sink.py"))
            .arg(&portfile)
            .arg(&out)
            .args(extra)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3 runs tests/smtp_sink.py (needs aiosmtpd)");
        let mut sink = Sink {
            child,
            port: 0,
            out,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while sink.port == 0 {
            if let Some(status) = sink.child.try_wait().unwrap() {
                panic!("smtp_sink.py exited with {status} before listening");
            }
            assert!(Instant::now() < deadline, "smtp_sink.py did not start");
            match std::fs::read_to_string(&portfile) {
                Ok(port) => sink.port = port.trim().parse().unwrap(),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        sink
    }

    fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// The `n`th message received (from 1): its bytes and its envelope.
    fn message(&self, n: usize) -> (PathBuf, Value) {
        let eml = self.out.join(format!("{n:04}.eml"));
        let meta = std::fs::read(self.out.join(format!("{n:04}.json"))).unwrap_or_default();
        (eml, serde_json::from_slice(&meta).unwrap_or_default())
    }

    fn connections(&self) -> u32 {
        std::fs::read_to_string(self.out.join("connections"))
            .map(|s| s.trim().parse().unwrap())
            .unwrap_or(0)
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// verify_mail.py's description of a message, the signer's record published for dkimpy.
fn verify(eml: &Path, signer: Option<&DkimSigner>) -> Value {
    let mut cmd = Command::new("python3");
    cmd.arg(tests_dir().join("verify_mail.py")).arg(eml);
    if let Some(signer) = signer {
        cmd.arg("--dkim-record")
            .arg(signer.dns_name())
            .arg(signer.public_key_dns_record());
    }
    let out = cmd.output().expect("python3 runs tests/verify_mail.py");
    assert!(
        out.status.success(),
        "verify_mail.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn header<'a>(described: &'a Value, name: &str) -> &'a str {
    described["headers"][name][0]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} header in {described}"))
}

fn sender(url: &str, dkim: Option<DkimSigner>) -> SmtpSender {
    SmtpSender::new(SmtpConfig::parse(url).unwrap(), dkim).unwrap()
}

fn full_email(to: &str) -> Email {
    Email {
        message_id: "h-0001.7f3a@mail.example.com".into(),
        from: "Herald Demo <news@example.com>".into(),
        to: to.into(),
        reply_to: Some("support@example.com".into()),
        subject: "Grüße — your weekly digest 👋".into(),
        html: Some(format!(
            "<html><body><p style=\"display:none\">preheader</p><p>Hallo Jürgen,</p>\n<p>{}</p></body></html>",
            "A long line of HTML that goes on and on past seventy-six characters, to be folded by the encoder. ".repeat(3)
        )),
        text: "Hallo Jürgen,\n\nthis is the text part.\nLine three ends here.\n".into(),
        list_unsubscribe: Some(ListUnsubscribe {
            url: "https://example.com/u/one-click?t=abc123".into(),
            mailto: Some("unsubscribe+abc123@example.com".into()),
        }),
        headers: vec![("X-Herald-Message".into(), "msg_01J8Z".into())],
    }
}

fn text_email(to: &str) -> Email {
    Email {
        message_id: "<h-0002@mail.example.com>".into(),
        from: "news@example.com".into(),
        to: to.into(),
        subject: "Plain".into(),
        text: "Only text.\n".into(),
        ..Email::default()
    }
}

fn lf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

#[tokio::test]
async fn rsa_signed_multipart_reads_back_and_verifies() {
    let sink = Sink::start(&[]);
    let signer = DkimSigner::from_pem("example.com", "herald1", &rsa_pkcs1()).unwrap();
    let sender = sender(&sink.url("smtp"), Some(signer));
    let email = full_email("Jürgen Müller <juergen@example.net>");

    let receipt = sender.send(&email).await.unwrap();
    let provider_id = receipt.provider_id.unwrap();
    assert!(
        provider_id.starts_with("250 2.0.0 Ok: queued as Q0001"),
        "{provider_id}"
    );

    let (eml, envelope) = sink.message(1);
    assert_eq!(envelope["mail_from"], "news@example.com");
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["juergen@example.net"])
    );
    let raw = std::fs::read(&eml).unwrap();
    assert!(raw.is_ascii(), "the message must be 7-bit clean");

    let mail = verify(&eml, sender.dkim());
    assert_eq!(mail["defects"], serde_json::json!([]), "{mail}");
    for (name, want) in [
        ("from", "Herald Demo <news@example.com>"),
        ("to", "Jürgen Müller <juergen@example.net>"),
        ("reply-to", "support@example.com"),
        ("subject", email.subject.as_str()),
        ("message-id", "<h-0001.7f3a@mail.example.com>"),
        ("x-herald-message", "msg_01J8Z"),
        ("mime-version", "1.0"),
        ("list-unsubscribe-post", "List-Unsubscribe=One-Click"),
    ] {
        assert_eq!(header(&mail, name), want, "{name}");
    }
    assert!(mail["headers"]["date"][0].is_string());
    assert_eq!(
        mail["raw_headers"]["list-unsubscribe"][0],
        "<https://example.com/u/one-click?t=abc123>, <mailto:unsubscribe+abc123@example.com>"
    );

    assert_eq!(mail["content_type"], "multipart/alternative");
    let parts = mail["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2, "{mail}");
    assert_eq!(parts[0]["content_type"], "text/plain");
    assert_eq!(parts[1]["content_type"], "text/html");
    for part in parts {
        assert_eq!(part["charset"], "utf-8");
        let cte = part["transfer_encoding"].as_str().unwrap();
        assert!(["quoted-printable", "base64"].contains(&cte), "{cte}");
    }
    assert_eq!(lf(parts[0]["content"].as_str().unwrap()), email.text);
    assert_eq!(
        lf(parts[1]["content"].as_str().unwrap()).trim_end(),
        email.html.as_deref().unwrap()
    );

    let dkim = &mail["dkim"];
    assert_eq!(dkim["valid"], true, "{dkim}");
    let h = "from:to:subject:date:message-id:mime-version:content-type:reply-to:\
             list-unsubscribe:list-unsubscribe-post";
    for (tag, want) in [
        ("a", "rsa-sha256"),
        ("c", "relaxed/relaxed"),
        ("d", "example.com"),
        ("s", "herald1"),
        ("h", h),
    ] {
        assert_eq!(dkim["tags"][tag], want, "{tag}");
    }
}

#[tokio::test]
async fn ed25519_text_only_verifies_and_signs_only_present_headers() {
    let sink = Sink::start(&[]);
    let signer = DkimSigner::from_pem("example.com", "ed1", &ed25519_pkcs8()).unwrap();
    assert_eq!(signer.algorithm(), DkimAlgorithm::Ed25519);
    let sender = sender(&sink.url("smtp"), Some(signer));
    sender
        .send(&text_email("reader@example.net"))
        .await
        .unwrap();

    let (eml, _) = sink.message(1);
    let mail = verify(&eml, sender.dkim());
    assert_eq!(mail["content_type"], "text/plain");
    assert_eq!(mail["is_multipart"], false);
    assert_eq!(mail["parts"][0]["charset"], "utf-8");
    // lettre ends a single-part body with one more line break than it was given (its DATA
    // terminator); multipart bodies carry it after the closing boundary instead.
    assert_eq!(
        lf(mail["parts"][0]["content"].as_str().unwrap()).trim_end(),
        "Only text."
    );
    assert_eq!(header(&mail, "message-id"), "<h-0002@mail.example.com>");
    assert!(mail["headers"].get("list-unsubscribe").is_none());
    let dkim = &mail["dkim"];
    let error = dkim["error"].as_str().unwrap_or_default();
    assert!(
        !error.contains("pynacl"),
        "dkimpy needs pynacl (1.6.2) for Ed25519: {error}"
    );
    assert_eq!(dkim["valid"], true, "{dkim}");
    assert_eq!(dkim["tags"]["a"], "ed25519-sha256");
    assert_eq!(
        dkim["tags"]["h"],
        "from:to:subject:date:message-id:mime-version:content-type"
    );
}

/// Rewrites the first line starting with `prefix` in a copy of `eml`.
fn tampered(eml: &Path, prefix: &str, replacement: &str) -> PathBuf {
    let raw = String::from_utf8(std::fs::read(eml).unwrap()).unwrap();
    let start = raw.find(prefix).unwrap_or_else(|| panic!("no {prefix:?}"));
    let end = start + raw[start..].find("\r\n").unwrap();
    let changed = format!("{}{}{}", &raw[..start], replacement, &raw[end..]);
    let path = eml.with_extension("tampered.eml");
    std::fs::write(&path, changed).unwrap();
    path
}

#[tokio::test]
async fn tampering_breaks_the_signature() {
    let sink = Sink::start(&[]);
    let signer = DkimSigner::from_pem("example.com", "s8", &rsa_pkcs8()).unwrap();
    let sender = sender(&sink.url("smtp"), Some(signer));
    sender
        .send(&full_email("reader@example.net"))
        .await
        .unwrap();
    let (eml, _) = sink.message(1);
    assert_eq!(verify(&eml, sender.dkim())["dkim"]["valid"], true);

    let subject = tampered(&eml, "Subject: ", "Subject: Your account is suspended");
    let unsubscribe = tampered(
        &eml,
        "List-Unsubscribe: ",
        "List-Unsubscribe: <https://evil.example/u>",
    );
    // The boundary line is in the body: the body hash no longer matches.
    let body = tampered(&eml, "Hallo J", "Hallo Mallory,");
    for path in [subject, unsubscribe, body] {
        let dkim = &verify(&path, sender.dkim())["dkim"];
        assert_eq!(dkim["present"], true);
        assert_eq!(dkim["valid"], false, "{} still verifies", path.display());
    }

    // Verified against another key, or none published, the untouched message fails too.
    let other = DkimSigner::from_pem("example.com", "s8", &rsa_pkcs8()).unwrap();
    assert_eq!(verify(&eml, Some(&other))["dkim"]["valid"], false);
    assert_eq!(verify(&eml, None)["dkim"]["valid"], false);
}

#[test]
fn debug_shows_no_secrets() {
    let signer = DkimSigner::from_pem("example.com", "s1", &ed25519_pkcs8()).unwrap();
    let config = SmtpConfig::parse("smtps://mailer:hunter2%21@smtp.example.com").unwrap();
    assert_eq!(config.credentials.as_ref().unwrap().password, "hunter2!");
    let sender = SmtpSender::new(config.clone(), Some(signer)).unwrap();
    for debug in [format!("{config:?}"), format!("{sender:?}")] {
        assert!(
            !debug.contains("hunter2") && !debug.contains("BEGIN"),
            "{debug}"
        );
        assert!(
            debug.contains("mailer") && debug.contains("<redacted>"),
            "{debug}"
        );
    }
    // Errors do not repeat the URL either.
    let err = SmtpConfig::parse("smtps://mailer:hunter2@smtp.example.com:99999").unwrap_err();
    assert!(!err.to_string().contains("hunter2"), "{err}");
}

#[test]
fn smtp_urls() {
    let c = SmtpConfig::parse("smtp://relay.internal").unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.security),
        ("relay.internal", 25, SmtpSecurity::Opportunistic)
    );
    assert_eq!(
        (c.pool_size, c.timeout, c.credentials),
        (4, Duration::from_secs(60), None)
    );

    let c = SmtpConfig::parse("smtp+starttls://u%40x.com:p%3A%2F%40ss@smtp.example.com?pool=8&timeout=5&hello=mta.example.com").unwrap();
    assert_eq!(
        (c.port, c.security, c.pool_size),
        (587, SmtpSecurity::StartTls, 8)
    );
    let creds = c.credentials.unwrap();
    assert_eq!(
        (creds.username.as_str(), creds.password.as_str()),
        ("u@x.com", "p:/@ss")
    );
    assert_eq!(c.timeout, Duration::from_secs(5));
    assert_eq!(c.hello_name.as_deref(), Some("mta.example.com"));

    let c = SmtpConfig::parse("SMTPS://[::1]:2465/?ca=%2Fetc%2Fca.pem").unwrap();
    assert_eq!(
        (c.host.as_str(), c.port, c.security),
        ("::1", 2465, SmtpSecurity::Implicit)
    );
    assert_eq!(c.ca_file.unwrap(), Path::new("/etc/ca.pem"));
    // An unencoded '@' in the password still parses: the last '@' ends the credentials.
    let c: SmtpConfig = "smtp://user:p@ss@host:2525".parse().unwrap();
    assert_eq!(c.credentials.unwrap().password, "p@ss");

    for (url, why) in [
        ("relay.internal:25", "no scheme"),
        ("http://relay", "unknown scheme"),
        ("smtp://", "no host"),
        ("smtp://relay:0", "port"),
        ("smtp://relay:smtp", "port"),
        ("smtp://relay/path", "path"),
        ("smtp://relay?pool=0", "pool"),
        ("smtp://relay?pool=many", "pool"),
        ("smtp://relay?timeout=-1", "timeout"),
        ("smtp://relay?tls=yes", "tls=none"),
        ("smtps://relay?tls=none", "tls=none"),
        ("smtp://relay?level=9", "unknown"),
        ("smtp://:pw@relay", "user name"),
        ("smtp://us%zzer@relay", "percent"),
        ("smtp://[::1:25", "IPv6"),
        ("smtp://re lay", "host"),
    ] {
        let err = SmtpConfig::parse(url).unwrap_err().to_string();
        assert!(err.contains(why), "{url}: {why:?} not in {err}");
        assert!(
            err.contains("smtp+starttls://") && err.contains("?pool=N"),
            "{err}"
        );
    }
}

#[test]
fn bad_fields_are_refused_before_sending() {
    let err = text_email("not an address").to_message(None).unwrap_err();
    assert!(
        matches!(&err, SendError::InvalidRecipient(why) if why.contains("not an address")),
        "{err}"
    );
    type Change = fn(&mut Email);
    let cases: [(Change, &str); 6] = [
        (|e| e.from = "Herald".into(), "From"),
        (|e| e.reply_to = Some("help desk".into()), "Reply-To"),
        (
            |e| {
                e.list_unsubscribe = Some(ListUnsubscribe {
                    url: "http://x.com/u".into(),
                    mailto: None,
                })
            },
            "https://",
        ),
        (
            |e| e.headers = vec![("Subject".into(), "x".into())],
            "own fields",
        ),
        (
            |e| e.headers = vec![("X-Bad\r\nBcc".into(), "x".into())],
            "header name",
        ),
        (
            |e| e.headers = vec![("X-A B".into(), "x".into())],
            "header name",
        ),
    ];
    let refusal = |email: &Email| match email.to_message(None) {
        Err(SendError::Permanent(why)) => why,
        other => panic!("{other:?}"),
    };
    for (change, why) in cases {
        let mut email = text_email("a@example.net");
        change(&mut email);
        assert!(refusal(&email).contains(why), "{why}: {}", refusal(&email));
    }
    for id in [
        "",
        "no-at-sign",
        "@x",
        "a@",
        "a b@x",
        "a@b@c",
        "a<b@x",
        "\u{e9}@x",
    ] {
        let email = Email {
            message_id: id.into(),
            ..text_email("a@example.net")
        };
        assert!(refusal(&email).contains("Message-ID"), "{id:?}");
    }

    // A line break in a value cannot start a header field of its own.
    let email = Email {
        subject: "Hi\r\nBcc: victim@example.org".into(),
        headers: vec![("X-Note".into(), "a\nb".into())],
        ..text_email("a@example.net")
    };
    let raw = String::from_utf8(email.to_message(None).unwrap().formatted()).unwrap();
    assert!(!raw.contains("\r\nBcc:"), "{raw}");
    assert!(raw.contains("X-Note: a b\r\n"), "{raw}");
}

#[test]
fn formatted_is_the_signed_wire_form() {
    let signer = DkimSigner::from_pem("example.com", "ed1", &ed25519_pkcs8()).unwrap();
    let sender = sender("smtp://127.0.0.1:1", Some(signer));
    let bytes = sender.formatted(&full_email("a@example.net")).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.is_ascii());
    assert!(
        text.contains("\r\nDKIM-Signature: v=1; a=ed25519-sha256;"),
        "{text}"
    );
    assert!(text.lines().all(|l| l.len() <= 998));
    let headers = &text[..text.find("\r\n\r\n").unwrap()];
    // One Content-Type and one MIME-Version at the top, both covered by the signature.
    assert_eq!(
        headers
            .matches("\r\nContent-Type: multipart/alternative;")
            .count(),
        1,
        "{headers}"
    );
    assert_eq!(headers.matches("MIME-Version: 1.0").count(), 1, "{headers}");
}

#[tokio::test]
async fn refused_connection_is_transient() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sender = sender(&format!("smtp://127.0.0.1:{port}?timeout=5"), None);
    let err = sender.send(&text_email("a@example.net")).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
}

#[tokio::test]
async fn replies_are_classified() {
    let sink = Sink::start(&[]);
    let sender = sender(&sink.url("smtp"), None);

    let err = sender
        .send(&text_email("nobody@example.net"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::InvalidRecipient(why) if why.contains("550") && why.contains("5.1.1")),
        "{err}"
    );
    let err = sender
        .send(&text_email("tempfail@example.net"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Transient(why) if why.contains("451")),
        "{err}"
    );
    let err = sender
        .send(&text_email("policy@example.net"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(why) if why.contains("554") && why.contains("5.7.1")),
        "{err}"
    );

    // A refusal ends that connection's transaction, not the sender.
    let receipt = sender.send(&text_email("fine@example.net")).await.unwrap();
    assert!(receipt.provider_id.unwrap().starts_with("250 "));
    assert_eq!(
        sink.message(1).1["rcpt_tos"],
        serde_json::json!(["fine@example.net"])
    );
}

#[tokio::test]
async fn pooled_connections_are_reused() {
    let sink = Sink::start(&[]);
    let sender = sender(&format!("{}?pool=2", sink.url("smtp")), None);
    for i in 0..5 {
        sender
            .send(&text_email(&format!("r{i}@example.net")))
            .await
            .unwrap();
    }
    assert_eq!(
        sink.message(5).1["rcpt_tos"],
        serde_json::json!(["r4@example.net"])
    );
    // One after the other, the sends need only one connection.
    assert_eq!(sink.connections(), 1, "connections for 5 messages");
    assert_eq!(
        sink.message(5).1["connection"],
        sink.message(1).1["connection"]
    );
    sender.shutdown().await;
}

#[tokio::test]
async fn concurrent_sends_share_the_pool() {
    let sink = Sink::start(&[]);
    let sender = sender(&format!("{}?pool=2", sink.url("smtp")), None);
    let emails: Vec<Email> = (0..8)
        .map(|i| text_email(&format!("c{i}@example.net")))
        .collect();
    let sent = futures::future::join_all(emails.iter().map(|email| sender.send(email))).await;
    for result in sent {
        assert!(result.unwrap().provider_id.unwrap().starts_with("250 "));
    }
    let mut recipients: Vec<String> = (1..=8)
        .map(|n| {
            let (_, envelope) = sink.message(n);
            let connection = envelope["connection"].as_u64().unwrap();
            assert!((1..=2).contains(&connection), "{envelope}");
            envelope["rcpt_tos"][0].as_str().unwrap().to_owned()
        })
        .collect();
    recipients.sort();
    let want: Vec<String> = (0..8).map(|i| format!("c{i}@example.net")).collect();
    assert_eq!(recipients, want);
    assert_eq!(sink.connections(), 2, "eight sends at once, pool=2");
    sender.shutdown().await;
}

/// A relay on loopback that closes each connection after its first message, as relays close
/// connections left idle. Returns its port and the number of connections it accepted.
async fn one_message_relay() -> (u16, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let connections = Arc::new(AtomicU32::new(0));
    let count = connections.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 one-shot ESMTP\r\n").await?;
                while let Some(line) = lines.next_line().await? {
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250 one-shot\r\n",
                        "DATA" => {
                            write.write_all(b"354 go ahead\r\n").await?;
                            while lines.next_line().await?.is_some_and(|l| l != ".") {}
                            write.write_all(b"250 2.0.0 Ok: queued\r\n").await?;
                            return Ok(());
                        }
                        "QUIT" => b"221 bye\r\n",
                        _ => b"250 OK\r\n",
                    };
                    write.write_all(reply).await?;
                }
                Ok::<_, std::io::Error>(())
            });
        }
    });
    (port, connections)
}

#[tokio::test]
async fn an_idle_connection_the_relay_closed_is_replaced() {
    let (port, connections) = one_message_relay().await;
    let sender = sender(&format!("smtp://127.0.0.1:{port}?timeout=5"), None);
    sender.send(&text_email("a@example.net")).await.unwrap();
    // Long enough idle for the sender to check the connection before using it again.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sender.send(&text_email("b@example.net")).await.unwrap();
    assert_eq!(connections.load(Ordering::SeqCst), 2);
}

/// A CA and a server certificate for 127.0.0.1 signed by it (rustls refuses a self-signed
/// CA certificate as the server's own). Returns the paths of the CA, the certificate, the key.
fn certificates(dir: &Path) -> (String, String, String) {
    let p = |name: &str| dir.join(name).display().to_string();
    let (ca_key, ca, key, csr, cert, ext) = (
        p("ca.key"),
        p("ca.pem"),
        p("key.pem"),
        p("csr.pem"),
        p("cert.pem"),
        p("ext.cnf"),
    );
    let ext_conf = "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n\
                    extendedKeyUsage=serverAuth\n";
    std::fs::write(&ext, ext_conf).unwrap();
    openssl(&format!(
        "req -x509 -newkey rsa:2048 -nodes -keyout {ca_key} -out {ca} -days 2 -subj /CN=HeraldTestCA"
    ));
    openssl(&format!(
        "req -newkey rsa:2048 -nodes -keyout {key} -out {csr} -subj /CN=127.0.0.1"
    ));
    openssl(&format!(
        "x509 -req -in {csr} -CA {ca} -CAkey {ca_key} -CAcreateserial -out {cert} -days 2 \
         -extfile {ext}"
    ));
    (ca, cert, key)
}

#[tokio::test]
async fn starttls_with_login() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let sink = Sink::start(&["--tls", &cert, &key, "--auth", "us@er", "p:ss w"]);
    let url = format!(
        "smtp+starttls://us%40er:p%3Ass%20w@127.0.0.1:{}?timeout=10&ca={ca}",
        sink.port
    );
    sender(&url, None)
        .send(&text_email("a@example.net"))
        .await
        .unwrap();
    let (_, envelope) = sink.message(1);
    assert_eq!(envelope["tls"], true);
    assert_eq!(envelope["login"], "us@er");

    // A wrong password, and a certificate nobody vouches for, cannot be fixed by retrying.
    let url = format!(
        "smtp+starttls://us%40er:wrong@127.0.0.1:{}?timeout=10&ca={ca}",
        sink.port
    );
    let err = sender(&url, None)
        .send(&text_email("a@example.net"))
        .await
        .unwrap_err();
    assert!(matches!(err, SendError::Permanent(_)), "{err}");
    let url = format!(
        "smtp+starttls://us%40er:p%3Ass%20w@127.0.0.1:{}?timeout=10",
        sink.port
    );
    let err = sender(&url, None)
        .send(&text_email("a@example.net"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(why) if why.contains("certificate")),
        "{err}"
    );
}

#[tokio::test]
async fn starttls_required_but_not_offered_is_permanent() {
    let sink = Sink::start(&[]);
    let err = sender(&sink.url("smtp+starttls"), None)
        .send(&text_email("a@example.net"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(why) if why.contains("STARTTLS")),
        "{err}"
    );
    assert_eq!(sink.connections(), 1);
}

#[tokio::test]
async fn implicit_tls() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let sink = Sink::start(&["--tls", &cert, &key, "--smtps"]);
    let url = format!("smtps://127.0.0.1:{}?timeout=10&ca={ca}", sink.port);
    sender(&url, None)
        .send(&text_email("a@example.net"))
        .await
        .unwrap();
    assert_eq!(sink.message(1).1["tls"], true);
}

#[tokio::test]
async fn a_stalled_send_is_transient_and_its_connection_not_reused() {
    let sink = Sink::start(&[]);
    let sender = sender(&format!("{}?timeout=1", sink.url("smtp")), None);
    // The sink answers DATA for slow@ only after 3 seconds.
    let err = sender
        .send(&text_email("slow@example.net"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, SendError::Transient(why) if why.contains("within 1s")),
        "{err}"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;

    sender.send(&text_email("next@example.net")).await.unwrap();
    // Whether the sink kept the stalled message depends on when it saw the client leave.
    let (_, envelope) = (1..=2)
        .map(|n| sink.message(n))
        .find(|(_, envelope)| envelope["rcpt_tos"][0] == "next@example.net")
        .unwrap();
    assert_eq!(
        envelope["connection"], 2,
        "the stalled connection was reused"
    );
}

#[tokio::test]
async fn smtp_takes_the_starttls_offer_unless_told_not_to() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path());
    let sink = Sink::start(&["--tls", &cert, &key]);
    let url = |query: &str| format!("{}?timeout=10&{query}", sink.url("smtp"));
    let email = text_email("a@example.net");

    sender(&url(&format!("ca={ca}")), None)
        .send(&email)
        .await
        .unwrap();
    assert_eq!(sink.message(1).1["tls"], true);
    // Offered with a certificate nobody vouches for: no mail, rather than plain text.
    let err = sender(&url(""), None).send(&email).await.unwrap_err();
    assert!(
        matches!(&err, SendError::Permanent(why) if why.contains("?ca=")),
        "{err}"
    );
    let config = SmtpConfig::parse(&url("tls=none")).unwrap();
    assert_eq!(config.security, SmtpSecurity::None);
    SmtpSender::new(config, None)
        .unwrap()
        .send(&email)
        .await
        .unwrap();
    assert_eq!(sink.message(2).1["tls"], false);
}
