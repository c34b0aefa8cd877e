//! The management API for message templates: `PUT /api/v1/templates/{name}` (the template text
//! form, one or more channels of that name, or one template as JSON), `GET /api/v1/templates`,
//! and `POST /api/v1/templates/{name}/preview` to render one for a real person.

use crate::AppState;
use crate::auth::Admin;
use crate::body;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use herald_content::{Channel, Rendered, Template};
use herald_core::Timestamp;
use herald_merchandising::Merchandiser;
use herald_messages::MessagesError;
use herald_messages::templates::{self, TemplateChange};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

const MAX_TEMPLATE_BYTES: usize = 256 * 1024;

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TemplatePutQuery {
    /// Only say what would change.
    pub dry_run: Option<bool>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TemplatePutAnswer {
    pub applied: bool,
    #[schema(value_type = Vec<Object>)]
    pub changes: Vec<TemplateChange>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TemplateList {
    /// The live templates: name, channel, version, and the template's JSON form.
    #[schema(value_type = Vec<Object>)]
    pub templates: Vec<Value>,
}

/// Whose preview, on which channel, with which trigger properties and extra objects.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A `userId` or `anonymousId`.
    pub id: String,
    /// `email`, `sms`, `push` or `webhook` (default email).
    pub channel: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub event: Map<String, Value>,
    /// Other top-level objects (`shop`, `recommendations`, ...).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub extra: Map<String, Value>,
}

pub(crate) fn messages_error(e: MessagesError) -> ApiError {
    match e {
        MessagesError::Invalid(m) => ApiError::bad_request("invalid_template", m),
        MessagesError::NotFound(m) => ApiError::not_found(m),
        MessagesError::Store(e) => e.into(),
        MessagesError::Stored(m) => ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "templates_failed",
            m,
        ),
    }
}

#[utoipa::path(
    put, path = "/api/v1/templates/{name}", tag = "templates",
    params(("name" = String, Path), TemplatePutQuery),
    request_body(content = String, description = "The template text form (one or more channels of this name), or one template as JSON with Content-Type: application/json"),
    responses((status = 200, body = TemplatePutAnswer), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn put_template(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    query: Result<Query<TemplatePutQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TemplatePutAnswer>, ApiError> {
    let Query(query) = query.map_err(ApiError::from)?;
    let invalid = |m: String| ApiError::bad_request("invalid_template", m);
    let body::Definition { text, is_json } = body::definition(
        &headers,
        &body,
        MAX_TEMPLATE_BYTES,
        "a template",
        "invalid_template",
    )?;
    let parsed: Vec<Template> = if is_json {
        let value = body::json_named(text, &name, "invalid_template")?;
        vec![serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?]
    } else {
        herald_content::parse(text).map_err(|e| invalid(e.to_string()))?
    };
    if parsed.is_empty() {
        return Err(invalid("the body holds no template".into()));
    }
    if let Some(other) = parsed.iter().find(|t| t.name() != name) {
        return Err(invalid(format!(
            "the body defines `{}` but the path names `{name}`",
            other.name()
        )));
    }
    let dry_run = query.dry_run.unwrap_or(false);
    let changes = templates::apply(state.store.as_ref(), &parsed, dry_run, Timestamp::now())
        .await
        .map_err(messages_error)?;
    Ok(Json(TemplatePutAnswer {
        applied: !dry_run,
        changes,
    }))
}

#[utoipa::path(
    get, path = "/api/v1/templates", tag = "templates",
    responses((status = 200, body = TemplateList)),
    security(("admin_token" = []))
)]
pub async fn list_templates(
    _: Admin,
    State(state): State<AppState>,
) -> Result<Json<TemplateList>, ApiError> {
    let templates = state
        .store
        .template_records()
        .await?
        .into_iter()
        .filter(|r| r.live)
        .map(|r| {
            serde_json::json!({
                "name": r.name,
                "channel": r.channel,
                "version": r.version,
                "created_at": r.created_at,
                "definition": r.definition,
            })
        })
        .collect();
    Ok(Json(TemplateList { templates }))
}

#[utoipa::path(
    post, path = "/api/v1/templates/{name}/preview", tag = "templates",
    params(("name" = String, Path)),
    request_body = PreviewRequest,
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn preview(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Json<Rendered>, ApiError> {
    let invalid = |m: String| ApiError::bad_request("invalid_request", m);
    if body.len() > MAX_TEMPLATE_BYTES {
        return Err(ApiError::bad_request(
            "body_too_large",
            format!("a preview request may have at most {MAX_TEMPLATE_BYTES} bytes"),
        ));
    }
    let request: PreviewRequest = serde_json::from_slice(&body)
        .map_err(|e| invalid(format!("line {}, column {}: {e}", e.line(), e.column())))?;
    let channel: Channel = match &request.channel {
        Some(c) => c.parse().map_err(|_| {
            invalid(format!(
                "`{c}` is not a channel: use email, sms, push or webhook"
            ))
        })?,
        None => Channel::Email,
    };
    let rendered = templates::preview(
        state.store.as_ref(),
        &name,
        channel,
        &request.id,
        request.event,
        request.extra,
        &state.public_url,
        Some(&Merchandiser::new(
            state.store.clone(),
            state.recommender.clone(),
        )),
    )
    .await
    .map_err(messages_error)?;
    Ok(Json(rendered))
}
