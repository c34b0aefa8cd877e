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

/// Reads the whole body, decompressing `gzip`.
pub async fn read_bytes(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let raw = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| ApiError::from(body_too_large(limit)))?;
    match encoding(headers)? {
        Encoding::Identity => Ok(raw.to_vec()),
        Encoding::Gzip => gunzip(&raw, limit),
    }
}

/// Reads the whole body, decompressing `gzip`, and returns it as UTF-8 text.
pub async fn read_text(headers: &HeaderMap, body: Body, limit: usize) -> Result<String, ApiError> {
    let bytes = read_bytes(headers, body, limit).await?;
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

/// A definition (segment, journey, template) sent to the management API.
pub struct Definition<'a> {
    pub text: &'a str,
    /// Sent as `application/json` rather than the text form.
    pub is_json: bool,
}

/// Checks a definition body's size (`what` names it in the error) and encoding, and tells which
/// form it is in; bad input is an `invalid` error.
pub fn definition<'a>(
    headers: &HeaderMap,
    body: &'a [u8],
    max: usize,
    what: &str,
    invalid: &'static str,
) -> Result<Definition<'a>, ApiError> {
    if body.len() > max {
        return Err(ApiError::bad_request(
            "body_too_large",
            format!("{what} may have at most {max} bytes"),
        ));
    }
    let text = std::str::from_utf8(body)
        .map_err(|_| ApiError::bad_request(invalid, format!("{what} is not valid UTF-8")))?;
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    Ok(Definition { text, is_json })
}

/// Parses a definition's JSON form; the name may be left out of the body, since the path gives
/// it.
pub fn json_named(
    text: &str,
    name: &str,
    invalid: &'static str,
) -> Result<serde_json::Value, ApiError> {
    let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_request(
            invalid,
            format!("line {}, column {}: {e}", e.line(), e.column()),
        )
    })?;
    if let serde_json::Value::Object(map) = &mut value {
        map.entry("name")
            .or_insert_with(|| serde_json::Value::from(name));
    }
    Ok(value)
}
