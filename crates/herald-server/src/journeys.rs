//! The management API for journeys (`/api/v1/journeys/...`) and the outbox
//! (`/api/v1/messages`).
//!
//! A journey is accepted in the text form or as JSON (by `Content-Type`); a changed definition
//! becomes a new version, and running instances finish on the version they started.

use crate::AppState;
use crate::auth::Admin;
use crate::body;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use herald_conductor::reports::{JourneyReport, journey_reports};
use herald_conductor::{ApplyReport, ConductorError, JourneyService};
use herald_journeys::ast::{Document, Journey, JourneyName};
use herald_journeys::lang;
use herald_store::{DeliveryState, OutboxMessage};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Largest definition body accepted.
const MAX_DEFINITION_BYTES: usize = 128 * 1024;
const MAX_MESSAGES_LIMIT: usize = 10_000;

/// A live journey and its counts (see `herald_conductor::reports::JourneyReport`).
#[derive(Serialize, utoipa::ToSchema)]
#[schema(value_type = Object)]
pub struct JourneyView(pub JourneyReport);

#[derive(Serialize, utoipa::ToSchema)]
pub struct JourneyList {
    pub journeys: Vec<JourneyView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct JourneyPutAnswer {
    pub applied: bool,
    /// E.g. event names that nothing has sent yet, segments that do not exist.
    pub warnings: Vec<String>,
    #[schema(value_type = Object)]
    pub report: ApplyReport,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct JourneyPutQuery {
    /// Only say what would change.
    pub dry_run: Option<bool>,
}

/// Who to enrol, and the trigger's properties.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct EnrolRequest {
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub properties: serde_json::Map<String, Value>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EnrolAnswer {
    /// What the runner did at once (entry, sends, ...).
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<herald_journeys::runner::Action>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MessagesQuery {
    /// Page size (default 1,000, at most 10,000).
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub after: Option<u64>,
    /// Only this person's (userId or anonymousId).
    pub profile: Option<String>,
    /// Only queued messages whose delivery is `pending`, `delivered`, `suppressed` or `failed`
    /// (the dead-letter list); not with `profile`.
    pub state: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MessagesPage {
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<OutboxMessage>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<u64>,
}

fn service(state: &AppState) -> Result<&JourneyService, ApiError> {
    state.journeys.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "journeys_unavailable",
            "the journey runner is not running on this server",
        )
    })
}

fn journey_error(e: ConductorError) -> ApiError {
    match e {
        ConductorError::Invalid(m) => ApiError::bad_request("invalid_definition", m),
        ConductorError::Store(e) => e.into(),
        other => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "journeys_failed",
            other.to_string(),
        ),
    }
}

/// Reads one journey named `name` from a request body.
fn journey_from_body(name: &str, headers: &HeaderMap, body: &[u8]) -> Result<Journey, ApiError> {
    let invalid = |m: String| ApiError::bad_request("invalid_definition", m);
    JourneyName::parse(name).map_err(invalid)?;
    let body::Definition { text, is_json } = body::definition(
        headers,
        body,
        MAX_DEFINITION_BYTES,
        "a definition",
        "invalid_definition",
    )?;
    let doc = if is_json {
        // One journey object.
        let value = body::json_named(text, name, "invalid_definition")?;
        lang::from_json(&json!({ "journeys": [value] }).to_string())
            .map_err(|e| invalid(e.to_string()))?
    } else {
        lang::parse(text).map_err(|e| invalid(e.to_string()))?
    };
    if doc.rules.is_some() {
        return Err(invalid(
            "rules are applied with the whole library file (`herald journeys apply`), not per \
             journey"
                .into(),
        ));
    }
    lang::validate(&doc).map_err(|errors| {
        invalid(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    let [journey] = <[Journey; 1]>::try_from(doc.journeys)
        .map_err(|_| invalid("send exactly one journey per request".into()))?;
    if journey.name.as_str() != name {
        return Err(invalid(format!(
            "the body defines `{}` but the path names `{name}`",
            journey.name
        )));
    }
    Ok(journey)
}

#[utoipa::path(
    put, path = "/api/v1/journeys/{name}", tag = "journeys",
    params(("name" = String, Path), JourneyPutQuery),
    request_body(content = String, description = "The text form, or the JSON form with Content-Type: application/json"),
    responses((status = 200, body = JourneyPutAnswer), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn put_journey(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<JourneyPutQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<JourneyPutAnswer>, ApiError> {
    let Query(query) = query.map_err(ApiError::from)?;
    let journey = journey_from_body(&name, &headers, &body)?;
    let events = state.store.event_names().await?;
    let segments: Vec<String> = state
        .store
        .segment_definitions()
        .await?
        .into_iter()
        .map(|r| r.name)
        .collect();
    let doc = Document {
        rules: None,
        journeys: vec![journey],
    };
    let warnings = lang::lint(&doc, &events, &segments)
        .iter()
        .map(ToString::to_string)
        .collect();
    let dry_run = query.dry_run.unwrap_or(false);
    let report = service(&state)?
        .apply(doc, dry_run)
        .await
        .map_err(journey_error)?;
    Ok(Json(JourneyPutAnswer {
        applied: !dry_run,
        warnings,
        report,
    }))
}

async fn views(state: &AppState, only: Option<&str>) -> Result<Vec<JourneyView>, ApiError> {
    Ok(journey_reports(state.store.as_ref(), only)
        .await?
        .into_iter()
        .map(JourneyView)
        .collect())
}

#[utoipa::path(
    get, path = "/api/v1/journeys", tag = "journeys",
    responses((status = 200, body = JourneyList)),
    security(("admin_token" = []))
)]
pub async fn list_journeys(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<JourneyList>, ApiError> {
    Ok(Json(JourneyList {
        journeys: views(&state, None).await?,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/journeys/{name}", tag = "journeys",
    params(("name" = String, Path)),
    responses((status = 200, body = JourneyView), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn get_journey(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<JourneyView>, ApiError> {
    views(&state, Some(&name))
        .await?
        .pop()
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "no live journey named `{name}`; GET /api/v1/journeys lists them"
            ))
        })
}

#[utoipa::path(
    post, path = "/api/v1/journeys/{name}/enrol", tag = "journeys",
    params(("name" = String, Path)),
    request_body = EnrolRequest,
    responses((status = 200, body = EnrolAnswer), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn enrol(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<EnrolAnswer>, ApiError> {
    let invalid = |m: String| ApiError::bad_request("invalid_request", m);
    let journey = JourneyName::parse(&name).map_err(invalid)?;
    if body.len() > MAX_DEFINITION_BYTES {
        return Err(ApiError::bad_request(
            "body_too_large",
            format!("an enrolment may have at most {MAX_DEFINITION_BYTES} bytes"),
        ));
    }
    let request: EnrolRequest = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("line {}, column {}: {e}", e.line(), e.column())))?;
    let id = request
        .user_id
        .or(request.anonymous_id)
        .ok_or_else(|| invalid("give the person's `userId` or `anonymousId`".into()))?;
    let profile = state
        .store
        .resolve(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("nobody is known as `{id}`")))?;
    let actions = service(&state)?
        .enrol(profile, journey, request.properties)
        .await
        .map_err(|e| match e {
            ConductorError::Invalid(m) if m.contains("no live journey") => ApiError::not_found(m),
            ConductorError::Invalid(m) => ApiError::new(StatusCode::CONFLICT, "not_enrolled", m),
            other => journey_error(other),
        })?
        .ok_or_else(|| ApiError::not_found(format!("nobody is known as `{id}`")))?;
    Ok(Json(EnrolAnswer { actions }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MigrateAnswer {
    pub applied: bool,
    /// Per instance of an older version: where it was, whether it moved, and why not.
    #[schema(value_type = Vec<Object>)]
    pub migrations: Vec<herald_journeys::runner::Migration>,
}

#[utoipa::path(
    post, path = "/api/v1/journeys/{name}/migrate", tag = "journeys",
    params(("name" = String, Path), JourneyPutQuery),
    responses((status = 200, body = MigrateAnswer), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn migrate(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<JourneyPutQuery>, QueryRejection>,
) -> Result<Json<MigrateAnswer>, ApiError> {
    let Query(query) = query.map_err(ApiError::from)?;
    let journey =
        JourneyName::parse(&name).map_err(|m| ApiError::bad_request("invalid_request", m))?;
    let dry_run = query.dry_run.unwrap_or(false);
    let migrations = service(&state)?
        .migrate(journey, dry_run)
        .await
        .map_err(|e| match e {
            ConductorError::Invalid(m) => ApiError::not_found(m),
            other => journey_error(other),
        })?;
    Ok(Json(MigrateAnswer {
        applied: !dry_run,
        migrations,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/messages", tag = "journeys",
    params(MessagesQuery),
    responses((status = 200, body = MessagesPage), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn list_messages(
    _: Admin,
    State(state): State<AppState>,
    query: Result<Query<MessagesQuery>, QueryRejection>,
) -> Result<Json<MessagesPage>, ApiError> {
    let Query(query) = query.map_err(ApiError::from)?;
    let limit = query.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_MESSAGES_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("limit must be between 1 and {MAX_MESSAGES_LIMIT}"),
        ));
    }
    let after = query.after.unwrap_or(0);
    let messages = match &query.state {
        Some(s) => {
            let wanted = DeliveryState::parse(s).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_query",
                    format!("state must be pending, delivered, suppressed or failed, not `{s}`"),
                )
            })?;
            if query.profile.is_some() {
                return Err(ApiError::bad_request(
                    "invalid_query",
                    "give either state or profile, not both",
                ));
            }
            state
                .store
                .deliveries_in_state(wanted, after, limit)
                .await?
        }
        None => {
            let profile =
                match &query.profile {
                    Some(id) => Some(state.store.resolve(id).await?.ok_or_else(|| {
                        ApiError::not_found(format!("nobody is known as `{id}`"))
                    })?),
                    None => None,
                };
            state.store.outbox(after, limit, profile).await?
        }
    };
    let next = (messages.len() == limit)
        .then(|| messages.last().map(|m| m.seq))
        .flatten();
    Ok(Json(MessagesPage { messages, next }))
}
