//! Open and click tracking: `GET /t/o/{token}` (a 1×1 pixel) and `GET /t/c/{token}` (a redirect).
//!
//! Tokens are signed by the store's link key (`herald_core::links`): an unknown, tampered or
//! misplaced token (an open token on the click route) gets 404, and a click only ever redirects to
//! the URL its token was signed for. Each hit becomes an event of the recipient in the event log
//! (`Email Opened` / `Email Link Clicked`, with the email spec's `email_id`, `campaign_id` (the
//! journey), `campaign_name` (the template), `link_id`, `link_url`), so segments and journeys see
//! it. Opens by privacy proxies, or within seconds of the send (prefetching scanners), carry
//! `machine: true` so that segments can leave them out.

use crate::AppState;
use crate::error::ApiError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_core::Timestamp;
use herald_core::links::{LinkPurpose, LinkToken};
use herald_store::OutboxMessage;
use serde_json::{Map, Value, json};

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

/// The source tracking events are recorded under.
const TRACKING_SOURCE: &str = "tracking";

/// Opens this soon after the send are a machine's (mail scanners fetch images on arrival).
const MACHINE_OPEN_SECONDS: i64 = 10;

/// User agents of image proxies that fetch every image whether or not anyone reads the mail.
const PROXY_AGENTS: [&str; 3] = ["GoogleImageProxy", "YahooMailProxy", "Outlook-iOS-Android"];

fn not_found() -> ApiError {
    ApiError::not_found("no such tracking link".to_owned())
}

/// The message a token of `purpose` names, if the token is genuine and the message still
/// exists; the tracking routes and the unsubscribe and preference pages all start here.
pub(crate) async fn signed_message(
    state: &AppState,
    token: &str,
    purpose: LinkPurpose,
) -> Result<Option<(LinkToken, OutboxMessage)>, ApiError> {
    let Some(t) = state
        .links
        .as_ref()
        .and_then(|key| key.verify(token))
        .filter(|t| t.purpose == purpose)
    else {
        return Ok(None);
    };
    Ok(state
        .store
        .outbox_message(&t.message_id)
        .await?
        .map(|m| (t, m)))
}

async fn message_of(
    state: &AppState,
    token: &str,
    purpose: LinkPurpose,
) -> Result<(LinkToken, OutboxMessage), ApiError> {
    signed_message(state, token, purpose)
        .await?
        .ok_or_else(not_found)
}

/// Appends a tracking event of the message's recipient (who may have been erased since).
async fn record(
    state: &AppState,
    message: &OutboxMessage,
    event: &str,
    mut properties: Map<String, Value>,
) -> Result<(), ApiError> {
    let Some(profile) = state
        .store
        .profiles_by_id(vec![message.profile])
        .await?
        .pop()
    else {
        return Ok(());
    };
    properties.extend(herald_messages::events::email_spec(message));
    let now = Timestamp::now();
    let id = format!("trk-{}", uuid::Uuid::new_v4());
    let Some(parsed) = herald_messages::events::track(&profile, event, properties, &id, now) else {
        return Ok(());
    };
    let source = state.store.named_source(TRACKING_SOURCE).await?;
    state.store.append(source, vec![parsed]).await?;
    state.events_appended();
    Ok(())
}

pub async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (_, message) = message_of(&state, &token, LinkPurpose::Open).await?;
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // Seconds after the mail reached the relay; a message not (yet) delivered counts from when
    // it was queued.
    let sent = message
        .delivery
        .as_ref()
        .filter(|d| d.state == herald_store::DeliveryState::Delivered)
        .map_or(message.created_at, |d| d.updated_at);
    let early = Timestamp::now().as_second() - sent.as_second() < MACHINE_OPEN_SECONDS;
    let machine = early || PROXY_AGENTS.iter().any(|p| agent.contains(p));
    let mut properties = Map::new();
    properties.insert("machine".into(), json!(machine));
    record(&state, &message, "Email Opened", properties).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/gif")),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, private"),
            ),
        ],
        PIXEL,
    )
        .into_response())
}

pub async fn click(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let (t, message) = message_of(&state, &token, LinkPurpose::Click).await?;
    let url = t.url.ok_or_else(not_found)?;
    let location = HeaderValue::from_str(&url).map_err(|_| not_found())?;
    let mut properties = Map::new();
    properties.insert("link_id".into(), json!(t.link));
    properties.insert("link_url".into(), json!(url));
    record(&state, &message, "Email Link Clicked", properties).await?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, private"),
            ),
        ],
    )
        .into_response())
}
