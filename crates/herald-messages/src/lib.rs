//! Herald's message layer over a store.
//!
//! * [`templates`]: storing templates as versions per name and channel, the live set journeys
//!   send with, and previews of a template for a real person.

pub mod templates;

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
