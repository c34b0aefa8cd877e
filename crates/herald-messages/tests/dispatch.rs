//! The dispatcher over a real store and the real channel clients, pointed at provider servers of
//! this test's own: SMS through a Twilio-shaped API (with consent: no opt-in, no SMS), push
//! through FCM (an unregistered token is dropped from the person's traits), journey webhooks
//! signed as Standard Webhooks, and a provider outage retried with backoff until it gives up
//! into the dead-letter list.

use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use herald_channels::push::fcm::{Fcm, FcmConfig, ServiceAccount};
use herald_channels::sms::twilio::{Twilio, TwilioConfig};
use herald_channels::webhook::{WebhookSecret, WebhookSender};
use herald_core::credentials::Secret;
use herald_core::{Channel, Timestamp};
use herald_messages::compose::Sender;
use herald_messages::delivery::{Dispatcher, Lane, Policy};
use herald_messages::transports::PushRouter;
use herald_store::{DeliveryState, JourneyCommit, NewStore, OutboxMessage, OutboxStatus, Store};
use herald_store_sqlite::{Access, SqliteStore};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[derive(Default)]
struct Seen {
    sms: Vec<HashMap<String, String>>,
    push: Vec<Value>,
    hooks: Vec<(HeaderMap, String)>,
    /// Answer 503 to webhooks while set.
    down: bool,
}

type Shared = Arc<Mutex<Seen>>;

async fn twilio(
    State(s): State<Shared>,
    Form(f): Form<HashMap<String, String>>,
) -> (StatusCode, Json<Value>) {
    s.lock().unwrap().sms.push(f);
    (
        StatusCode::CREATED,
        Json(json!({"sid": "SM0001", "status": "queued"})),
    )
}

async fn token() -> Json<Value> {
    Json(json!({"access_token": "ya29.test", "expires_in": 3600, "token_type": "Bearer"}))
}

async fn fcm(State(s): State<Shared>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let dead = body["message"]["token"] == "dead-token";
    s.lock().unwrap().push.push(body);
    if dead {
        return (
            StatusCode::NOT_FOUND,
            Json(
                json!({"error": {"code": 404, "message": "Requested entity was not found.",
                "status": "NOT_FOUND", "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED"}]}}),
            ),
        );
    }
    (
        StatusCode::OK,
        Json(json!({"name": "projects/p/messages/1"})),
    )
}

async fn hook(State(s): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let mut seen = s.lock().unwrap();
    seen.hooks.push((headers, body));
    if seen.down {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn providers(seen: Shared) -> String {
    let app = Router::new()
        .route("/2010-04-01/Accounts/AC1/Messages.json", post(twilio))
        .route("/token", post(token))
        .route("/v1/projects/p/messages:send", post(fcm))
        .route("/hook", post(hook))
        .with_state(seen);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn outbox(
    id: &str,
    profile: herald_core::ProfileId,
    channel: &str,
    template: &str,
) -> OutboxMessage {
    OutboxMessage {
        seq: 0,
        id: id.into(),
        profile,
        journey: "test".into(),
        version: 1,
        instance: id.into(),
        step: 0,
        channel: channel.into(),
        template: template.into(),
        class: "marketing".into(),
        status: OutboxStatus::Queued,
        reason: None,
        context: json!({"trigger": {"cart_url": "https://shop.example/cart"}}),
        created_at: Timestamp::now(),
        delivery: None,
    }
}

#[tokio::test]
async fn sms_push_and_webhooks_go_out_through_their_providers() {
    let seen: Shared = Arc::default();
    let base = providers(seen.clone()).await;
    let dir = tempfile::TempDir::new().unwrap();
    SqliteStore::create(
        dir.path(),
        &NewStore {
            write_key: Secret::new("wk"),
            admin_token: Secret::new("admin"),
        },
    )
    .unwrap();
    let store = Arc::new(SqliteStore::open(dir.path(), Access::ReadWrite).unwrap());
    let source = store.named_source("test").await.unwrap();
    let lines = [
        json!({"type": "identify", "userId": "opted", "traits": {"first_name": "Ann", "phone": "+1 415 555 0100",
               "subscriptions": {"sms": true},
               "devices": [{"token": "good-token", "platform": "android"}, {"token": "dead-token", "platform": "android"}]}}),
        json!({"type": "identify", "userId": "silent", "traits": {"phone": "+14155550101"}}),
    ];
    let msgs = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            herald_core::parse::parse_line(&l.to_string(), Timestamp::now(), &mut || {
                format!("m{i}")
            })
            .unwrap()
        })
        .collect();
    store.append(source, msgs).await.unwrap();
    let opted = store.resolve("opted").await.unwrap().unwrap();
    let silent = store.resolve("silent").await.unwrap().unwrap();
    let mut templates = herald_content::library();
    templates.extend(
        herald_content::parse(
            "template alert push\ntitle: Hi {{ profile.traits.first_name }}\nbody: Your cart misses you\nend\n",
        )
        .unwrap(),
    );
    herald_messages::templates::apply(store.as_ref(), &templates, false, Timestamp::now())
        .await
        .unwrap();
    store
        .commit_journeys(JourneyCommit {
            messages: vec![
                outbox("sms-1", opted, "sms", "abandoned_cart_2"),
                outbox("sms-2", silent, "sms", "abandoned_cart_2"),
                outbox("push-1", opted, "push", "alert"),
                outbox("hook-1", opted, "webhook", &format!("{base}/hook")),
            ],
            ..Default::default()
        })
        .await
        .unwrap();

    let mut twilio = TwilioConfig::new("AC1", "token");
    twilio.base_url = base.clone();
    twilio.from = Some("+15005550006".into());
    let account = ServiceAccount::from_json(
        &json!({"type": "service_account", "project_id": "p", "client_email": "push@p.iam.gserviceaccount.com",
                "private_key": include_str!("../../herald-channels/tests/keys/fcm-test-only-rsa-private.pem"),
                "token_uri": format!("{base}/token")})
        .to_string(),
    )
    .unwrap();
    let mut fcm = FcmConfig::new(account);
    fcm.base_url = base.clone();
    let mut lanes = HashMap::new();
    lanes.insert(
        Channel::Sms,
        Lane::new(Arc::new(Twilio::new(twilio)), 2, None),
    );
    lanes.insert(
        Channel::Push,
        Lane::new(
            Arc::new(PushRouter {
                fcm: Some(Fcm::new(fcm).unwrap()),
                apns: None,
            }),
            2,
            None,
        ),
    );
    lanes.insert(
        Channel::Webhook,
        Lane::new(
            Arc::new(WebhookSender::new(Some(
                WebhookSecret::parse(SECRET).unwrap(),
            ))),
            2,
            None,
        ),
    );
    let sender = Sender {
        public_url: "https://herald.example.com".into(),
        email_from: "news@shop.example".into(),
        message_domain: "shop.example".into(),
        track: true,
        extra: serde_json::Map::new(),
    };
    let policy = Policy {
        max_attempts: 2,
        backoff: Duration::from_secs(60),
        ..Policy::default()
    };
    let dyn_store: Arc<dyn Store> = store.clone();
    let dispatcher = Dispatcher::new(dyn_store, lanes, sender, policy)
        .await
        .unwrap();
    seen.lock().unwrap().down = true;
    let now = Timestamp::now();
    let round = dispatcher.round(now).await.unwrap();
    assert_eq!(
        (
            round.claimed,
            round.delivered,
            round.suppressed,
            round.retried
        ),
        (4, 2, 1, 1),
        "{round:?}"
    );

    let state = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .outbox_message(id)
                .await
                .unwrap()
                .unwrap()
                .delivery
                .unwrap()
        }
    };
    // SMS: the opted-in person's text, as Twilio documents the form; nobody else's.
    {
        let s = seen.lock().unwrap();
        assert_eq!(s.sms.len(), 1);
        assert_eq!(s.sms[0]["To"], "+14155550100");
        assert_eq!(s.sms[0]["From"], "+15005550006");
        assert!(
            s.sms[0]["Body"].contains("Ann, your cart is saved"),
            "{:?}",
            s.sms[0]
        );
        assert!(s.sms[0]["Body"].contains("https://shop.example/cart"));
    }
    assert_eq!(state("sms-1").await.provider_id.as_deref(), Some("SM0001"));
    let silent_sms = state("sms-2").await;
    assert_eq!(silent_sms.state, DeliveryState::Suppressed);
    assert!(silent_sms.error.unwrap().contains("no opt-in"));

    // Push: both devices tried; the unregistered one leaves the person's traits.
    assert_eq!(seen.lock().unwrap().push.len(), 2);
    assert_eq!(
        seen.lock().unwrap().push[0]["message"]["notification"]["title"],
        "Hi Ann"
    );
    assert_eq!(state("push-1").await.state, DeliveryState::Delivered);
    let traits = store.profile("opted").await.unwrap().unwrap().traits;
    assert_eq!(
        traits["devices"],
        json!([{"token": "good-token", "platform": "android"}])
    );

    // Webhook: signed, with the message id as webhook-id; the 503 means a retry later.
    let hook = state("hook-1").await;
    assert_eq!(hook.state, DeliveryState::Pending);
    assert!(hook.error.as_deref().unwrap().contains("503"), "{hook:?}");
    assert!(hook.due.unwrap() > now);
    {
        let s = seen.lock().unwrap();
        let (headers, body) = &s.hooks[0];
        assert_eq!(headers["webhook-id"], "hook-1");
        let ts: i64 = headers["webhook-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let secret = WebhookSecret::parse(SECRET).unwrap();
        assert!(herald_channels::webhook::verify(
            &secret,
            "hook-1",
            ts,
            body.as_bytes(),
            headers["webhook-signature"].to_str().unwrap()
        ));
        let body: Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["data"]["message_id"], "hook-1");
    }
    // Nothing is due before the backoff; after it, the second failure exhausts the attempts.
    assert_eq!(dispatcher.round(now).await.unwrap().claimed, 0);
    let later = Timestamp::from_millisecond(hook.due.unwrap().as_millisecond() + 1).unwrap();
    let round = dispatcher.round(later).await.unwrap();
    assert_eq!((round.claimed, round.failed), (1, 1));
    let dead = store
        .deliveries_in_state(DeliveryState::Failed, 0, 10)
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    let error = dead[0].delivery.as_ref().unwrap().error.clone().unwrap();
    assert!(error.contains("gave up after 2 attempts"), "{error}");
    let events = store.profile_events("opted", 20).await.unwrap().unwrap();
    let names: Vec<&str> = events.iter().filter_map(|e| e.name.as_deref()).collect();
    for n in ["SMS Sent", "Push Notification Sent", "Message Failed"] {
        assert!(names.contains(&n), "{n} in {names:?}");
    }
    store.close().await.unwrap();
}
