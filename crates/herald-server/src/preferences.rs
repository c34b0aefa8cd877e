//! The pages people reach from a message: one-click unsubscribe `/u/{token}` and the preference
//! centre `/p/{token}`, both behind tokens signed for one message (so for one person).
//!
//! `GET /u/{token}` only asks ("Unsubscribe from these emails?"): mail scanners fetch every
//! link, so a GET must never unsubscribe anyone. `POST /u/{token}` unsubscribes, whether a mail
//! client sends it on its own (RFC 8058, body `List-Unsubscribe=One-Click`) or the person
//! presses the button. The preference centre lists channels and email topics with their current
//! state and records what the person changes. Every change takes effect for the next send.

use crate::AppState;
use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use herald_core::Timestamp;
use herald_core::consent::ConsentKey;
use herald_core::links::LinkPurpose;
use herald_messages::preferences::{self, Preferences};
use herald_store::OutboxMessage;

fn not_found() -> ApiError {
    ApiError::not_found("this link is not valid; use the newest email's link".to_owned())
}

/// The message a genuine token of `purpose` names.
async fn message_of(
    state: &AppState,
    token: &str,
    purpose: LinkPurpose,
) -> Result<OutboxMessage, ApiError> {
    crate::tracking::signed_message(state, token, purpose)
        .await?
        .map(|(_, m)| m)
        .ok_or_else(not_found)
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{}</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:34rem;margin:3rem auto;padding:0 1rem;color:#222}}\
         button{{font-size:1rem;padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #444;background:#222;color:#fff;cursor:pointer}}\
         label{{display:block;margin:.5rem 0}}fieldset{{border:1px solid #ddd;border-radius:.4rem;margin:1rem 0}}</style>\
         </head><body><h1>{}</h1>{body}</body></html>",
        escape(title),
        escape(title)
    );
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("no-store, private"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        html,
    )
        .into_response()
}

fn channel_name(channel: &str) -> &'static str {
    match channel {
        "sms" => "text messages",
        "push" => "push notifications",
        _ => "marketing emails",
    }
}

pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let message = message_of(&state, &token, LinkPurpose::Unsubscribe).await?;
    let body = format!(
        "<p>Stop receiving {} from us? Messages you need, such as receipts, still arrive.</p>\
         <form method=\"post\"><input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\
         <button type=\"submit\">Unsubscribe</button></form>",
        channel_name(&message.channel)
    );
    Ok(page(StatusCode::OK, "Unsubscribe", &body))
}

pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let message = message_of(&state, &token, LinkPurpose::Unsubscribe).await?;
    preferences::unsubscribe(state.store.as_ref(), &message, Timestamp::now())
        .await
        .map_err(crate::templates::messages_error)?;
    state.events_appended();
    let body = format!(
        "<p>You will get no more {} from us. Changed your mind? \
         You can subscribe again from any message's preferences link.</p>",
        channel_name(&message.channel)
    );
    Ok(page(StatusCode::OK, "You are unsubscribed", &body))
}

/// The email topics people can choose from: the live journeys.
pub(crate) async fn topics(state: &AppState) -> Result<Vec<String>, ApiError> {
    let mut names: Vec<String> = state
        .store
        .journey_definitions()
        .await?
        .into_iter()
        .filter(|r| r.live)
        .map(|r| r.name)
        .collect();
    names.dedup();
    Ok(names)
}

fn form(p: &Preferences, saved: bool) -> String {
    let boxes = |choices: &[preferences::Choice]| -> String {
        choices
            .iter()
            .map(|c| {
                format!(
                    "<label><input type=\"checkbox\" name=\"{}\" value=\"on\"{}> {}</label>\
                     <input type=\"hidden\" name=\"shown\" value=\"{}\">",
                    escape(&c.key),
                    if c.subscribed { " checked" } else { "" },
                    escape(&c.label),
                    escape(&c.key)
                )
            })
            .collect()
    };
    format!(
        "{}<form method=\"post\"><fieldset><legend>Channels</legend>{}</fieldset>\
         <fieldset><legend>Email topics</legend>{}</fieldset>\
         <button type=\"submit\">Save my choices</button></form>",
        if saved {
            "<p role=\"status\"><strong>Saved.</strong> Your choices apply from the next message.</p>"
        } else {
            ""
        },
        boxes(&p.channels),
        boxes(&p.topics)
    )
}

pub async fn preference_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    let message = message_of(&state, &token, LinkPurpose::Preferences).await?;
    let topics = topics(&state).await?;
    let p = preferences::preferences(state.store.as_ref(), message.profile, &topics)
        .await
        .map_err(crate::templates::messages_error)?;
    Ok(page(StatusCode::OK, "Your preferences", &form(&p, false)))
}

/// `application/x-www-form-urlencoded` pairs.
fn form_pairs(body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_bytes(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_form",
            format!("the form could not be read ({e}); reload the page and try again"),
        )
    })
}

pub async fn save_preferences(
    State(state): State<AppState>,
    Path(token): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let message = message_of(&state, &token, LinkPurpose::Preferences).await?;
    if body.len() > 64 * 1024 {
        return Err(ApiError::bad_request(
            "invalid_form",
            "the form is too large",
        ));
    }
    let pairs = form_pairs(&body)?;
    let topics = topics(&state).await?;
    let current = preferences::preferences(state.store.as_ref(), message.profile, &topics)
        .await
        .map_err(crate::templates::messages_error)?;
    let ticked = |key: &str| pairs.iter().any(|(k, v)| k == key && v == "on");
    let shown = |key: &str| pairs.iter().any(|(k, v)| k == "shown" && v == key);
    let changes: Vec<(ConsentKey, bool)> = current
        .channels
        .iter()
        .chain(&current.topics)
        .filter(|c| shown(&c.key) && ticked(&c.key) != c.subscribed)
        .filter_map(|c| Some((ConsentKey::parse(&c.key)?, !c.subscribed)))
        .collect();
    if !changes.is_empty() {
        preferences::set_consent(
            state.store.as_ref(),
            message.profile,
            &changes,
            "preference_centre",
            Some(&message),
            Timestamp::now(),
        )
        .await
        .map_err(crate::templates::messages_error)?;
        state.events_appended();
    }
    let p = preferences::preferences(state.store.as_ref(), message.profile, &topics)
        .await
        .map_err(crate::templates::messages_error)?;
    Ok(page(StatusCode::OK, "Your preferences", &form(&p, true)))
}
