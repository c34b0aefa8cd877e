use herald_core::credentials::Secret;
use herald_server::{AppState, launch_with_tcp_listener};
use herald_store::NewStore;
use herald_store_sqlite::{Access, SqliteStore};
use std::sync::Arc;
use tempfile::TempDir;
use tokio::sync::oneshot;

pub const WRITE_KEY: &str = "test-write-key";
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub dir: TempDir,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Starts a server on a free loopback port over a new store.
pub async fn spawn_app() -> TestApp {
    let dir = TempDir::new().unwrap();
    SqliteStore::create(
        dir.path(),
        &NewStore {
            write_key: Secret::new(WRITE_KEY),
            admin_token: Secret::new(ADMIN_TOKEN),
        },
    )
    .unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), Access::ReadWrite).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(launch_with_tcp_listener(
        AppState::new(store),
        listener,
        async {
            let _ = rx.await;
        },
    ));
    TestApp {
        base,
        client: client_builder().build().unwrap(),
        dir,
        shutdown: Some(tx),
        server: Some(server),
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs JSON text with the write key as Basic username.
    pub async fn post(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .basic_auth(WRITE_KEY, Some(""))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// POSTs a body sent with `Content-Encoding: encoding`.
    pub async fn post_encoded(
        &self,
        path: &str,
        encoding: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .basic_auth(WRITE_KEY, Some(""))
            .header("content-encoding", encoding)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
    }

    pub async fn json(&self, path: &str) -> serde_json::Value {
        let r = self.admin_get(path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    /// Stops the server the way SIGTERM does and waits until the store is closed.
    pub async fn stop(mut self) -> TempDir {
        self.shutdown.take().unwrap().send(()).unwrap();
        self.server.take().unwrap().await.unwrap().unwrap();
        self.dir
    }
}

/// Asserts an error answer's status and code, and that it explains itself.
pub async fn assert_error(r: reqwest::Response, status: u16, code: &str) {
    assert_eq!(r.status().as_u16(), status);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| m.len() > 10),
        "{body}"
    );
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// An HTTP client builder; the workspace's reqwest has rustls without a built-in provider, so the
/// process installs ring first.
pub fn client_builder() -> reqwest::ClientBuilder {
    herald_channels::http::install_crypto();
    reqwest::Client::builder()
}
