//! The management API for consent and suppression:
//!
//! * `GET /api/v1/profiles/{id}/consent`: the person's recorded consent and what it allows;
//! * `PUT /api/v1/profiles/{id}/consent`: `{"email": false, "sms": true, "email:news": false}`,
//!   recorded with source `api`;
//! * `GET /api/v1/suppressions`, `POST /api/v1/suppressions` (`{channel, address}`, reason
//!   `manual`) and `DELETE /api/v1/suppressions/{channel}/{address}`.

use crate::AppState;
use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use herald_core::Timestamp;
use herald_core::consent::{Consent, ConsentKey};
use herald_messages::preferences::{self, Preferences};
use herald_store::{MessageCommit, Suppression};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const MAX_LIMIT: usize = 10_000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct ConsentAnswer {
    /// One record per channel and topic: `subscribed`, `source`, `at`.
    #[schema(value_type = Vec<Object>)]
    pub recorded: Vec<Consent>,
    /// What marketing may be sent now, defaults included.
    #[schema(value_type = Object)]
    pub effective: Preferences,
}

async fn profile_id(state: &AppState, id: &str) -> Result<herald_core::ProfileId, ApiError> {
    state
        .store
        .resolve(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("nobody is known as `{id}`")))
}

async fn answer(state: &AppState, id: &str) -> Result<ConsentAnswer, ApiError> {
    let p = profile_id(state, id).await?;
    let topics = crate::preferences::topics(state).await?;
    Ok(ConsentAnswer {
        recorded: state.store.consent(p).await?,
        effective: preferences::preferences(state.store.as_ref(), p, &topics)
            .await
            .map_err(crate::templates::messages_error)?,
    })
}

#[utoipa::path(
    get, path = "/api/v1/profiles/{id}/consent", tag = "messages",
    params(("id" = String, Path, description = "userId or anonymousId")),
    responses((status = 200, body = ConsentAnswer), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn get_consent(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ConsentAnswer>, ApiError> {
    Ok(Json(answer(&state, &id).await?))
}

#[utoipa::path(
    put, path = "/api/v1/profiles/{id}/consent", tag = "messages",
    params(("id" = String, Path, description = "userId or anonymousId")),
    request_body(content = Object, description = "`channel` or `channel:topic` to true/false"),
    responses((status = 200, body = ConsentAnswer), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn put_consent(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<ConsentAnswer>, ApiError> {
    if body.len() > 64 * 1024 {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body is over 64 KiB",
        ));
    }
    let map: Map<String, Value> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body must be a JSON object like {{\"email\": false, \"sms\": true}}: {e}"),
        )
    })?;
    let mut changes = Vec::new();
    for (k, v) in &map {
        let key = ConsentKey::parse(k).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_consent",
                format!("`{k}` is not `email`, `sms`, `push` or one of them with `:topic`"),
            )
        })?;
        let subscribed = v.as_bool().ok_or_else(|| {
            ApiError::bad_request(
                "invalid_consent",
                format!("`{k}` must be true or false, not {v}"),
            )
        })?;
        changes.push((key, subscribed));
    }
    if changes.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_consent",
            "give at least one channel, e.g. {\"email\": false}",
        ));
    }
    let p = profile_id(&state, &id).await?;
    preferences::set_consent(
        state.store.as_ref(),
        p,
        &changes,
        "api",
        None,
        Timestamp::now(),
    )
    .await
    .map_err(crate::templates::messages_error)?;
    Ok(Json(answer(&state, &id).await?))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct SuppressionsQuery {
    /// Page size (default 1,000, at most 10,000).
    pub limit: Option<usize>,
    /// The `next` of the previous page (`channel:address`).
    pub after: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SuppressionsPage {
    #[schema(value_type = Vec<Object>)]
    pub suppressions: Vec<Suppression>,
    pub next: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/suppressions", tag = "messages",
    params(SuppressionsQuery),
    responses((status = 200, body = SuppressionsPage), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn list_suppressions(
    _: Admin,
    State(state): State<AppState>,
    query: Result<Query<SuppressionsQuery>, QueryRejection>,
) -> Result<Json<SuppressionsPage>, ApiError> {
    let Query(query) = query.map_err(ApiError::from)?;
    let limit = query.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let after = match &query.after {
        Some(a) => Some(
            a.split_once(':')
                .map(|(c, a)| (c.to_owned(), a.to_owned()))
                .ok_or_else(|| {
                    ApiError::bad_request("invalid_query", "after must be `channel:address`")
                })?,
        ),
        None => None,
    };
    let suppressions = state.store.suppressions(after, limit).await?;
    let next = (suppressions.len() == limit)
        .then(|| {
            suppressions
                .last()
                .map(|s| format!("{}:{}", s.channel, s.address))
        })
        .flatten();
    Ok(Json(SuppressionsPage { suppressions, next }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressRequest {
    /// `email`, `sms` or `push`.
    pub channel: String,
    pub address: String,
    pub detail: Option<String>,
}

fn check_channel(channel: &str) -> Result<(), ApiError> {
    if matches!(channel, "email" | "sms" | "push") {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_request",
            format!("channel must be email, sms or push, not `{channel}`"),
        ))
    }
}

#[utoipa::path(
    post, path = "/api/v1/suppressions", tag = "messages",
    request_body = SuppressRequest,
    responses((status = 201, body = Object), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn add_suppression(
    _: Admin,
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<Suppression>), ApiError> {
    let req: SuppressRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("expected {{\"channel\": \"email\", \"address\": \"...\"}}: {e}"),
        )
    })?;
    check_channel(&req.channel)?;
    let address = req.address.trim().to_ascii_lowercase();
    if address.is_empty() || address.len() > 320 {
        return Err(ApiError::bad_request(
            "invalid_request",
            "address must be 1 to 320 characters",
        ));
    }
    let s = Suppression {
        channel: req.channel,
        address,
        reason: "manual".into(),
        detail: req.detail,
        at: Timestamp::now(),
    };
    state
        .store
        .commit_messages(MessageCommit {
            suppress: vec![s.clone()],
            ..Default::default()
        })
        .await?;
    Ok((StatusCode::CREATED, Json(s)))
}

#[utoipa::path(
    delete, path = "/api/v1/suppressions/{channel}/{address}", tag = "messages",
    params(("channel" = String, Path), ("address" = String, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn remove_suppression(
    _: Admin,
    State(state): State<AppState>,
    Path((channel, address)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    check_channel(&channel)?;
    let address = address.to_ascii_lowercase();
    if state.store.suppression(&channel, &address).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "{address} is not suppressed on {channel}"
        )));
    }
    state
        .store
        .commit_messages(MessageCommit {
            unsuppress: vec![(channel, address)],
            ..Default::default()
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
