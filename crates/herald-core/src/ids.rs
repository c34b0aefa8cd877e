//! Identifiers: Herald's own dense profile ids, and the ids customers' systems send.
//!
//! External ids are parsed once at the edge (parse, don't validate): a [`UserId`] is never empty and
//! never longer than [`MAX_ID_BYTES`], so code past the parser never checks again.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest external id accepted, in bytes. Segment sets no limit; ids longer than this are
/// certainly mistakes (a whole JSON document pasted into `userId`) and would bloat every index.
pub const MAX_ID_BYTES: usize = 512;

/// Herald's internal id of a person: dense, assigned in order, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProfileId(pub u64);

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Internal id of an ingest source (one per write key); message ids are unique per source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceId(pub u32);

/// Why a string is not a valid external id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("is empty")]
    Empty,
    #[error("is {0} bytes long; at most {MAX_ID_BYTES} are allowed")]
    TooLong(usize),
}

fn check_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        Err(IdError::Empty)
    } else if s.len() > MAX_ID_BYTES {
        Err(IdError::TooLong(s.len()))
    } else {
        Ok(())
    }
}

macro_rules! external_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Accepts a non-empty id of at most [`MAX_ID_BYTES`] bytes.
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                check_id(&s)?;
                Ok(Self(s))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

external_id!(
    /// The id a customer's own systems give a known person (Segment's `userId`).
    UserId
);
external_id!(
    /// A device or browser id used before a person is known (Segment's `anonymousId`).
    AnonymousId
);
external_id!(
    /// The sender's id of one message, used to drop retried duplicates (Segment's `messageId`).
    MessageId
);

/// Which of a profile's external ids an [`Identity`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    User,
    Anonymous,
}

impl IdentityKind {
    pub fn code(self) -> i64 {
        match self {
            IdentityKind::User => 0,
            IdentityKind::Anonymous => 1,
        }
    }

    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            0 => Some(IdentityKind::User),
            1 => Some(IdentityKind::Anonymous),
            _ => None,
        }
    }
}

/// One external id of a person, with its kind.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Identity {
    pub kind: IdentityKind,
    pub value: String,
}

impl Identity {
    pub fn user(id: &UserId) -> Self {
        Identity {
            kind: IdentityKind::User,
            value: id.as_str().to_owned(),
        }
    }

    pub fn anonymous(id: &AnonymousId) -> Self {
        Identity {
            kind: IdentityKind::Anonymous,
            value: id.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_empty_and_huge() {
        assert_eq!(UserId::parse(""), Err(IdError::Empty));
        assert!(matches!(
            UserId::parse("x".repeat(MAX_ID_BYTES + 1)),
            Err(IdError::TooLong(_))
        ));
        assert_eq!(UserId::parse("u1").unwrap().as_str(), "u1");
    }
}
