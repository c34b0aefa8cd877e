//! The store interface.
//!
//! Herald keeps everything it knows behind [`Store`]: the durable event log, profiles and their
//! identities, groups, credentials and erasures. Engines and servers see only this trait and the
//! plain types below, so the embedded SQLite store and the PostgreSQL store for several nodes are
//! interchangeable at start-up.

use async_trait::async_trait;
use herald_catalog::{Coupon, Item, Offer, OfferCounts};
use herald_core::{Message, MessageKind, ProfileId, SourceId, StoredEvent, Timestamp};
use serde::Serialize;
use serde_json::{Map, Value};

mod catalog;
mod error;
mod journeys;
mod messages;
mod segments;
pub use catalog::{CATALOG_SOURCE, CatalogCommit};
pub use error::StoreError;
pub use journeys::{
    InstanceRow, JourneyAction, JourneyCommit, JourneyCursor, JourneyRecord, JourneyState,
    OutboxMessage, OutboxStatus, StepCount, Waiting,
};
pub use messages::{
    Claimed, ConsentChange, Delivery, DeliveryState, DeliveryUpdate, MESSAGES_SOURCE,
    MessageCommit, Suppression,
};
pub use segments::{
    Member, MembershipChange, ProfileChange, ProfileLogEntry, SEGMENT_ENTERED, SEGMENT_EXITED,
    SegmentCommit, SegmentCursor, SegmentRecord, SegmentState,
};

/// One version of a message template.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TemplateRecord {
    pub name: String,
    /// `email`, `sms`, `push` or `webhook`: a name has one template per channel.
    pub channel: String,
    pub version: u32,
    /// The template's JSON form.
    pub definition: Value,
    /// Whether sends use this version.
    pub live: bool,
    pub created_at: Timestamp,
}

/// What happened to the messages of one [`Store::append`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AppendReport {
    /// Newly written to the log.
    pub stored: u64,
    /// Already in the log under the same source and message id; not written again.
    pub duplicates: u64,
    /// Belonging to an erased person; dropped.
    pub dropped_erased: u64,
}

impl AppendReport {
    pub fn add(&mut self, other: AppendReport) {
        self.stored += other.stored;
        self.duplicates += other.duplicates;
        self.dropped_erased += other.dropped_erased;
    }
}

/// A person as Herald knows them.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Profile {
    pub id: ProfileId,
    /// The person's `userId` (the latest one given, when aliases joined several).
    pub user_id: Option<String>,
    /// Every `userId` that points at this person.
    pub user_ids: Vec<String>,
    pub anonymous_ids: Vec<String>,
    pub traits: Map<String, Value>,
    pub event_count: u64,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub groups: Vec<String>,
}

/// A group (company, account) a person belongs to.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Group {
    pub group_id: String,
    pub traits: Map<String, Value>,
}

/// Everything Herald holds about one person.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileExport {
    pub profile: Profile,
    pub groups: Vec<Group>,
    pub events: Vec<StoredEvent>,
}

/// What an erasure removed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Erasure {
    pub profile_id: ProfileId,
    pub events_deleted: u64,
    /// Ids that from now on are recognised and dropped at ingest.
    pub ids_suppressed: u64,
}

/// Counts of what the store holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub events: u64,
    pub profiles: u64,
    /// Events dropped because they named an erased person.
    pub dropped_erased: u64,
}

/// The credentials a new store is created with.
#[derive(Clone, Debug)]
pub struct NewStore {
    pub write_key: herald_core::credentials::Secret,
    pub admin_token: herald_core::credentials::Secret,
}

/// Name of the source that file imports are recorded under.
pub const IMPORT_SOURCE: &str = "import";

/// Herald's storage.
///
/// Every method may be called concurrently. [`Store::append`] returns only once its messages are
/// durable; a store may group concurrent appends into one commit.
/// Which messages a sparse scan returns bodies for, by kind and event name.
pub type BodyFilter = std::sync::Arc<dyn Fn(MessageKind, Option<&str>) -> bool + Send + Sync>;

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Durably appends validated messages from one source, resolving each to its profile in order.
    async fn append(
        &self,
        source: SourceId,
        messages: Vec<Message>,
    ) -> Result<AppendReport, StoreError>;

    /// The source a write key belongs to, if any.
    async fn source_for_write_key(&self, write_key: &str) -> Result<Option<SourceId>, StoreError>;

    /// The source named `name`, created when missing (used for file imports).
    async fn named_source(&self, name: &str) -> Result<SourceId, StoreError>;

    /// Whether `token` is the admin token.
    async fn verify_admin_token(&self, token: &str) -> Result<bool, StoreError>;

    /// The profile that `id` (a `userId` or `anonymousId`) belongs to.
    async fn profile(&self, id: &str) -> Result<Option<Profile>, StoreError>;

    /// A person's events, newest first; `None` when the id is unknown.
    async fn profile_events(
        &self,
        id: &str,
        limit: usize,
    ) -> Result<Option<Vec<StoredEvent>>, StoreError>;

    /// Everything held about a person; `None` when the id is unknown.
    async fn export_profile(&self, id: &str) -> Result<Option<ProfileExport>, StoreError>;

    /// Erases a person everywhere and suppresses their ids; `None` when the id is unknown.
    async fn erase(&self, id: &str) -> Result<Option<Erasure>, StoreError>;

    /// Events after log position `after`, oldest first, at most `limit`.
    async fn scan_events(&self, after: u64, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;

    /// As [`Store::scan_events`], but only the messages `wanted` accepts (by kind and event
    /// name) come with their body; the others have an empty body and message id, and
    /// `received_at` equal to `timestamp`. For engines that replay history and read few bodies.
    async fn scan_events_sparse(
        &self,
        after: u64,
        limit: usize,
        wanted: BodyFilter,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut events = self.scan_events(after, limit).await?;
        for e in &mut events {
            if !wanted(e.kind, e.name.as_deref()) {
                e.body = Box::default();
                e.message_id = String::new();
                e.received_at = e.timestamp;
            }
        }
        Ok(events)
    }

    async fn stats(&self) -> Result<Stats, StoreError>;

    /// The internal id of the person `id` (a `userId` or `anonymousId`) names.
    async fn resolve(&self, id: &str) -> Result<Option<ProfileId>, StoreError>;

    /// A profile's events up to log position `upto`, oldest first (to rebuild derived state).
    async fn profile_history(
        &self,
        profile: ProfileId,
        upto: u64,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// The distinct `track` event names in the log (to warn about definitions naming others).
    async fn event_names(&self) -> Result<Vec<String>, StoreError>;

    /// Merges and erasures after `after`, oldest first, at most `limit`.
    async fn profile_log(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ProfileLogEntry>, StoreError>;

    /// The stored segment definitions, by name.
    async fn segment_definitions(&self) -> Result<Vec<SegmentRecord>, StoreError>;

    /// Where the segment engine has read up to.
    async fn segment_cursor(&self) -> Result<SegmentCursor, StoreError>;

    /// Every profile's persisted segment engine state.
    async fn segment_states(&self) -> Result<Vec<(ProfileId, Vec<u8>)>, StoreError>;

    /// Durably applies one step of the segment engine.
    async fn commit_segments(&self, commit: SegmentCommit) -> Result<(), StoreError>;

    /// Members of a segment ordered by their id, after `after` (an id), at most `limit`.
    async fn segment_members(
        &self,
        segment: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Member>, StoreError>;

    /// Number of members of each stored segment.
    async fn segment_sizes(&self) -> Result<Vec<(String, u64)>, StoreError>;

    /// The ids people know profiles by (`userId`, else the first `anonymousId`); profiles that
    /// no longer exist are left out.
    async fn display_ids(
        &self,
        profiles: Vec<ProfileId>,
    ) -> Result<Vec<(ProfileId, String)>, StoreError>;

    /// Profiles by internal id (those that exist).
    async fn profiles_by_id(&self, ids: Vec<ProfileId>) -> Result<Vec<Profile>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for (p, id) in self.display_ids(ids).await? {
            if let Some(profile) = self.profile(&id).await?
                && profile.id == p
            {
                out.push(profile);
            }
        }
        Ok(out)
    }

    /// The segments a profile is in, with the time it entered each.
    async fn profile_segments(
        &self,
        profile: ProfileId,
    ) -> Result<Vec<(String, Timestamp)>, StoreError>;

    /// Every stored version of every journey, by name then version.
    async fn journey_definitions(&self) -> Result<Vec<JourneyRecord>, StoreError>;

    /// The global journey rules (JSON form), if any were applied.
    async fn journey_rules(&self) -> Result<Option<Value>, StoreError>;

    /// Where the journey runner has read up to.
    async fn journey_cursor(&self) -> Result<JourneyCursor, StoreError>;

    /// The persisted runner states of these profiles (those that have one).
    async fn journey_states(
        &self,
        profiles: Vec<ProfileId>,
    ) -> Result<Vec<(ProfileId, Vec<u8>)>, StoreError>;

    /// Profiles whose runner state is due at or before `now`, earliest first, at most `limit`.
    async fn due_journey_profiles(
        &self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<ProfileId>, StoreError>;

    /// The earliest due time of any runner state.
    async fn next_journey_due(&self) -> Result<Option<Timestamp>, StoreError>;

    /// Durably applies one step of the journey runner.
    async fn commit_journeys(&self, commit: JourneyCommit) -> Result<(), StoreError>;

    /// Action counts per journey version and step.
    async fn journey_step_counts(&self) -> Result<Vec<StepCount>, StoreError>;

    /// Running instances per journey version and step.
    async fn journey_waiting(&self) -> Result<Vec<Waiting>, StoreError>;

    /// Profiles with a running instance of `journey` on another version than `version`.
    async fn journey_profiles_off_version(
        &self,
        journey: &str,
        version: u32,
    ) -> Result<Vec<ProfileId>, StoreError>;

    /// Outbox messages after position `after`, oldest first, at most `limit`; only one
    /// profile's when `profile` is set.
    async fn outbox(
        &self,
        after: u64,
        limit: usize,
        profile: Option<ProfileId>,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// One outbox message by its id.
    async fn outbox_message(&self, id: &str) -> Result<Option<OutboxMessage>, StoreError>;

    /// Queued (not skipped) messages to a profile created at or after `since`, for frequency
    /// caps: `(channel, class, created_at)`.
    async fn recent_sends(
        &self,
        profile: ProfileId,
        since: Timestamp,
    ) -> Result<Vec<(String, String, Timestamp)>, StoreError>;

    /// The store's key for signing tracking and unsubscribe links (32 random bytes made once).
    async fn link_key(&self) -> Result<[u8; 32], StoreError>;

    /// Every stored version of every message template, by name, channel, version.
    async fn template_records(&self) -> Result<Vec<TemplateRecord>, StoreError>;

    /// Stores new template versions (existing `(name, channel, version)` are left as they
    /// are) and sets, for each `(name, channel)` in the list, which version is live.
    async fn commit_templates(&self, records: Vec<TemplateRecord>) -> Result<(), StoreError>;

    /// Finishes outstanding writes and releases the store. Further calls fail.
    /// Leases up to `limit` pending deliveries on `channels` that are due at `now`, until
    /// `lease_until`, counting an attempt for each; oldest due first.
    async fn claim_deliveries(
        &self,
        channels: Vec<String>,
        now: Timestamp,
        lease_until: Timestamp,
        limit: usize,
    ) -> Result<Vec<Claimed>, StoreError>;

    /// When the next pending delivery on `channels` is due.
    async fn next_delivery_due(
        &self,
        channels: Vec<String>,
    ) -> Result<Option<Timestamp>, StoreError>;

    /// Writes delivery outcomes with the events, consent and suppressions they bring, atomically.
    async fn commit_messages(&self, commit: MessageCommit) -> Result<(), StoreError>;

    /// A person's recorded consent, one record per channel and topic.
    async fn consent(
        &self,
        profile: ProfileId,
    ) -> Result<Vec<herald_core::consent::Consent>, StoreError>;

    /// Whether an address is suppressed on a channel.
    async fn suppression(
        &self,
        channel: &str,
        address: &str,
    ) -> Result<Option<Suppression>, StoreError>;

    /// The suppression list, by channel and address, after `after`.
    async fn suppressions(
        &self,
        after: Option<(String, String)>,
        limit: usize,
    ) -> Result<Vec<Suppression>, StoreError>;

    /// The message a provider knows by `provider_id` on `channel`.
    async fn message_for_provider_id(
        &self,
        channel: &str,
        provider_id: &str,
    ) -> Result<Option<OutboxMessage>, StoreError>;

    /// Queued messages whose delivery is in `state`, by outbox position after `after`.
    async fn deliveries_in_state(
        &self,
        state: DeliveryState,
        after: u64,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    // Catalog and offers

    /// The catalog items with these product ids (those that exist), in any order.
    async fn catalog_items(&self, ids: Vec<String>) -> Result<Vec<Item>, StoreError>;

    /// Items ordered by product id after `after`, at most `limit`; only those of `category`
    /// when it is set.
    async fn catalog_page(
        &self,
        category: Option<String>,
        after: Option<String>,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError>;

    /// Number of items in the catalog.
    async fn catalog_count(&self) -> Result<u64, StoreError>;

    /// Upserts items and appends the events they raise under [`CATALOG_SOURCE`], in one
    /// transaction.
    async fn commit_catalog(&self, commit: CatalogCommit) -> Result<AppendReport, StoreError>;

    /// Removes an item; whether it existed.
    async fn delete_catalog_item(&self, id: String) -> Result<bool, StoreError>;

    /// Creates an offer or replaces its definition; its codes stay.
    async fn put_offer(&self, offer: Offer) -> Result<(), StoreError>;

    /// Every offer with its pool's counts, by name.
    async fn offers(&self) -> Result<Vec<(Offer, OfferCounts)>, StoreError>;

    /// One offer with its pool's counts.
    async fn offer(&self, name: &str) -> Result<Option<(Offer, OfferCounts)>, StoreError>;

    /// Adds imported codes to an offer's pool. Codes the pool already has (compared without
    /// regard to case) and codes that are not [`herald_catalog::valid_code`] are skipped;
    /// returns how many were added. [`StoreError::UnknownOffer`] when there is no such offer.
    async fn add_coupon_codes(&self, offer: &str, codes: Vec<String>) -> Result<u64, StoreError>;

    /// The person's code for an offer, assigned at `now` when they have none: the oldest free
    /// imported code, or for a pattern pool the first of `candidates` that the pool does not
    /// have yet. The same person always gets the same code. `None` when the pool has no free
    /// code, every candidate is taken (the caller generates more and retries), the person no
    /// longer exists, or the offer has ended and the person had no code. A code assigned to
    /// someone who was later merged into another person is that person's. Expiry is
    /// [`Offer::expiry`] of `now`. [`StoreError::UnknownOffer`] when there is no such offer.
    async fn assign_coupon(
        &self,
        offer: &str,
        profile: ProfileId,
        now: Timestamp,
        candidates: Vec<String>,
    ) -> Result<Option<Coupon>, StoreError>;

    /// A person's coupons, all offers, by offer name.
    async fn coupons(&self, profile: ProfileId) -> Result<Vec<Coupon>, StoreError>;

    async fn close(&self) -> Result<(), StoreError>;
}
