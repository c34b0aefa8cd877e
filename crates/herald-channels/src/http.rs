//! The HTTP client the provider clients share: rustls with the ring provider (no C++ build),
//! bounded timeouts.

use std::sync::Once;
use std::time::Duration;

/// Makes ring the process's rustls provider, once; reqwest is built without one of its own.
pub fn install_crypto() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A client for provider APIs.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .expect("an HTTP client with rustls builds")
}

/// The shared settings, for clients that need more (HTTP/2 only for APNs).
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto();
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .user_agent(concat!("herald/", env!("CARGO_PKG_VERSION")))
}

#[cfg(test)]
mod tests {
    #[test]
    fn builds_with_ring() {
        let _ = super::client();
    }
}
