//! The OpenAPI document of the management and ingest APIs.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "Herald", description = "Behavioral segmentation and lifecycle messaging. Ingest speaks the Segment HTTP tracking API; management is under /api/v1 with an admin token."),
    paths(
        crate::ingest::batch,
        crate::ingest::identify,
        crate::ingest::track,
        crate::ingest::page,
        crate::ingest::screen,
        crate::ingest::group,
        crate::ingest::alias,
        crate::profiles::get_profile,
        crate::profiles::get_events,
        crate::profiles::delete_profile,
        crate::profiles::export_profile,
        crate::profiles::stats,
        crate::segments::put_segment,
        crate::segments::delete_segment,
        crate::segments::list_segments,
        crate::segments::get_segment,
        crate::segments::get_members,
        crate::segments::profile_segments,
        crate::segments::explain,
        crate::journeys::put_journey,
        crate::journeys::list_journeys,
        crate::journeys::get_journey,
        crate::journeys::enrol,
        crate::journeys::migrate,
        crate::journeys::list_messages,
        crate::templates::put_template,
        crate::templates::list_templates,
        crate::templates::preview,
        crate::consent::get_consent,
        crate::consent::put_consent,
        crate::consent::list_suppressions,
        crate::consent::add_suppression,
        crate::consent::remove_suppression,
        crate::feedback::email_feedback,
        crate::catalog::put_items,
        crate::catalog::list_items,
        crate::catalog::get_item,
        crate::catalog::delete_item,
        crate::catalog::similar,
        crate::catalog::recommendations,
        crate::offers::list_offers,
        crate::offers::get_offer,
        crate::offers::put_offer,
        crate::offers::add_codes,
        crate::offers::profile_coupons,
    ),
    modifiers(&Security),
    tags(
        (name = "ingest", description = "Segment-compatible tracking API (write key)"),
        (name = "profiles", description = "People and their events (admin token)"),
        (name = "segments", description = "Segment definitions, members and explanations (admin token)"),
        (name = "journeys", description = "Journeys, their per-step counts, and the outbox of messages they send (admin token)"),
        (name = "templates", description = "Message templates and previews (admin token)"),
        (name = "messages", description = "Consent, the suppression list, and bounce and complaint reports (admin token)"),
        (name = "catalog", description = "Catalog items, similar items and recommendations (admin token)"),
        (name = "offers", description = "Coupon pools and the codes people were given (admin token)"),
        (name = "store", description = "Store-wide figures (admin token)"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "write_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("The write key as username, empty password"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("The admin token printed by `herald init`"))
                    .build(),
            ),
        );
    }
}

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
