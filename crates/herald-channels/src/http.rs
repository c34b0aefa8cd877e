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

/// Maps a request that got no answer. Connection trouble and timeouts may clear up; a request
/// that could not even be built will not. The URL stays out of the reason: for APNs it holds the
/// device token, and webhook URLs often carry one in their query.
pub(crate) fn unreached(provider: &str, error: reqwest::Error) -> crate::SendError {
    let builder = error.is_builder();
    let error = error.without_url();
    // reqwest's own message stops at "error sending request"; the cause (refused, timed out,
    // TLS) that tells whether a provider is down is further down the chain.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    if builder {
        crate::SendError::Permanent(format!(
            "the request to {provider} could not be built: {detail}"
        ))
    } else {
        crate::SendError::Transient(format!("{provider} could not be reached: {detail}"))
    }
}

/// The start of a provider's answer (an error body, a proxy's HTML page), fit for a reason.
pub(crate) fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 300;
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn excerpts_are_cut_on_char_boundaries() {
        let long = "é".repeat(400);
        let cut = super::excerpt(long.as_bytes());
        assert_eq!(cut.chars().count(), 301);
        assert!(cut.ends_with('…'));
        assert_eq!(super::excerpt(b"  short  "), "short");
    }

    #[test]
    fn builds_with_ring() {
        let _ = super::client();
    }
}
