//! The management API for offers (coupon pools):
//!
//! * `GET /api/v1/offers`: every offer with its counts and whether it is running low;
//! * `PUT /api/v1/offers/{name}`: define or replace one, e.g. `{"pattern": "CART-{XXXXXX}",
//!   "valid_days": 7, "attributes": {"percent_off": 10}}` (without `pattern`, codes are
//!   imported);
//! * `GET /api/v1/offers/{name}`;
//! * `POST /api/v1/offers/{name}/codes`: `{"codes": ["A1B2C3", ...]}` adds imported codes;
//! * `GET /api/v1/profiles/{id}/coupons`: the codes a person was given.
//!
//! Codes are assigned when a message that mentions `offers.NAME` is sent.

use crate::AppState;
use crate::auth::Admin;
use crate::error::{ApiError, ErrorBody};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use herald_catalog::{Offer, OfferCounts, valid_code};
use serde_json::{Value, json};

/// Largest codes request, decompressed.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// Most codes per request.
const MAX_CODES: usize = 200_000;

fn offer_json(offer: &Offer, counts: &OfferCounts) -> Value {
    json!({
        "name": offer.name,
        "definition": offer.to_json(),
        "counts": counts,
        "running_low": counts.running_low(offer),
    })
}

#[utoipa::path(
    get, path = "/api/v1/offers", tag = "offers",
    responses((status = 200, body = Object)),
    security(("admin_token" = []))
)]
pub async fn list_offers(_: Admin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let offers = state.store.offers().await?;
    herald_merchandising::offers::report(&offers);
    Ok(Json(json!({
        "offers": offers.iter().map(|(o, c)| offer_json(o, c)).collect::<Vec<_>>(),
    })))
}

async fn existing(state: &AppState, name: &str) -> Result<(Offer, OfferCounts), ApiError> {
    state.store.offer(name).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no offer named `{name}`; define it with PUT /api/v1/offers/{name}"
        ))
    })
}

#[utoipa::path(
    get, path = "/api/v1/offers/{name}", tag = "offers",
    params(("name" = String, Path, description = "offer name")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn get_offer(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (offer, counts) = existing(&state, &name).await?;
    Ok(Json(offer_json(&offer, &counts)))
}

#[utoipa::path(
    put, path = "/api/v1/offers/{name}", tag = "offers",
    params(("name" = String, Path, description = "offer name: lowercase letters, digits and _")),
    request_body(content = Object, description = "{pattern?, valid_days?, ends_at?, low_water?, attributes?}"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn put_offer(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = crate::body::read_bytes(&headers, body, 64 * 1024).await?;
    let definition: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body must be a JSON object like {{\"pattern\": \"CART-{{XXXXXX}}\", \"valid_days\": 7}}: {e}"),
        )
    })?;
    let offer = Offer::parse(&name, &definition)
        .map_err(|e| ApiError::bad_request("invalid_offer", e.to_string()))?;
    state.store.put_offer(offer).await?;
    let (offer, counts) = existing(&state, &name).await?;
    Ok(Json(offer_json(&offer, &counts)))
}

#[utoipa::path(
    post, path = "/api/v1/offers/{name}/codes", tag = "offers",
    params(("name" = String, Path, description = "offer name")),
    request_body(content = Object, description = "{\"codes\": [\"A1B2C3\", ...]}"),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 413, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn add_codes(
    _: Admin,
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let bytes = crate::body::read_bytes(&headers, body, MAX_BODY).await?;
    let codes = parse_codes(&bytes)?;
    let (offer, _) = existing(&state, &name).await?;
    if offer.pattern.is_some() {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!(
                "offer `{name}` makes its codes from a pattern; imported codes need an offer without one"
            ),
        ));
    }
    let added = state.store.add_coupon_codes(&name, codes).await?;
    let (offer, counts) = existing(&state, &name).await?;
    Ok(Json(
        json!({"added": added, "offer": offer_json(&offer, &counts)}),
    ))
}

fn parse_codes(bytes: &[u8]) -> Result<Vec<String>, ApiError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Codes {
        codes: Vec<String>,
    }
    let Codes { codes } = serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request(
            "invalid_json",
            format!("the body must be {{\"codes\": [\"A1B2C3\", ...]}}: {e}"),
        )
    })?;
    if codes.is_empty() || codes.len() > MAX_CODES {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("send between 1 and {MAX_CODES} codes per request"),
        ));
    }
    if let Some((i, c)) = codes.iter().enumerate().find(|(_, c)| !valid_code(c)) {
        return Err(ApiError::bad_request(
            "invalid_code",
            format!(
                "codes[{i}] `{c}`: a code is 1 to 64 letters, digits, `-` or `_`; nothing was added"
            ),
        ));
    }
    Ok(codes)
}

#[utoipa::path(
    get, path = "/api/v1/profiles/{id}/coupons", tag = "offers",
    params(("id" = String, Path, description = "userId or anonymousId")),
    responses((status = 200, body = Object), (status = 404, body = ErrorBody)),
    security(("admin_token" = []))
)]
pub async fn profile_coupons(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let profile = state
        .store
        .resolve(&id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("nobody is known as `{id}`")))?;
    Ok(Json(
        json!({"coupons": state.store.coupons(profile).await?}),
    ))
}
