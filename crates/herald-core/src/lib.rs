//! Herald's domain, free of I/O.
//!
//! Everything here is plain data and plain functions: the Segment-spec [`message`]s Herald accepts
//! and how raw JSON is [`parse`]d and validated into them, the [`identity`] rules that decide which
//! profile a message belongs to, how profile [`traits`] merge, event [`time`] and clock-skew
//! correction, and the [`credentials`] that guard ingest and administration. Stores, servers and
//! engines build on these types; none of them is needed to test them.

pub mod consent;
pub mod credentials;
pub mod event;
pub mod identity;
pub mod ids;
pub mod links;
pub mod message;
pub mod parse;
pub mod time;
pub mod traits;

pub use event::StoredEvent;
pub use ids::{AnonymousId, Identity, IdentityKind, MessageId, ProfileId, SourceId, UserId};
pub use message::{Channel, Message, MessageKind};
pub use time::Timestamp;
