//! What providers report back after a send:
//!
//! * `POST /api/v1/feedback/email` (admin token): a raw RFC 3464 delivery status notification or
//!   RFC 5965 abuse report, as the mail system received it (pipe a bounce mailbox into it). Hard
//!   bounces and complaints suppress the address; each report becomes `Email Bounced` /
//!   `Email Marked as Spam` of the person the original message went to.
//! * `POST /hooks/twilio/status`: Twilio's status callback, accepted only with a valid
//!   `X-Twilio-Signature`; `delivered` becomes `SMS Delivered`, `failed` / `undelivered`
//!   `SMS Failed`, and an unsubscribed recipient (error 21610) withdraws SMS consent.

use crate::AppState;
use crate::auth::Admin;
use crate::body;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use herald_channels::email::feedback;
use herald_channels::sms::twilio::{self, StatusCallback};
use herald_core::Timestamp;
use herald_core::consent::Consent;
use herald_messages::events;
use herald_messages::preferences::{self, FeedbackReport};
use herald_store::{ConsentChange, MessageCommit};
use serde_json::json;

/// Reports are small; a returned message is truncated by the mail system well below this.
const MAX_REPORT_BYTES: usize = 4 * 1024 * 1024;

#[utoipa::path(
    post, path = "/api/v1/feedback/email", tag = "messages",
    request_body(content = String, content_type = "message/rfc822",
        description = "a delivery status notification (RFC 3464) or an abuse report (RFC 5965)"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn email_feedback(
    _: Admin,
    State(state): State<AppState>,
    headers: HeaderMap,
    raw: Body,
) -> Result<Json<FeedbackReport>, ApiError> {
    let bytes = body::read_bytes(&headers, raw, MAX_REPORT_BYTES).await?;
    let parsed = feedback::parse(&bytes)
        .map_err(|e| ApiError::bad_request("invalid_report", e.to_string()))?;
    let report = preferences::apply_feedback(state.store.as_ref(), &parsed, Timestamp::now())
        .await
        .map_err(crate::templates::messages_error)?;
    state.events_appended();
    Ok(Json(report))
}

pub async fn twilio_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let Some(token) = state.twilio_auth_token.as_deref() else {
        return Err(ApiError::not_found(
            "Twilio is not configured on this server (HERALD_TWILIO_AUTH_TOKEN)",
        ));
    };
    if body.len() > 64 * 1024 {
        return Err(ApiError::bad_request(
            "invalid_form",
            "the callback is over 64 KiB",
        ));
    }
    let params: Vec<(String, String)> = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::bad_request("invalid_form", format!("not a form: {e}")))?;
    let signature = headers
        .get("x-twilio-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let url = format!(
        "{}/hooks/twilio/status",
        state.public_url.trim_end_matches('/')
    );
    if !twilio::verify_signature(token, &url, &params, signature) {
        return Err(ApiError::unauthorized(
            "X-Twilio-Signature does not match; check HERALD_PUBLIC_URL is the URL Twilio calls",
        ));
    }
    let callback = StatusCallback::from_params(&params)
        .map_err(|m| ApiError::bad_request("invalid_form", m))?;
    let Some(message) = state
        .store
        .message_for_provider_id("sms", &callback.message_sid)
        .await?
    else {
        // Not ours (or erased since): acknowledged so that Twilio stops retrying.
        return Ok(StatusCode::NO_CONTENT);
    };
    let Some(person) = state
        .store
        .profiles_by_id(vec![message.profile])
        .await?
        .pop()
    else {
        return Ok(StatusCode::NO_CONTENT);
    };
    let now = Timestamp::now();
    let mut commit = MessageCommit::default();
    let status = callback.status.as_str();
    let name = match status {
        "delivered" => Some("SMS Delivered"),
        "failed" | "undelivered" => Some("SMS Failed"),
        _ => None,
    };
    if let Some(name) = name {
        let mut props = events::about(&message);
        props.insert("status".into(), json!(status));
        if let Some(code) = &callback.error_code {
            props.insert("error_code".into(), json!(code));
        }
        commit.events.extend(events::track(
            &person,
            name,
            props,
            &format!("sms.{status}.{}", message.id),
            now,
        ));
    }
    if callback.error_code == Some(21610) {
        commit.consent.push(ConsentChange {
            profile: person.id,
            consent: Consent {
                channel: herald_core::Channel::Sms,
                topic: String::new(),
                subscribed: false,
                source: "carrier_stop".into(),
                at: now,
            },
        });
    }
    state.store.commit_messages(commit).await?;
    state.events_appended();
    Ok(StatusCode::NO_CONTENT)
}
