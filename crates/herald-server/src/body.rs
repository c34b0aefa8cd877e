//! Reading request bodies within bounds.
//!
//! The limit applies to the decompressed size and is enforced while decompressing, so a small
//! gzip bomb is refused after reading just past the limit rather than after inflating gigabytes.

use crate::error::ApiError;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode, header};
use flate2::read::MultiGzDecoder;
use herald_core::parse::body_too_large;
use std::io::Read;

/// Reads the whole body, decompressing `gzip`, and returns it as UTF-8 text.
pub async fn read_text(headers: &HeaderMap, body: Body, limit: usize) -> Result<String, ApiError> {
    let raw = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::from(body_too_large(limit)))?;
    let bytes = match encoding(headers)? {
        Encoding::Identity => raw.to_vec(),
        Encoding::Gzip => gunzip(&raw, limit)?,
    };
    String::from_utf8(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!(
                "the body is not valid UTF-8 (at byte {}): send JSON encoded as UTF-8",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

enum Encoding {
    Identity,
    Gzip,
}

fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    let Some(value) = headers.get(header::CONTENT_ENCODING) else {
        return Ok(Encoding::Identity);
    };
    match value.to_str().map(|v| v.trim().to_ascii_lowercase()) {
        Ok(v) if v.is_empty() || v == "identity" => Ok(Encoding::Identity),
        Ok(v) if v == "gzip" || v == "x-gzip" => Ok(Encoding::Gzip),
        _ => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_encoding",
            "Content-Encoding must be gzip or absent",
        )),
    }
}

fn gunzip(raw: &[u8], limit: usize) -> Result<Vec<u8>, ApiError> {
    let mut out = Vec::with_capacity((raw.len() * 4).min(limit + 1));
    MultiGzDecoder::new(raw)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| {
            ApiError::bad_request(
                "invalid_encoding",
                format!("the body is not valid gzip: {e}"),
            )
        })?;
    if out.len() > limit {
        return Err(body_too_large(limit).into());
    }
    Ok(out)
}
