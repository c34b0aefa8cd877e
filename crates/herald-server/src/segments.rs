//! The management API for segments: `/api/v1/segments/...` and a profile's segments.
//!
//! Definitions are accepted in the text form or as JSON (by `Content-Type`). Changing one
//! recomputes memberships from history in the segment task; `?dry_run=true` only previews.

use crate::AppState;
use crate::auth::Admin;
use crate::body;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use herald_core::Timestamp;
use herald_segmenter::{Preview, SegmentService, SegmenterError, history, stored_program};
use herald_segments::{Definition, SegmentName, lang};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest definition body accepted.
const MAX_DEFINITION_BYTES: usize = 64 * 1024;
const MAX_MEMBERS_LIMIT: usize = 10_000;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SegmentView {
    pub name: String,
    pub size: u64,
    pub version: u64,
    /// RFC 3339.
    pub updated_at: String,
    /// The JSON form.
    #[schema(value_type = Object)]
    pub definition: Value,
    /// The text form.
    pub text: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct SegmentList {
    pub segments: Vec<SegmentView>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PutAnswer {
    pub applied: bool,
    /// E.g. event names that nothing has sent yet.
    pub warnings: Vec<String>,
    #[schema(value_type = Object)]
    pub preview: Preview,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberView {
    /// `userId`, else `anonymousId`.
    pub id: String,
    /// RFC 3339: when the profile entered.
    pub since: String,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct MembersPage {
    pub members: Vec<MemberView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ProfileSegment {
    pub segment: String,
    pub since: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PutQuery {
    /// Only preview the change.
    pub dry_run: Option<bool>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MembersQuery {
    /// Page size (default 1,000, at most 10,000).
    pub limit: Option<usize>,
    /// The `next` of the previous page.
    pub after: Option<String>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AtQuery {
    /// RFC 3339; default now.
    pub at: Option<String>,
}

fn service(state: &AppState) -> Result<&SegmentService, ApiError> {
    state.segments.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "segments_unavailable",
            "the segment engine is not running on this server",
        )
    })
}

fn segment_error(e: SegmenterError) -> ApiError {
    match e {
        SegmenterError::Invalid(m) => ApiError::bad_request("invalid_definition", m),
        SegmenterError::Store(e) => e.into(),
        other => ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "segments_failed",
            other.to_string(),
        ),
    }
}

fn unknown_segment(name: &str) -> ApiError {
    ApiError::not_found(format!(
        "no segment named `{name}`; GET /api/v1/segments lists them"
    ))
}

/// Reads one definition for `name` from a request body.
fn definition_from_body(
    name: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Definition, ApiError> {
    let invalid = |m: String| ApiError::bad_request("invalid_definition", m);
    SegmentName::parse(name).map_err(invalid)?;
    let body::Definition { text, is_json } = body::definition(
        headers,
        body,
        MAX_DEFINITION_BYTES,
        "a definition",
        "invalid_definition",
    )?;
    let defs = if is_json {
        let value = body::json_named(text, name, "invalid_definition")?;
        lang::from_json(&value.to_string()).map_err(|e| invalid(e.to_string()))?
    } else if text.trim_start().starts_with("segment") {
        lang::parse(text).map_err(|e| invalid(e.to_string()))?
    } else {
        // Just a condition: the path names it.
        let condition = lang::parse_condition(text).map_err(|e| invalid(e.to_string()))?;
        vec![Definition {
            name: SegmentName::parse(name).map_err(invalid)?,
            description: None,
            condition,
        }]
    };
    let [def] = <[Definition; 1]>::try_from(defs)
        .map_err(|_| invalid("send exactly one definition per request".into()))?;
    if def.name.as_str() != name {
        return Err(invalid(format!(
            "the body defines `{}` but the path names `{name}`",
            def.name
        )));
    }
    Ok(def)
}

#[utoipa::path(
    put, path = "/api/v1/segments/{name}", tag = "segments",
    params(("name" = String, Path), PutQuery),
    request_body(content = String, description = "The text form, or the JSON form with Content-Type: application/json"),
    responses((status = 200, body = PutAnswer), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn put_segment(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<PutQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<PutAnswer>, ApiError> {
    let Query(query) = query.map_err(ApiError::from)?;
    let def = definition_from_body(&name, &headers, &body)?;
    let known = state.store.event_names().await?.into_iter().collect();
    let warnings = lang::lint(std::slice::from_ref(&def), &known)
        .iter()
        .map(ToString::to_string)
        .collect();
    let service = service(&state)?;
    let mut definitions = service.definitions().await.map_err(segment_error)?;
    definitions.retain(|d| d.name != def.name);
    definitions.push(def);
    let dry_run = query.dry_run.unwrap_or(false);
    let preview = service
        .apply(definitions, dry_run)
        .await
        .map_err(segment_error)?;
    Ok(Json(PutAnswer {
        applied: !dry_run,
        warnings,
        preview,
    }))
}

#[utoipa::path(
    delete, path = "/api/v1/segments/{name}", tag = "segments",
    params(("name" = String, Path)),
    responses((status = 200, body = PutAnswer), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn delete_segment(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<PutAnswer>, ApiError> {
    let service = service(&state)?;
    let mut definitions = service.definitions().await.map_err(segment_error)?;
    let before = definitions.len();
    definitions.retain(|d| d.name.as_str() != name);
    if definitions.len() == before {
        return Err(unknown_segment(&name));
    }
    let preview = service
        .apply(definitions, false)
        .await
        .map_err(segment_error)?;
    Ok(Json(PutAnswer {
        applied: true,
        warnings: Vec::new(),
        preview,
    }))
}

async fn views(state: &AppState) -> Result<Vec<SegmentView>, ApiError> {
    let sizes = state.store.segment_sizes().await?;
    let records = state.store.segment_definitions().await?;
    records
        .into_iter()
        .map(|r| {
            let def: Definition = serde_json::from_value(r.definition.clone()).map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "corrupt",
                    format!("stored segment {}: {e}", r.name),
                )
            })?;
            Ok(SegmentView {
                size: sizes
                    .iter()
                    .find(|(n, _)| *n == r.name)
                    .map_or(0, |(_, s)| *s),
                text: lang::print_definition(&def),
                name: r.name,
                version: r.version,
                updated_at: r.updated_at.to_string(),
                definition: r.definition,
            })
        })
        .collect()
}

#[utoipa::path(
    get, path = "/api/v1/segments", tag = "segments",
    responses((status = 200, body = SegmentList)),
    security(("admin_token" = []))
)]
pub async fn list_segments(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<SegmentList>, ApiError> {
    Ok(Json(SegmentList {
        segments: views(&state).await?,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/segments/{name}", tag = "segments",
    params(("name" = String, Path)),
    responses((status = 200, body = SegmentView), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn get_segment(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<SegmentView>, ApiError> {
    views(&state)
        .await?
        .into_iter()
        .find(|v| v.name == name)
        .map(Json)
        .ok_or_else(|| unknown_segment(&name))
}

#[utoipa::path(
    get, path = "/api/v1/segments/{name}/members", tag = "segments",
    params(("name" = String, Path), MembersQuery),
    responses((status = 200, body = MembersPage), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn get_members(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<MembersQuery>, QueryRejection>,
) -> Result<Json<MembersPage>, ApiError> {
    let Query(query) = query.map_err(ApiError::from)?;
    let limit = query.limit.unwrap_or(1000);
    if limit == 0 || limit > MAX_MEMBERS_LIMIT {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("`limit` must be from 1 to {MAX_MEMBERS_LIMIT}"),
        ));
    }
    if !state
        .store
        .segment_definitions()
        .await?
        .iter()
        .any(|r| r.name == name)
    {
        return Err(unknown_segment(&name));
    }
    let page = state
        .store
        .segment_members(&name, query.after.as_deref(), limit)
        .await?;
    let next = (page.len() == limit)
        .then(|| page.last().map(|m| m.id.clone()))
        .flatten();
    Ok(Json(MembersPage {
        members: page
            .into_iter()
            .map(|m| MemberView {
                id: m.id,
                since: m.since.to_string(),
            })
            .collect(),
        next,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/profiles/{id}/segments", tag = "segments",
    params(("id" = String, Path, description = "A userId or anonymousId")),
    responses((status = 200, body = Vec<ProfileSegment>), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn profile_segments(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ProfileSegment>>, ApiError> {
    let profile = state.store.resolve(&id).await?.ok_or_else(|| {
        ApiError::not_found(format!("no profile has the userId or anonymousId `{id}`"))
    })?;
    Ok(Json(
        state
            .store
            .profile_segments(profile)
            .await?
            .into_iter()
            .map(|(segment, since)| ProfileSegment {
                segment,
                since: since.to_string(),
            })
            .collect(),
    ))
}

#[utoipa::path(
    get, path = "/api/v1/segments/{name}/explain/{id}", tag = "segments",
    params(("name" = String, Path), ("id" = String, Path), AtQuery),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn explain(
    _: Admin,
    State(state): State<AppState>,
    Path((name, id)): Path<(String, String)>,
    query: Result<Query<AtQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let Query(query) = query.map_err(ApiError::from)?;
    let at = match query.at.as_deref() {
        Some(s) => herald_core::time::parse_timestamp(s).map_err(|e| {
            ApiError::bad_request("invalid_query", format!("`at`: {e}; use RFC 3339"))
        })?,
        None => Timestamp::now(),
    };
    let program = stored_program(&*state.store).await.map_err(segment_error)?;
    let idx = program
        .index_of(&name)
        .ok_or_else(|| unknown_segment(&name))?;
    let profile = state.store.resolve(&id).await?.ok_or_else(|| {
        ApiError::not_found(format!("no profile has the userId or anonymousId `{id}`"))
    })?;
    let explanation = history::explain(&*state.store, &program, idx, profile, at)
        .await
        .map_err(segment_error)?;
    Ok(Json(
        serde_json::to_value(explanation).expect("explanations serialize"),
    ))
}
