use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const WRITE_KEY: &str = "e2e-write-key";
pub const ADMIN_TOKEN: &str = "e2e-admin-token";

/// An HTTP client; the workspace's reqwest has rustls without a built-in provider, so the
/// process installs ring first.
pub fn client_builder() -> reqwest::ClientBuilder {
    herald_channels::http::install_crypto();
    reqwest::Client::builder()
}

pub fn client() -> reqwest::Client {
    client_builder().build().unwrap()
}

pub fn herald() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_herald"));
    c.env_remove("HERALD_DATA")
        .env_remove("HERALD_LISTEN")
        .env("HERALD_LOG", "warn");
    c
}

pub fn run(args: &[&str]) -> Output {
    herald().args(args).output().expect("run herald")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `herald init` with known credentials.
/// The stdout of a command that must succeed.
pub fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", stderr(o));
    stdout(o)
}

pub fn init(dir: &Path) {
    let o = run(&[
        "init",
        "--data",
        dir.to_str().unwrap(),
        "--write-key",
        WRITE_KEY,
        "--admin-token",
        ADMIN_TOKEN,
    ]);
    assert!(o.status.success(), "init failed: {}", stderr(&o));
}

pub fn shared_dataset(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/datasets")
        .join(rel)
}

pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(rel)
}

/// A running `herald serve` on a free loopback port.
pub struct Server {
    pub child: Child,
    pub base: String,
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, "127.0.0.1:0", &[])
    }

    /// `herald serve` on `listen` with more environment variables.
    pub fn start_with(dir: &Path, listen: &str, envs: &[(&str, &str)]) -> Server {
        let mut child = herald()
            .args(["serve", "--data", dir.to_str().unwrap(), "--listen", listen])
            .envs(envs.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start herald serve");
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(30);
        let base = loop {
            assert!(Instant::now() < deadline, "herald serve did not start");
            let line = lines.next().expect("serve exited early").unwrap();
            if let Some(rest) = line.split("serving on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, base }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// SIGTERM and wait: the graceful path.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "serve exited with {status}");
    }

    /// SIGKILL: the crash path.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every event in the store, via `herald export`.
pub fn export(dir: &Path) -> Vec<serde_json::Value> {
    let o = run(&["export", "--data", dir.to_str().unwrap()]);
    assert!(o.status.success(), "export failed: {}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn admin_get(base: &str, path: &str) -> serde_json::Value {
    block_on(async {
        let r = crate::common::client()
            .get(format!("{base}{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    })
}

/// Request bodies as sent, each with the items it carries.
pub type Bodies<T> = Vec<(String, Vec<T>)>;

/// `/v1/batch` requests from several concurrent writers, each until the server stops answering
/// (the crash tests pull the plug in the middle). `batch(worker, n)` gives a request body and
/// what it carries; `acked` collects what was acknowledged, `sent` every body with its items.
pub struct BatchLoad<T> {
    pub acked: std::sync::Arc<std::sync::Mutex<Vec<T>>>,
    pub sent: std::sync::Arc<std::sync::Mutex<Bodies<T>>>,
    pub rt: tokio::runtime::Runtime,
    task: tokio::task::JoinHandle<()>,
}

impl<T: Clone + Send + 'static> BatchLoad<T> {
    pub fn start(
        base: &str,
        workers: usize,
        batch: fn(usize, usize) -> (String, Vec<T>),
    ) -> BatchLoad<T> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let acked: std::sync::Arc<std::sync::Mutex<Vec<T>>> = Default::default();
        let sent: std::sync::Arc<std::sync::Mutex<Bodies<T>>> = Default::default();
        let client = crate::common::client();
        let tasks: Vec<_> = (0..workers)
            .map(|worker| {
                let (client, acked, sent) = (client.clone(), acked.clone(), sent.clone());
                let url = format!("{base}/v1/batch");
                rt.spawn(async move {
                    for n in 0.. {
                        let (body, items) = batch(worker, n);
                        sent.lock().unwrap().push((body.clone(), items.clone()));
                        let r = client
                            .post(&url)
                            .basic_auth(WRITE_KEY, Some(""))
                            .body(body)
                            .timeout(Duration::from_secs(10))
                            .send()
                            .await;
                        match r {
                            Ok(r) if r.status() == 200 => acked.lock().unwrap().extend(items),
                            _ => return, // the server is gone
                        }
                    }
                })
            })
            .collect();
        let task = rt.spawn(async move {
            for t in tasks {
                let _ = t.await;
            }
        });
        BatchLoad {
            acked,
            sent,
            rt,
            task,
        }
    }

    pub fn acked_len(&self) -> usize {
        self.acked.lock().unwrap().len()
    }

    /// Waits for every writer to stop (after the server was killed).
    pub fn finish(self) -> (Vec<T>, Bodies<T>, tokio::runtime::Runtime) {
        self.rt.block_on(self.task).unwrap();
        let acked = self.acked.lock().unwrap().clone();
        let sent = self.sent.lock().unwrap().clone();
        (acked, sent, self.rt)
    }
}

/// A blocking HTTP request: status, `Location` header and body. Redirects are not followed.
pub fn http(
    method: &str,
    url: &str,
    admin: bool,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> (u16, Option<String>, String) {
    block_on(async {
        let client = crate::common::client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut req = client.request(method.parse().unwrap(), url).body(body);
        if admin {
            req = req.bearer_auth(ADMIN_TOKEN);
        }
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let r = req.send().await.unwrap();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        (r.status().as_u16(), location, r.text().await.unwrap())
    })
}

/// Posts Segment messages to `/v1/batch` with the write key.
pub fn ingest(base: &str, events: Vec<serde_json::Value>) {
    block_on(async {
        let r = crate::common::client()
            .post(format!("{base}/v1/batch"))
            .basic_auth(WRITE_KEY, Some(""))
            .json(&serde_json::json!({ "batch": events }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    })
}

/// Polls `check` until it gives a value, for at most `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a future to completion on a runtime of its own (the e2e tests are synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// aiosmtpd saving what it receives (`herald-channels`' test sink).
pub struct Sink {
    child: Child,
    out: PathBuf,
    pub port: u16,
}

impl Sink {
    pub fn start(dir: &Path, port: u16) -> Sink {
        std::fs::create_dir_all(dir).unwrap();
        let out = dir.join(format!("mail-{}", std::process::id() ^ u32::from(port)));
        let portfile = dir.join(format!("port-{port}"));
        let _ = std::fs::remove_file(&portfile);
        let child = Command::new("python3")
            .arg(repo_file("crates/herald-channels/tests/smtp_sink.py"))
            .arg(&portfile)
            .arg(&out)
            .args(["--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 with aiosmtpd (pip install -r .ci/requirements.txt)");
        let port = wait_for("the SMTP sink", std::time::Duration::from_secs(60), || {
            std::fs::read_to_string(&portfile).ok()?.trim().parse().ok()
        });
        Sink { child, out, port }
    }

    /// The messages received so far, in order.
    pub fn mails(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(&self.out)
            .map(|d| d.filter_map(|e| Some(e.ok()?.path())).collect())
            .unwrap_or_default();
        v.retain(|p| p.extension().is_some_and(|e| e == "eml"));
        v.sort();
        v
    }

    pub fn stop(mut self) -> Vec<PathBuf> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.mails()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mail as Python's `email` parser (and, given the public key, dkimpy) reads it: see
/// `read_mail.py`.
pub fn read_mail(eml: &Path, der: Option<&Path>) -> serde_json::Value {
    let o = Command::new("python3")
        .arg(repo_file("crates/herald/tests/e2e/read_mail.py"))
        .arg(eml)
        .args(der)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}
