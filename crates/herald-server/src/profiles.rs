//! The management API for people: `/api/v1/profiles/{id}` and what hangs off it.
//!
//! `{id}` is a `userId` or an `anonymousId`; user ids are tried first.

use crate::AppState;
use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use herald_core::StoredEvent;
use herald_store::{Erasure, Profile};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Most events one `/events` request returns.
const MAX_EVENTS_LIMIT: usize = 10_000;

/// A person as the API shows them.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileView {
    /// Herald's internal id.
    pub id: u64,
    pub user_id: Option<String>,
    pub user_ids: Vec<String>,
    pub anonymous_ids: Vec<String>,
    #[schema(value_type = Object)]
    pub traits: Map<String, Value>,
    pub event_count: u64,
    /// RFC 3339; the earliest event time.
    pub first_seen: Option<String>,
    /// RFC 3339; the latest event time.
    pub last_seen: Option<String>,
    pub groups: Vec<String>,
}

impl From<Profile> for ProfileView {
    fn from(p: Profile) -> Self {
        ProfileView {
            id: p.id.0,
            user_id: p.user_id,
            user_ids: p.user_ids,
            anonymous_ids: p.anonymous_ids,
            traits: p.traits,
            event_count: p.event_count,
            first_seen: p.first_seen.map(|t| t.to_string()),
            last_seen: p.last_seen.map(|t| t.to_string()),
            groups: p.groups,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventsView {
    /// Newest first, as Segment shows them (`type`, `messageId`, corrected `timestamp`, ...).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<Value>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// How many events, newest first (default 100, at most 10,000).
    pub limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErasureView {
    pub erased: bool,
    pub profile_id: u64,
    pub events_deleted: u64,
    pub ids_suppressed: u64,
}

impl From<Erasure> for ErasureView {
    fn from(e: Erasure) -> Self {
        ErasureView {
            erased: true,
            profile_id: e.profile_id.0,
            events_deleted: e.events_deleted,
            ids_suppressed: e.ids_suppressed,
        }
    }
}

fn unknown(id: &str) -> ApiError {
    ApiError::not_found(format!("no profile has the userId or anonymousId `{id}`"))
}

fn events_json(events: &[StoredEvent]) -> Vec<Value> {
    events.iter().map(StoredEvent::to_json).collect()
}

#[utoipa::path(
    get, path = "/api/v1/profiles/{id}", tag = "profiles",
    params(("id" = String, Path, description = "A userId or anonymousId")),
    responses((status = 200, body = ProfileView), (status = 404, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn get_profile(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ProfileView>, ApiError> {
    let profile = state
        .store
        .profile(&id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    Ok(Json(profile.into()))
}

#[utoipa::path(
    get, path = "/api/v1/profiles/{id}/events", tag = "profiles",
    params(("id" = String, Path, description = "A userId or anonymousId"), EventsQuery),
    responses((status = 200, body = EventsView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn get_events(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Json<EventsView>, ApiError> {
    let Query(query) = query.map_err(|e| {
        ApiError::bad_request(
            "invalid_query",
            format!(
                "{}: `limit` must be a whole number from 1 to {MAX_EVENTS_LIMIT}",
                e.body_text()
            ),
        )
    })?;
    let limit = query.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_EVENTS_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be from 1 to {MAX_EVENTS_LIMIT}"),
        ));
    }
    let events = state
        .store
        .profile_events(&id, limit)
        .await?
        .ok_or_else(|| unknown(&id))?;
    Ok(Json(EventsView {
        events: events_json(&events),
    }))
}

#[utoipa::path(
    delete, path = "/api/v1/profiles/{id}", tag = "profiles",
    description = "Erases the person everywhere (events, profile, identities, group memberships) and suppresses their ids: later events naming them are dropped and counted.",
    params(("id" = String, Path, description = "A userId or anonymousId")),
    responses((status = 200, body = ErasureView), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn delete_profile(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ErasureView>, ApiError> {
    let erasure = state.store.erase(&id).await?.ok_or_else(|| unknown(&id))?;
    tracing::info!(
        profile = erasure.profile_id.0,
        events = erasure.events_deleted,
        "profile erased"
    );
    Ok(Json(erasure.into()))
}

#[utoipa::path(
    get, path = "/api/v1/profiles/{id}/export", tag = "profiles",
    description = "Everything Herald holds about the person: profile, groups and all events, oldest first.",
    params(("id" = String, Path, description = "A userId or anonymousId")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn export_profile(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let export = state
        .store
        .export_profile(&id)
        .await?
        .ok_or_else(|| unknown(&id))?;
    Ok(Json(serde_json::json!({
        "profile": ProfileView::from(export.profile),
        "groups": export.groups,
        "events": events_json(&export.events),
    })))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StatsView {
    pub events: u64,
    pub profiles: u64,
}

#[utoipa::path(
    get, path = "/api/v1/stats", tag = "store",
    responses((status = 200, body = StatsView), (status = 401, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn stats(_: Admin, State(state): State<AppState>) -> Result<Json<StatsView>, ApiError> {
    let s = state.store.stats().await?;
    Ok(Json(StatsView {
        events: s.events,
        profiles: s.profiles,
    }))
}
