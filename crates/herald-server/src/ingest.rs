//! The Segment HTTP tracking API: `/v1/identify|track|page|screen|group|alias|batch|import`.
//!
//! A request is answered only after its events are durable. A batch keeps its valid events and
//! lists the others by index; only a request that cannot be read as a whole is refused as a whole,
//! because the SDKs drop a batch on any 4xx.

use crate::AppState;
use crate::auth::basic_write_key;
use crate::body::read_text;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use herald_core::parse::{
    MAX_EVENT_BYTES, MAX_REQUEST_BYTES, Rejection, parse_batch, parse_single,
};
use herald_core::{Message, MessageKind, SourceId, Timestamp};
use serde::Serialize;

/// The answer to an ingest request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IngestResponse {
    pub success: bool,
    /// Valid events: newly stored, or already stored earlier under the same `messageId`.
    pub accepted: u64,
    /// Of the accepted, how many were already stored.
    pub duplicates: u64,
    /// Events refused, by index in the batch.
    pub rejected: Vec<RejectedEvent>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RejectedEvent {
    pub index: usize,
    pub code: String,
    pub message: String,
}

fn new_message_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn source(state: &AppState, key: Option<String>) -> Result<SourceId, ApiError> {
    let key = key.ok_or_else(|| {
        ApiError::unauthorized(
            "no write key: send it as the HTTP Basic username (empty password) or as `writeKey` in the body",
        )
    })?;
    state
        .store
        .source_for_write_key(&key)
        .await?
        .ok_or_else(|| {
            ApiError::unauthorized("unknown write key: check the key `herald init` printed")
        })
}

/// A write key in the header is checked before the body is read, so strangers cost little.
async fn header_source(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<SourceId>, ApiError> {
    match basic_write_key(headers)? {
        Some(key) => source(state, Some(key)).await.map(Some),
        None => Ok(None),
    }
}

async fn store(
    state: &AppState,
    source: SourceId,
    messages: Vec<Message>,
    rejected: Vec<RejectedEvent>,
) -> Result<IngestResponse, ApiError> {
    let accepted = messages.len() as u64;
    let report = state.store.append(source, messages).await?;
    state.events_appended();
    metrics::counter!("herald_events_ingested_total").increment(report.stored);
    metrics::counter!("herald_events_duplicate_total").increment(report.duplicates);
    metrics::counter!("herald_events_dropped_erased_total").increment(report.dropped_erased);
    for r in &rejected {
        metrics::counter!("herald_events_rejected_total", "code" => r.code.clone()).increment(1);
    }
    Ok(IngestResponse {
        success: true,
        accepted,
        duplicates: report.duplicates,
        rejected,
    })
}

fn count_refusal(e: ApiError) -> ApiError {
    metrics::counter!("herald_requests_refused_total", "code" => e.code).increment(1);
    e
}

/// `POST /v1/batch` and `POST /v1/import`.
#[utoipa::path(
    post, path = "/v1/batch", tag = "ingest",
    request_body(content = serde_json::Value, description = "`{\"batch\": [message, ...], \"sentAt\"?, \"context\"?, \"writeKey\"?}`; gzip accepted"),
    responses(
        (status = 200, description = "Valid events stored; invalid ones listed", body = IngestResponse),
        (status = 400, description = "The body cannot be read as a whole", body = ErrorBody),
        (status = 401, description = "Missing or unknown write key", body = ErrorBody),
    ),
    security(("write_key" = []))
)]
pub async fn batch(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestResponse>, ApiError> {
    let result = async {
        let header_source = header_source(&state, &headers).await?;
        let text = read_text(&headers, body, MAX_REQUEST_BYTES).await?;
        let parsed = parse_batch(&text, Timestamp::now(), &mut new_message_id)?;
        let source = match header_source {
            Some(s) => s,
            None => source(&state, parsed.write_key).await?,
        };
        let mut messages = Vec::with_capacity(parsed.items.len());
        let mut rejected = Vec::new();
        for (index, item) in parsed.items.into_iter().enumerate() {
            match item {
                Ok(m) => messages.push(m),
                Err(Rejection { code, message }) => rejected.push(RejectedEvent {
                    index,
                    code: code.as_str().to_owned(),
                    message,
                }),
            }
        }
        store(&state, source, messages, rejected).await
    }
    .await;
    result.map(Json).map_err(count_refusal)
}

async fn single(
    state: AppState,
    headers: HeaderMap,
    body: Body,
    kind: MessageKind,
) -> Result<Json<IngestResponse>, ApiError> {
    let result = async {
        let header_source = header_source(&state, &headers).await?;
        let text = read_text(&headers, body, MAX_EVENT_BYTES)
            .await
            .map_err(|e| {
                if e.code == "body_too_large" {
                    ApiError::bad_request(
                        "event_too_large",
                        format!("a single event may be at most {MAX_EVENT_BYTES} bytes"),
                    )
                } else {
                    e
                }
            })?;
        let parsed = parse_single(&text, kind, Timestamp::now(), &mut new_message_id)?;
        let source = match header_source {
            Some(s) => s,
            None => source(&state, parsed.write_key).await?,
        };
        store(&state, source, vec![parsed.message], Vec::new()).await
    }
    .await;
    result.map(Json).map_err(count_refusal)
}

macro_rules! single_endpoint {
    ($name:ident, $kind:expr, $path:literal) => {
        #[doc = concat!("`POST ", $path, "`: one message.")]
        #[utoipa::path(
            post, path = $path, tag = "ingest",
            request_body(content = serde_json::Value, description = "One Segment-spec message; gzip accepted"),
            responses(
                (status = 200, description = "Stored (or already stored)", body = IngestResponse),
                (status = 400, description = "Invalid message", body = ErrorBody),
                (status = 401, description = "Missing or unknown write key", body = ErrorBody),
            ),
            security(("write_key" = []))
        )]
        pub async fn $name(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<IngestResponse>, ApiError> {
            single(state, headers, body, $kind).await
        }
    };
}

single_endpoint!(identify, MessageKind::Identify, "/v1/identify");
single_endpoint!(track, MessageKind::Track, "/v1/track");
single_endpoint!(page, MessageKind::Page, "/v1/page");
single_endpoint!(screen, MessageKind::Screen, "/v1/screen");
single_endpoint!(group, MessageKind::Group, "/v1/group");
single_endpoint!(alias, MessageKind::Alias, "/v1/alias");
