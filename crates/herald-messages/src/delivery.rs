//! The dispatcher: takes due messages off the send queue and delivers them.
//!
//! Each round claims a batch of due deliveries on the channels that have a client (a claim
//! leases them, see `herald_store::messages`), decides for each whether it may be sent (the
//! person still exists, the message is not too old, the address is not suppressed, consent
//! allows it), composes it, and hands it to its channel's [`Transport`] — at most
//! `concurrency` at once and `rate` per second per channel. The outcomes of the whole batch are
//! committed together with the events they raise (`Email Delivered`, `SMS Sent`, ...), the
//! suppressions they bring (an invalid recipient) and the push tokens they drop.
//!
//! A transient error leaves the message pending with a later due time (exponential backoff with
//! jitter) until `max_attempts`; a permanent one, or running out of attempts, fails it with the
//! reason: the dead-letter list. Delivery is at least once: a process that dies between a
//! provider's acceptance and the commit sends that message again after its lease, under the
//! same `Message-ID` / idempotency id, so receivers can tell.

use crate::compose::{self, Facts, Outgoing, Sender, Unsendable};
use crate::events;
use crate::facts;
use crate::merchandise::Merchandise;
use crate::{MessagesError, templates};
use async_trait::async_trait;
use futures::StreamExt;
use herald_channels::{Receipt, SendError};
use herald_content::TemplateSet;
use herald_core::consent::{self, ConsentKey, MessageClass};
use herald_core::links::LinkKey;
use herald_core::{Channel, Timestamp};
use herald_store::{
    Claimed, DeliveryState, DeliveryUpdate, MessageCommit, OutboxMessage, Profile, Store,
    Suppression,
};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify, Semaphore};

/// A channel's client, as the dispatcher uses it.
#[async_trait]
pub trait Transport: Send + Sync {
    /// Sends one message (for push, to one device).
    async fn send(&self, out: &Outgoing, now: Timestamp) -> Result<Receipt, SendError>;
}

/// How hard to try.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Attempts before a message with transient errors is failed.
    pub max_attempts: u32,
    /// The first retry's delay; each further retry doubles it.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// How long a claim holds a message before another round may take it.
    pub lease: Duration,
    /// Messages older than this when their turn comes are failed instead of sent late.
    pub max_age: Duration,
    /// Messages claimed per round.
    pub batch: usize,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            max_attempts: 8,
            backoff: Duration::from_secs(30),
            max_backoff: Duration::from_secs(6 * 3600),
            lease: Duration::from_secs(300),
            max_age: Duration::from_secs(3 * 86_400),
            batch: 256,
        }
    }
}

/// A channel's client and its limits.
pub struct Lane {
    transport: Arc<dyn Transport>,
    concurrency: Arc<Semaphore>,
    rate: Option<Arc<Mutex<Bucket>>>,
}

impl Lane {
    /// `concurrency` sends at once; at most `per_second` started per second when given.
    pub fn new(transport: Arc<dyn Transport>, concurrency: usize, per_second: Option<f64>) -> Lane {
        Lane {
            transport,
            concurrency: Arc::new(Semaphore::new(concurrency.max(1))),
            rate: per_second
                .filter(|r| *r > 0.0)
                .map(|r| Arc::new(Mutex::new(Bucket::new(r)))),
        }
    }
}

/// A token bucket allowing bursts of one second's worth.
pub struct Bucket {
    per_second: f64,
    tokens: f64,
    last: tokio::time::Instant,
}

impl Bucket {
    fn new(per_second: f64) -> Bucket {
        Bucket {
            per_second,
            tokens: per_second.max(1.0),
            last: tokio::time::Instant::now(),
        }
    }

    /// How long to wait before the next send may start (and takes its token).
    fn take(&mut self) -> Duration {
        let now = tokio::time::Instant::now();
        let elapsed = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.per_second.max(1.0));
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

/// What one round did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Round {
    pub claimed: usize,
    pub delivered: usize,
    pub retried: usize,
    pub failed: usize,
    pub suppressed: usize,
}

/// The live versions (name, channel, version) and the templates compiled from them.
type LiveTemplates = (Vec<(String, String, u32)>, Arc<TemplateSet>);

/// The dispatcher.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    lanes: HashMap<Channel, Lane>,
    sender: Sender,
    policy: Policy,
    key: LinkKey,
    templates: Mutex<Option<LiveTemplates>>,
    wake: Arc<Notify>,
    /// The shop's catalog, recommendations and offers, when configured.
    merchandise: Option<Arc<dyn Merchandise>>,
}

/// One message's fate, before it is committed.
struct Fate {
    update: DeliveryUpdate,
    events: Vec<herald_core::Message>,
    suppress: Vec<Suppression>,
}

impl Dispatcher {
    pub async fn new(
        store: Arc<dyn Store>,
        lanes: HashMap<Channel, Lane>,
        sender: Sender,
        policy: Policy,
    ) -> Result<Dispatcher, MessagesError> {
        let key = LinkKey::new(store.link_key().await?);
        Ok(Dispatcher {
            store,
            lanes,
            sender,
            policy,
            key,
            templates: Mutex::new(None),
            wake: Arc::new(Notify::new()),
            merchandise: None,
        })
    }

    /// Gives templates the shop's recommendations, offers and current items.
    pub fn with_merchandise(mut self, merchandise: Arc<dyn Merchandise>) -> Dispatcher {
        self.merchandise = Some(merchandise);
        self
    }

    /// The channels that have a client.
    pub fn channels(&self) -> Vec<String> {
        let mut c: Vec<String> = self.lanes.keys().map(|c| c.as_str().to_owned()).collect();
        c.sort();
        c
    }

    /// Tells a waiting [`Dispatcher::run`] that new messages may be due.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What [`Dispatcher::wake`] notifies, for the journey task.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// The live templates, recompiled only when a live version changed.
    async fn templates(&self) -> Result<Arc<TemplateSet>, MessagesError> {
        let records = self.store.template_records().await?;
        let live: Vec<(String, String, u32)> = records
            .iter()
            .filter(|r| r.live)
            .map(|r| (r.name.clone(), r.channel.clone(), r.version))
            .collect();
        let mut cached = self.templates.lock().await;
        if let Some((versions, set)) = cached.as_ref()
            && *versions == live
        {
            return Ok(set.clone());
        }
        let set = Arc::new(templates::live(self.store.as_ref()).await?);
        *cached = Some((live, set.clone()));
        Ok(set)
    }

    /// Claims and delivers one batch of messages due at `now`.
    pub async fn round(&self, now: Timestamp) -> Result<Round, MessagesError> {
        let channels = self.channels();
        // A claim is a write (and an fsync); most wake-ups find nothing due, which a read tells.
        match self.store.next_delivery_due(channels.clone()).await? {
            Some(due) if due <= now => {}
            _ => return Ok(Round::default()),
        }
        let lease_until = now + self.policy.lease;
        let claimed = self
            .store
            .claim_deliveries(channels, now, lease_until, self.policy.batch)
            .await?;
        let mut round = Round {
            claimed: claimed.len(),
            ..Round::default()
        };
        if claimed.is_empty() {
            return Ok(round);
        }
        let templates = self.templates().await?;
        let ids: Vec<_> = claimed.iter().map(|c| c.message.profile).collect();
        let profiles: HashMap<_, _> = self
            .store
            .profiles_by_id(ids)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        // Bounded, so that the store's readers are reused rather than opened per message, while
        // enough sends are in flight to keep every channel's connections busy.
        let in_flight = self
            .lanes
            .values()
            .map(|l| l.concurrency.available_permits())
            .sum::<usize>()
            .max(8);
        let fates: Vec<_> = futures::stream::iter(claimed.into_iter().map(|c| {
            let profile = profiles.get(&c.message.profile);
            self.deliver(c, profile, &templates, now)
        }))
        .buffer_unordered(in_flight)
        .collect()
        .await;
        let mut commit = MessageCommit::default();
        for fate in fates {
            let fate = fate?;
            match fate.update.state {
                DeliveryState::Delivered => round.delivered += 1,
                DeliveryState::Pending => round.retried += 1,
                DeliveryState::Failed => round.failed += 1,
                DeliveryState::Suppressed => round.suppressed += 1,
            }
            commit.updates.push(fate.update);
            commit.events.extend(fate.events);
            commit.suppress.extend(fate.suppress);
        }
        self.store.commit_messages(commit).await?;
        metrics::counter!("herald_messages_delivered_total").increment(round.delivered as u64);
        metrics::counter!("herald_messages_failed_total").increment(round.failed as u64);
        Ok(round)
    }

    /// Delivers rounds until `shutdown`, sleeping until the next due message or a wake-up.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let outcome = self.round(Timestamp::now()).await;
            let pause = match outcome {
                // More may be due at once; but a long backlog must not hold up a shutdown.
                Ok(r) if r.claimed > 0 => {
                    if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
                        return;
                    }
                    continue;
                }
                Ok(_) => match self.store.next_delivery_due(self.channels()).await {
                    Ok(Some(due)) => Duration::from_millis(
                        (due.as_millisecond() - Timestamp::now().as_millisecond()).clamp(10, 60_000)
                            as u64,
                    ),
                    _ => Duration::from_secs(60),
                },
                Err(e) => {
                    tracing::warn!(error = %e, "a delivery round failed; trying again shortly");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                _ = &mut shutdown => return,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(pause) => {}
            }
        }
    }

    async fn deliver(
        &self,
        claimed: Claimed,
        profile: Option<&Profile>,
        templates: &TemplateSet,
        now: Timestamp,
    ) -> Result<Fate, MessagesError> {
        let Claimed { message, attempt } = claimed;
        let mut fate = Fate {
            update: DeliveryUpdate {
                message_id: message.id.clone(),
                state: DeliveryState::Failed,
                due: None,
                address: None,
                provider_id: None,
                error: None,
                at: now,
            },
            events: Vec::new(),
            suppress: Vec::new(),
        };
        let Some(profile) = profile else {
            fate.update.error = Some("the recipient no longer exists (erased or merged)".into());
            return Ok(fate);
        };
        let age_ms = now.as_millisecond() - message.created_at.as_millisecond();
        if age_ms > self.policy.max_age.as_millis() as i64 {
            fate.update.error = Some(format!(
                "expired: queued at {} and not sent within {}h",
                message.created_at,
                self.policy.max_age.as_secs() / 3600
            ));
            return Ok(fate);
        }
        let channel = Channel::parse(&message.channel).unwrap_or(Channel::Webhook);
        let Some(lane) = self.lanes.get(&channel) else {
            fate.update.state = DeliveryState::Pending;
            fate.update.due = Some(now);
            return Ok(fate);
        };
        let template = templates.get(&message.template, channel);
        // Coupon codes are handed out only to messages that go out: a first composition with
        // placeholder codes settles the address, consent and suppression.
        let offers = self
            .merchandise
            .as_deref()
            .filter(|_| template.is_some_and(|t| t.mentions("offers")));
        let facts = facts::gather(
            self.store.as_ref(),
            self.merchandise.as_deref(),
            profile,
            &compose::trigger(&message),
            message.context.get("key").and_then(Value::as_str),
            template,
            false,
            now,
        )
        .await?;
        let composed = |facts: Facts| {
            compose::compose(
                &message,
                profile,
                facts,
                templates,
                &self.key,
                &self.sender,
                now,
            )
        };
        let mut outgoing = match composed(facts.clone()) {
            Ok(o) => o,
            Err(Unsendable::NoAddress(why)) => {
                fate.update.state = DeliveryState::Suppressed;
                fate.update.error = Some(why);
                return Ok(fate);
            }
            Err(Unsendable::Broken(why)) => {
                fate.update.error = Some(why);
                return Ok(fate);
            }
        };
        let address = outgoing.address();
        fate.update.address = Some(address.clone());
        if let Some(why) = self.refusal(&message, channel, profile, &outgoing).await? {
            fate.update.state = DeliveryState::Suppressed;
            fate.update.error = Some(why);
            return Ok(fate);
        }
        if let (Some(shop), Some(t)) = (offers, template) {
            let mut facts = facts;
            let only_offers = |name: &str| name.starts_with("offers") && t.mentions(name);
            let coupons = shop
                .objects(profile, &facts.items, &only_offers, true, now)
                .await?;
            facts.extra.extend(coupons);
            outgoing = match composed(facts) {
                Ok(o) => o,
                Err(Unsendable::NoAddress(why) | Unsendable::Broken(why)) => {
                    fate.update.error = Some(why);
                    return Ok(fate);
                }
            };
        }
        let result = match &outgoing {
            Outgoing::Push(devices) => {
                self.push(lane, devices, profile, &message, now, &mut fate)
                    .await
            }
            other => self.send(lane, other, now).await,
        };
        match result {
            Ok(receipt) => {
                fate.update.state = DeliveryState::Delivered;
                fate.update.provider_id = receipt.provider_id;
                let name = match channel {
                    Channel::Email => "Email Delivered",
                    Channel::Sms => "SMS Sent",
                    Channel::Push => "Push Notification Sent",
                    Channel::Webhook => "Webhook Sent",
                };
                let mut props = events::about(&message);
                if let Outgoing::Email(e) = &outgoing {
                    props.insert("email_subject".into(), json!(e.subject));
                }
                fate.events.extend(events::track(
                    profile,
                    name,
                    props,
                    &format!("delivered.{}", message.id),
                    now,
                ));
            }
            Err(SendError::Transient(why)) if attempt < self.policy.max_attempts => {
                fate.update.state = DeliveryState::Pending;
                fate.update.due = Some(now + backoff(&self.policy, attempt));
                fate.update.error = Some(format!("attempt {attempt}: {why}"));
            }
            Err(e) => {
                let invalid = matches!(e, SendError::InvalidRecipient(_));
                fate.update.error = Some(if e.is_transient() {
                    format!("gave up after {attempt} attempts: {e}")
                } else {
                    e.to_string()
                });
                if invalid && channel != Channel::Push && channel != Channel::Webhook {
                    fate.suppress.push(Suppression {
                        channel: channel.as_str().to_owned(),
                        address,
                        reason: "invalid_recipient".into(),
                        detail: Some(e.to_string()),
                        at: now,
                    });
                }
                let mut props = events::about(&message);
                props.insert("reason".into(), json!(e.to_string()));
                let name = if channel == Channel::Email && invalid {
                    props.insert("bounce_type".into(), json!("hard"));
                    "Email Bounced"
                } else {
                    "Message Failed"
                };
                fate.events.extend(events::track(
                    profile,
                    name,
                    props,
                    &format!("failed.{}", message.id),
                    now,
                ));
            }
        }
        Ok(fate)
    }

    /// Why the message may not go to this person, if it may not.
    async fn refusal(
        &self,
        message: &OutboxMessage,
        channel: Channel,
        profile: &Profile,
        outgoing: &Outgoing,
    ) -> Result<Option<String>, MessagesError> {
        if channel != Channel::Push
            && let Some(s) = self
                .store
                .suppression(channel.as_str(), &outgoing.address())
                .await?
        {
            return Ok(Some(format!(
                "{} is suppressed ({}, {})",
                s.address, s.reason, s.at
            )));
        }
        let recorded: BTreeMap<ConsentKey, consent::Consent> = self
            .store
            .consent(profile.id)
            .await?
            .into_iter()
            .map(|c| (c.key(), c))
            .collect();
        let topic = message.context.get("topic").and_then(Value::as_str);
        Ok(consent::check(
            channel,
            topic.or(Some(message.journey.as_str())),
            MessageClass::parse(&message.class),
            &recorded,
        )
        .err())
    }

    async fn send(
        &self,
        lane: &Lane,
        out: &Outgoing,
        now: Timestamp,
    ) -> Result<Receipt, SendError> {
        let _permit = lane
            .concurrency
            .acquire()
            .await
            .map_err(|_| SendError::Transient("shutting down".into()))?;
        if let Some(bucket) = &lane.rate {
            let wait = bucket.lock().await.take();
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
        }
        lane.transport.send(out, now).await
    }

    /// Sends to each of the person's devices: delivered when any device took it; devices the
    /// provider calls invalid are dropped from the person's traits.
    async fn push(
        &self,
        lane: &Lane,
        devices: &[compose::Device],
        profile: &Profile,
        message: &OutboxMessage,
        now: Timestamp,
        fate: &mut Fate,
    ) -> Result<Receipt, SendError> {
        let mut taken = None;
        let mut last_error = None;
        let mut dead = Vec::new();
        for d in devices {
            match self.send(lane, &Outgoing::Push(vec![d.clone()]), now).await {
                Ok(r) => taken = taken.or(Some(r)),
                Err(SendError::InvalidRecipient(why)) => {
                    dead.push(d.push.token.clone());
                    last_error = Some(SendError::InvalidRecipient(why));
                }
                Err(e) => last_error = Some(e),
            }
        }
        if !dead.is_empty() {
            fate.events.extend(events::identify(
                profile,
                without_tokens(&profile.traits, &dead),
                &format!("tokens.{}", message.id),
                now,
            ));
        }
        match (taken, last_error) {
            (Some(r), _) => Ok(r),
            (None, Some(e)) => Err(e),
            (None, None) => Err(SendError::Permanent("no devices".into())),
        }
    }
}

/// The traits that drop `dead` push tokens.
fn without_tokens(traits: &Map<String, Value>, dead: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    if let Some(Value::Array(devices)) = traits.get("devices") {
        let kept: Vec<Value> = devices
            .iter()
            .filter(|d| {
                !d.get("token")
                    .and_then(Value::as_str)
                    .is_some_and(|t| dead.iter().any(|x| x == t))
            })
            .cloned()
            .collect();
        out.insert("devices".into(), Value::Array(kept));
    }
    if let Some(Value::String(t)) = traits.get("push_token")
        && dead.contains(t)
    {
        out.insert("push_token".into(), Value::Null);
    }
    out
}

/// The delay before retry number `attempt` (1 after the first attempt): doubling from
/// `backoff`, capped, with jitter so that a provider's outage does not end in a thundering herd.
pub fn backoff(policy: &Policy, attempt: u32) -> Duration {
    let exp = policy
        .backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(policy.max_backoff);
    let jitter = 0.5 + rand::random::<f64>() * 0.5;
    exp.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_within_jitter_and_caps() {
        let p = Policy::default();
        for attempt in 1..12 {
            let d = backoff(&p, attempt);
            let full = (p.backoff * 2u32.pow(attempt - 1)).min(p.max_backoff);
            assert!(d <= full && d >= full / 2, "{attempt}: {d:?} vs {full:?}");
        }
    }

    #[test]
    fn dead_tokens_leave_the_traits() {
        let traits = json!({"devices": [{"token": "a"}, {"token": "b"}], "push_token": "b"});
        let out = without_tokens(traits.as_object().unwrap(), &["b".to_owned()]);
        assert_eq!(
            Value::Object(out),
            json!({"devices": [{"token": "a"}], "push_token": null})
        );
    }

    #[tokio::test]
    async fn the_bucket_spaces_sends() {
        let mut b = Bucket::new(10.0);
        let waits: Vec<Duration> = (0..12).map(|_| b.take()).collect();
        assert!(waits[..10].iter().all(Duration::is_zero));
        assert!(waits[10] > Duration::ZERO && waits[11] > waits[10]);
    }
}
