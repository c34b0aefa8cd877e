//! Herald's HTTP server.
//!
//! - [`ingest`]: the Segment tracking API under `/v1`, guarded by write keys.
//! - [`profiles`]: the management API under `/api/v1`, guarded by the admin token, described by
//!   the OpenAPI document at `/api/v1/openapi.json`.
//! - `/healthz` and Prometheus metrics at `/metrics`.
//!
//! Tests and the binary start it the same way: [`launch_with_tcp_listener`] on a bound listener
//! (port 0 in tests) with a shutdown future.

pub mod auth;
pub mod body;
pub mod catalog;
pub mod consent;
pub mod error;
pub mod feedback;
pub mod ingest;
pub mod journeys;
pub mod offers;
pub mod openapi;
pub mod preferences;
pub mod profiles;
pub mod segments;
pub mod telemetry;
pub mod templates;
pub mod tracking;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Method, Uri, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use error::ApiError;
use herald_conductor::{Conductor, JourneyService};
use herald_merchandising::Recommender;
use herald_messages::delivery::Dispatcher;
use herald_segmenter::{SegmentService, Segmenter};
use herald_store::Store;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub metrics: telemetry::Metrics,
    /// The segment task, started by [`launch_with_tcp_listener`].
    pub segments: Option<SegmentService>,
    /// The journey task, started by [`launch_with_tcp_listener`].
    pub journeys: Option<JourneyService>,
    /// The time zone of people without a `timezone` trait.
    pub zone: jiff::tz::TimeZone,
    /// Signs and checks tracking links; loaded from the store by [`launch_with_tcp_listener`].
    pub links: Option<herald_core::links::LinkKey>,
    /// The base of tracking and unsubscribe links in messages (`HERALD_PUBLIC_URL`).
    pub public_url: String,
    /// Delivers the send queue; started by [`launch_with_tcp_listener`] when given.
    pub dispatcher: Option<Arc<Dispatcher>>,
    /// Checks Twilio's status callbacks (`HERALD_TWILIO_AUTH_TOKEN`).
    pub twilio_auth_token: Option<Arc<str>>,
    /// Recommendations, kept up to date by a task [`launch_with_tcp_listener`] starts.
    pub recommender: Recommender,
}

impl AppState {
    pub fn new(store: Arc<dyn Store>) -> Self {
        AppState {
            store,
            metrics: telemetry::Metrics::install(),
            segments: None,
            journeys: None,
            zone: jiff::tz::TimeZone::UTC,
            links: None,
            public_url: "http://127.0.0.1:8080".to_owned(),
            dispatcher: None,
            twilio_auth_token: None,
            recommender: Recommender::new(herald_recommend::Settings::default()),
        }
    }
}

impl AppState {
    /// Tells the segment, journey and recommendation tasks that new events are durable.
    pub fn events_appended(&self) {
        self.recommender.wake();
        if let Some(s) = &self.segments {
            s.wake();
        }
        if let Some(j) = &self.journeys {
            j.wake();
        }
    }
}

/// All routes.
pub fn router(state: AppState) -> Router {
    let v1 = Router::new()
        .route("/v1/batch", post(ingest::batch))
        .route("/v1/import", post(ingest::batch))
        .route("/v1/identify", post(ingest::identify))
        .route("/v1/track", post(ingest::track))
        .route("/v1/page", post(ingest::page))
        .route("/v1/screen", post(ingest::screen))
        .route("/v1/group", post(ingest::group))
        .route("/v1/alias", post(ingest::alias));
    let api = Router::new()
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/stats", get(profiles::stats))
        .route(
            "/api/v1/profiles/{id}",
            get(profiles::get_profile).delete(profiles::delete_profile),
        )
        .route("/api/v1/profiles/{id}/events", get(profiles::get_events))
        .route(
            "/api/v1/profiles/{id}/export",
            get(profiles::export_profile),
        )
        .route(
            "/api/v1/profiles/{id}/segments",
            get(segments::profile_segments),
        )
        .route("/api/v1/segments", get(segments::list_segments))
        .route(
            "/api/v1/segments/{name}",
            get(segments::get_segment)
                .put(segments::put_segment)
                .delete(segments::delete_segment),
        )
        .route(
            "/api/v1/segments/{name}/members",
            get(segments::get_members),
        )
        .route(
            "/api/v1/segments/{name}/explain/{id}",
            get(segments::explain),
        )
        .route("/api/v1/journeys", get(journeys::list_journeys))
        .route(
            "/api/v1/journeys/{name}",
            get(journeys::get_journey).put(journeys::put_journey),
        )
        .route("/api/v1/journeys/{name}/enrol", post(journeys::enrol))
        .route("/api/v1/journeys/{name}/migrate", post(journeys::migrate))
        .route("/api/v1/messages", get(journeys::list_messages))
        .route("/api/v1/templates", get(templates::list_templates))
        .route("/api/v1/templates/{name}", put(templates::put_template))
        .route("/api/v1/templates/{name}/preview", post(templates::preview))
        .route(
            "/api/v1/profiles/{id}/consent",
            get(consent::get_consent).put(consent::put_consent),
        )
        .route(
            "/api/v1/suppressions",
            get(consent::list_suppressions).post(consent::add_suppression),
        )
        .route(
            "/api/v1/suppressions/{channel}/{address}",
            delete(consent::remove_suppression),
        )
        .route("/api/v1/feedback/email", post(feedback::email_feedback))
        .route(
            "/api/v1/catalog/items",
            get(catalog::list_items).put(catalog::put_items),
        )
        .route(
            "/api/v1/catalog/items/{id}",
            get(catalog::get_item).delete(catalog::delete_item),
        )
        .route("/api/v1/catalog/items/{id}/similar", get(catalog::similar))
        .route(
            "/api/v1/profiles/{id}/recommendations",
            get(catalog::recommendations),
        )
        .route("/api/v1/offers", get(offers::list_offers))
        .route(
            "/api/v1/offers/{name}",
            get(offers::get_offer).put(offers::put_offer),
        )
        .route("/api/v1/offers/{name}/codes", post(offers::add_codes))
        .route(
            "/api/v1/profiles/{id}/coupons",
            get(offers::profile_coupons),
        );
    Router::new()
        .merge(v1)
        .merge(api)
        .route("/t/o/{token}", get(tracking::open))
        .route("/t/c/{token}", get(tracking::click))
        .route(
            "/u/{token}",
            get(preferences::unsubscribe_page).post(preferences::unsubscribe),
        )
        .route(
            "/p/{token}",
            get(preferences::preference_page).post(preferences::save_preferences),
        )
        .route("/hooks/twilio/status", post(feedback::twilio_status))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        // Bodies are bounded by the ingest handlers themselves (after decompression).
        .layer(DefaultBodyLimit::disable())
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"status":"ok"}"#,
    )
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!(
        "no route for {method} {}; see /api/v1/openapi.json",
        uri.path()
    ))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!(
            "{method} is not allowed on {}; see /api/v1/openapi.json",
            uri.path()
        ),
    )
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    ApiError::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error",
        "the server hit a bug handling this request; nothing was stored; please report it",
    )
    .into_response()
}

/// Starts the segment and journey tasks, serves on `listener` until `shutdown` completes, lets requests in
/// flight finish, stops the segment task after its current step, then closes the store so that
/// everything acknowledged is on disk.
pub async fn launch_with_tcp_listener(
    mut state: AppState,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let store = state.store.clone();
    state.links = Some(herald_core::links::LinkKey::new(
        store.link_key().await.map_err(std::io::Error::other)?,
    ));
    let segmenter = Segmenter::load(store.clone(), herald_core::Timestamp::now())
        .await
        .map_err(std::io::Error::other)?;
    let conductor = Conductor::load(store.clone(), state.zone.clone())
        .await
        .map_err(std::io::Error::other)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (stop_journeys, journeys_stopped) = tokio::sync::oneshot::channel::<()>();
    let (journeys, journey_task) = JourneyService::spawn_with(
        conductor,
        state.dispatcher.as_ref().map(|d| d.waker()),
        async {
            let _ = journeys_stopped.await;
        },
    );
    let (stop_recommender, recommender_stopped) = tokio::sync::oneshot::channel::<()>();
    let recommender_task = tokio::spawn(state.recommender.clone().run(store.clone(), async {
        let _ = recommender_stopped.await;
    }));
    let (stop_delivery, delivery_stopped) = tokio::sync::oneshot::channel::<()>();
    let delivery_task = state.dispatcher.clone().map(|d| {
        tokio::spawn(d.run(async {
            let _ = delivery_stopped.await;
        }))
    });
    let (service, segment_task) =
        SegmentService::spawn_with(segmenter, Some(journeys.waker()), async {
            let _ = stopped.await;
        });
    state.segments = Some(service);
    state.journeys = Some(journeys);
    let app = router(state);
    tracing::info!(addr = %listener.local_addr()?, "herald listening");
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    let _ = stop.send(());
    if let Err(e) = segment_task.await {
        tracing::error!(error = %e, "the segment task failed");
    }
    let _ = stop_journeys.send(());
    if let Err(e) = journey_task.await {
        tracing::error!(error = %e, "the journey task failed");
    }
    let _ = stop_delivery.send(());
    if let Some(task) = delivery_task
        && let Err(e) = task.await
    {
        tracing::error!(error = %e, "the delivery task failed");
    }
    let _ = stop_recommender.send(());
    if let Err(e) = recommender_task.await {
        tracing::error!(error = %e, "the recommendation task failed");
    }
    store.close().await.map_err(std::io::Error::other)?;
    tracing::info!("herald stopped; the store is closed");
    Ok(())
}
