//! What composing reads besides the profile, and only what the template mentions: most
//! templates never look at segments, the cart, recommendations or offers, and each of those is a
//! read (or a model lookup) per message.

use crate::MessagesError;
use crate::compose::{self, Facts};
use crate::merchandise::Merchandise;
use herald_content::Template;
use herald_core::Timestamp;
use herald_store::{Profile, Store};
use serde_json::{Map, Value};

/// Gathers the facts `template` reads for `profile`, for a message whose trigger had
/// `trigger` as properties and `key` as its run key. Coupons are assigned only when `assign`
/// is set (sending, not previewing).
#[allow(clippy::too_many_arguments)]
pub async fn gather(
    store: &dyn Store,
    merchandise: Option<&dyn Merchandise>,
    profile: &Profile,
    trigger: &Map<String, Value>,
    key: Option<&str>,
    template: Option<&Template>,
    assign: bool,
    now: Timestamp,
) -> Result<Facts, MessagesError> {
    let reads = |name: &str| template.is_some_and(|t| t.mentions(name));
    let mut facts = Facts::default();
    if reads("profile.segments") {
        facts.segments = store
            .profile_segments(profile.id)
            .await?
            .into_iter()
            .map(|(s, _)| s)
            .collect();
    }
    let shop = merchandise.filter(|_| reads("recommendations") || reads("offers"));
    // The message's items: shown themselves, or the seeds of `similar`.
    if reads("journey.items") || (shop.is_some() && reads("recommendations.similar")) {
        let recent = match profile.user_id.as_ref().or(profile.anonymous_ids.first()) {
            Some(id) => store.profile_events(id, 100).await?.unwrap_or_default(),
            None => Vec::new(),
        };
        facts.items = compose::journey_items(trigger, key, &recent);
        if let Some(m) = merchandise
            && reads("journey.items")
        {
            m.current(&mut facts.items).await?;
        }
    }
    if let Some(m) = shop {
        facts.extra = m
            .objects(profile, &facts.items, &reads, assign, now)
            .await?;
    }
    Ok(facts)
}
