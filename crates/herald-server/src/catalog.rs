//! The management API for the catalog and recommendations:
//!
//! * `PUT /api/v1/catalog/items`: `{"items": [{product_id, name, url, image_url, price, currency,
//!   category, brand, stock, attributes}, ...]}`, at most 10,000 items (16 MiB); stores them and
//!   raises `Price Dropped` / `Back In Stock` for the people who recently viewed or carted them.
//!   One invalid item refuses the batch, naming its position.
//! * `GET /api/v1/catalog/items` (`category`, `after`, `limit`), `GET` and `DELETE
//!   /api/v1/catalog/items/{id}`; a product known only from events is answered with
//!   `"source": "events"`.
//! * `GET /api/v1/catalog/items/{id}/similar?n=N`.
//! * `GET /api/v1/profiles/{id}/recommendations?n=N`: "recommended for you".

use crate::AppState;
use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use herald_catalog::Item;
use herald_core::Timestamp;
use herald_merchandising::catalog::{self, CatalogReport};
use herald_merchandising::personal;
use herald_recommend::Scored;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Largest catalog request body, decompressed.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Most items per request.
const MAX_ITEMS: usize = 10_000;
/// Most recommendations per request.
const MAX_N: usize = 100;
/// Most errors listed when a batch is refused.
const MAX_ERRORS: usize = 20;

#[derive(Serialize, utoipa::ToSchema)]
pub struct CatalogAnswer {
    /// Items written (new or changed).
    pub stored: u64,
    pub price_dropped: u64,
    pub back_in_stock: u64,
    /// `Price Dropped` / `Back In Stock` events raised for interested people.
    pub events: u64,
}

impl From<CatalogReport> for CatalogAnswer {
    fn from(r: CatalogReport) -> Self {
        CatalogAnswer {
            stored: r.stored,
            price_dropped: r.price_dropped,
            back_in_stock: r.back_in_stock,
            events: r.events,
        }
    }
}

/// Parses `{"items": [...]}` (or a bare array) into items, or the positions of the mistakes.
pub fn parse_items(body: &[u8], now: Timestamp) -> Result<Vec<Item>, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body must be JSON like {{\"items\": [{{\"product_id\": \"sku-1\", \"price\": 9.99}}]}}: {e}"),
        )
    })?;
    let list = match value {
        Value::Array(a) => a,
        Value::Object(mut o) => {
            if let Some(k) = o.keys().find(|k| *k != "items") {
                return Err(ApiError::bad_request(
                    "invalid_request",
                    format!("unknown key `{k}`: the body is {{\"items\": [...]}}"),
                ));
            }
            match o.remove("items") {
                Some(Value::Array(a)) => a,
                _ => {
                    return Err(ApiError::bad_request(
                        "invalid_request",
                        "`items` must be an array of items",
                    ));
                }
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "the body is {\"items\": [...]}",
            ));
        }
    };
    if list.is_empty() || list.len() > MAX_ITEMS {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!(
                "send between 1 and {MAX_ITEMS} items per request (got {})",
                list.len()
            ),
        ));
    }
    let mut items = Vec::with_capacity(list.len());
    let mut errors = Vec::new();
    for (i, v) in list.iter().enumerate() {
        match Item::parse(v, now) {
            Ok(item) => items.push(item),
            Err(e) if errors.len() < MAX_ERRORS => errors.push(format!("items[{i}]: {e}")),
            Err(_) => {}
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_item",
            format!(
                "nothing was stored; fix these and send the batch again: {}",
                errors.join("; ")
            ),
        ));
    }
    Ok(items)
}

#[utoipa::path(
    put, path = "/api/v1/catalog/items", tag = "catalog",
    request_body(content = Object, description = "{\"items\": [{product_id, name, url, image_url, price, currency, category, brand, stock, attributes}]}"),
    responses((status = 200, body = CatalogAnswer), (status = 400, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn put_items(
    _: Admin,
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CatalogAnswer>, ApiError> {
    let bytes = crate::body::read_bytes(&headers, body, MAX_BODY).await?;
    let now = Timestamp::now();
    let items = parse_items(&bytes, now)?;
    let report = catalog::update(state.store.as_ref(), &state.recommender, items, now).await?;
    if report.events > 0 {
        state.events_appended();
    }
    Ok(Json(report.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    /// Only this category.
    pub category: Option<String>,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Page size (default 100, at most 1,000).
    pub limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemsPage {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<Value>,
    pub next: Option<String>,
}

#[utoipa::path(
    get, path = "/api/v1/catalog/items", tag = "catalog",
    params(ItemsQuery),
    responses((status = 200, body = ItemsPage), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn list_items(
    _: Admin,
    State(state): State<AppState>,
    query: Result<Query<ItemsQuery>, QueryRejection>,
) -> Result<Json<ItemsPage>, ApiError> {
    let Query(q) = query?;
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > 1_000 {
        return Err(ApiError::bad_request(
            "invalid_query",
            "limit must be between 1 and 1000",
        ));
    }
    let items = state.store.catalog_page(q.category, q.after, limit).await?;
    let next = (items.len() == limit)
        .then(|| items.last().map(|i| i.product_id.clone()))
        .flatten();
    Ok(Json(ItemsPage {
        items: items.iter().map(Item::to_json).collect(),
        next,
    }))
}

async fn find(state: &AppState, id: &str) -> Result<Value, ApiError> {
    if let Some(item) = state.store.catalog_items(vec![id.to_owned()]).await?.pop() {
        let mut v = item.to_json();
        v["source"] = json!("catalog");
        return Ok(v);
    }
    match state.recommender.learnt(&[id.to_owned()]).pop() {
        Some(item) => {
            let mut v = item.to_json();
            v["source"] = json!("events");
            Ok(v)
        }
        None => Err(ApiError::not_found(format!(
            "no product `{id}` in the catalog or in any event; add it with PUT /api/v1/catalog/items"
        ))),
    }
}

#[utoipa::path(
    get, path = "/api/v1/catalog/items/{id}", tag = "catalog",
    params(("id" = String, Path, description = "product_id")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn get_item(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(find(&state, &id).await?))
}

#[utoipa::path(
    delete, path = "/api/v1/catalog/items/{id}", tag = "catalog",
    params(("id" = String, Path, description = "product_id")),
    responses((status = 204), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn delete_item(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_catalog_item(id.clone()).await? {
        state.recommender.remove_item(&id);
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "no product `{id}` in the catalog"
        )))
    }
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CountQuery {
    /// How many (default 10, at most 100).
    pub n: Option<usize>,
}

fn count(q: Result<Query<CountQuery>, QueryRejection>) -> Result<usize, ApiError> {
    let Query(q) = q?;
    let n = q.n.unwrap_or(10);
    if n == 0 || n > MAX_N {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("n must be between 1 and {MAX_N}"),
        ));
    }
    Ok(n)
}

async fn described(state: &AppState, scored: &[Scored], n: usize) -> Result<Vec<Value>, ApiError> {
    let items = personal::lookup(
        state.store.as_ref(),
        &state.recommender,
        scored.iter().map(|s| s.product_id.clone()).collect(),
    )
    .await?;
    Ok(personal::describe(scored, &items, n))
}

#[utoipa::path(
    get, path = "/api/v1/catalog/items/{id}/similar", tag = "catalog",
    params(("id" = String, Path, description = "product_id"), CountQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn similar(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<CountQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let n = count(query)?;
    find(&state, &id).await?;
    let scored = state.recommender.read(|m| m.similar(&id, n + n / 2 + 2));
    Ok(Json(json!({
        "product_id": id,
        "items": described(&state, &scored, n).await?,
    })))
}

#[utoipa::path(
    get, path = "/api/v1/profiles/{id}/recommendations", tag = "catalog",
    params(("id" = String, Path, description = "userId or anonymousId"), CountQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn recommendations(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<CountQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let n = count(query)?;
    let profile = state
        .store
        .resolve(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("nobody is known as `{id}`")))?;
    let mut answer = personal::for_you(
        state.store.as_ref(),
        &state.recommender,
        profile,
        n,
        Timestamp::now(),
    )
    .await?;
    answer["profile"] = json!(id);
    Ok(Json(answer))
}
