//! Herald's message layer over a store.
//!
//! * [`templates`]: storing templates as versions per name and channel, the live set journeys
//!   send with, and previews of a template for a real person.
//! * [`compose`]: turning a queued message into a channel's message for one person: address,
//!   rendered content, tracked links, unsubscribe headers.
//! * [`delivery`]: the dispatcher that drains the send queue through the channel clients, with
//!   per-channel limits, retries with backoff, and the dead-letter list.
//! * [`preferences`]: unsubscribe, the preference centre, consent through the API, and the mail
//!   system's bounces and complaints.
//! * [`transports`]: the channel clients of `herald-channels` as the dispatcher uses them.
//! * [`events`]: the events all of this raises about people.
//! * [`facts`]: what a template reads besides the profile, gathered only when it mentions it.
//! * [`merchandise`]: the seam through which a shop adds recommendations, offers and current
//!   product details to messages.

pub mod compose;
pub mod delivery;
pub mod events;
pub mod facts;
pub mod merchandise;
pub mod preferences;
pub mod templates;
pub mod transports;

use herald_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum MessagesError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A template that cannot be used, or a preview that cannot be made.
    #[error("{0}")]
    Invalid(String),
    /// Nobody or nothing by that name.
    #[error("{0}")]
    NotFound(String),
    /// Something stored that this build cannot read.
    #[error("{0}; the store may come from a newer Herald")]
    Stored(String),
}
