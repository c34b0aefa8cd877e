//! Which profile a message belongs to.
//!
//! Stores look up the message's ids and hand the results to [`plan`], which decides — as plain
//! logic, the same for every store — whether the message goes to an existing profile, a new one,
//! or joins two profiles into one. The rules follow Segment's identity resolution:
//!
//! - A message carrying both a `userId` and an `anonymousId` links them: anonymous history becomes
//!   the known person's history (the anonymous profile is absorbed, or simply gains the `userId`).
//! - Two profiles that each have their own `userId` are different people (a shared computer) and
//!   are never joined implicitly; only an explicit `alias` joins them.
//! - `alias` joins the profile of `previousId` (a user or anonymous id) into that of `userId`.

use crate::ids::{Identity, IdentityKind, ProfileId};
use crate::message::{Message, MessageKind};

/// What a store found for one id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    pub profile: ProfileId,
    /// Whether that profile already belongs to a known person (has a `userId`).
    pub known: bool,
}

/// The store's answers for the ids in a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lookup {
    /// The profile of the message's `userId`.
    pub user: Option<Found>,
    /// The profile of the message's `anonymousId`.
    pub anonymous: Option<Found>,
    /// For `alias`: the profile of `previousId` (looked up as a user id first, then anonymous).
    pub previous: Option<Found>,
}

/// Where the message goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Existing(ProfileId),
    /// A profile to create.
    New,
}

/// What the store must do for one message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub target: Target,
    /// Profiles to absorb into the target: their ids, events, traits and memberships move over.
    pub absorb: Option<ProfileId>,
    /// Ids to point at the target (new links; existing links of absorbed profiles move anyway).
    pub attach: Vec<Identity>,
}

/// Decides the profile for `message` given what the store found for its ids.
pub fn plan(message: &Message, found: Lookup) -> Plan {
    let user = message.user_id.as_ref().map(Identity::user);
    let anonymous = message.anonymous_id.as_ref().map(Identity::anonymous);

    if message.kind == MessageKind::Alias {
        return plan_alias(message, user, found);
    }

    match (found.user, found.anonymous) {
        // Known user, and the device is theirs or anonymous: absorb anonymous history.
        (Some(u), Some(a)) if a.profile != u.profile && !a.known => Plan {
            target: Target::Existing(u.profile),
            absorb: Some(a.profile),
            attach: vec![],
        },
        // The device belongs to someone else: the event is this user's; the device stays put.
        (Some(u), Some(_)) => Plan {
            target: Target::Existing(u.profile),
            absorb: None,
            attach: vec![],
        },
        (Some(u), None) => Plan {
            target: Target::Existing(u.profile),
            absorb: None,
            attach: anonymous.into_iter().collect(),
        },
        // First time this userId is seen on an anonymous device: the device's profile is theirs.
        (None, Some(a)) if user.is_some() && !a.known => Plan {
            target: Target::Existing(a.profile),
            absorb: None,
            attach: user.into_iter().collect(),
        },
        // A new userId on a device known as someone else: a new person.
        (None, Some(_)) if user.is_some() => Plan {
            target: Target::New,
            absorb: None,
            attach: user.into_iter().collect(),
        },
        (None, Some(a)) => Plan {
            target: Target::Existing(a.profile),
            absorb: None,
            attach: vec![],
        },
        (None, None) => Plan {
            target: Target::New,
            absorb: None,
            attach: user.into_iter().chain(anonymous).collect(),
        },
    }
}

fn plan_alias(message: &Message, user: Option<Identity>, found: Lookup) -> Plan {
    let previous = message.previous_id.as_ref().map(|p| Identity {
        // An unseen previousId is recorded as an anonymous id: that is what aliases usually carry.
        kind: IdentityKind::Anonymous,
        value: p.clone(),
    });
    match (found.user, found.previous) {
        (Some(u), Some(p)) if u.profile == p.profile => Plan {
            target: Target::Existing(u.profile),
            absorb: None,
            attach: vec![],
        },
        (Some(u), Some(p)) => Plan {
            target: Target::Existing(u.profile),
            absorb: Some(p.profile),
            attach: vec![],
        },
        (Some(u), None) => Plan {
            target: Target::Existing(u.profile),
            absorb: None,
            attach: previous.into_iter().collect(),
        },
        (None, Some(p)) => Plan {
            target: Target::Existing(p.profile),
            absorb: None,
            attach: user.into_iter().collect(),
        },
        (None, None) => Plan {
            target: Target::New,
            absorb: None,
            attach: user.into_iter().chain(previous).collect(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AnonymousId, MessageId, UserId};
    use crate::time::Timestamp;

    fn msg(
        kind: MessageKind,
        user: Option<&str>,
        anon: Option<&str>,
        previous: Option<&str>,
    ) -> Message {
        Message {
            kind,
            message_id: MessageId::parse("m").unwrap(),
            user_id: user.map(|u| UserId::parse(u).unwrap()),
            anonymous_id: anon.map(|a| AnonymousId::parse(a).unwrap()),
            name: None,
            previous_id: previous.map(str::to_owned),
            group_id: None,
            traits: None,
            timestamp: Timestamp::UNIX_EPOCH,
            received_at: Timestamp::UNIX_EPOCH,
            original_timestamp: None,
            sent_at: None,
            body: "{}".into(),
        }
    }

    fn found(id: u64, known: bool) -> Option<Found> {
        Some(Found {
            profile: ProfileId(id),
            known,
        })
    }

    #[test]
    fn anonymous_then_identify_keeps_the_device_profile() {
        let m = msg(MessageKind::Identify, Some("u"), Some("a"), None);
        let p = plan(
            &m,
            Lookup {
                anonymous: found(7, false),
                ..Lookup::default()
            },
        );
        assert_eq!(p.target, Target::Existing(ProfileId(7)));
        assert_eq!(
            p.attach,
            vec![Identity {
                kind: IdentityKind::User,
                value: "u".into()
            }]
        );
    }

    #[test]
    fn known_user_absorbs_anonymous_history() {
        let m = msg(MessageKind::Track, Some("u"), Some("a"), None);
        let p = plan(
            &m,
            Lookup {
                user: found(1, true),
                anonymous: found(2, false),
                ..Lookup::default()
            },
        );
        assert_eq!(p.target, Target::Existing(ProfileId(1)));
        assert_eq!(p.absorb, Some(ProfileId(2)));
    }

    #[test]
    fn two_known_people_are_never_joined_implicitly() {
        let m = msg(MessageKind::Identify, Some("u"), Some("a"), None);
        let p = plan(
            &m,
            Lookup {
                user: found(1, true),
                anonymous: found(2, true),
                ..Lookup::default()
            },
        );
        assert_eq!(
            p,
            Plan {
                target: Target::Existing(ProfileId(1)),
                absorb: None,
                attach: vec![]
            }
        );
        let p = plan(
            &m,
            Lookup {
                anonymous: found(2, true),
                ..Lookup::default()
            },
        );
        assert_eq!(p.target, Target::New);
        assert_eq!(
            p.attach.len(),
            1,
            "only the userId: the device stays with its owner"
        );
    }

    #[test]
    fn first_sight_creates_with_both_ids() {
        let m = msg(MessageKind::Page, Some("u"), Some("a"), None);
        let p = plan(&m, Lookup::default());
        assert_eq!(p.target, Target::New);
        assert_eq!(p.attach.len(), 2);
    }

    #[test]
    fn alias_joins_even_known_profiles() {
        let m = msg(MessageKind::Alias, Some("new"), None, Some("old"));
        let p = plan(
            &m,
            Lookup {
                user: found(1, true),
                previous: found(2, true),
                ..Lookup::default()
            },
        );
        assert_eq!(p.target, Target::Existing(ProfileId(1)));
        assert_eq!(p.absorb, Some(ProfileId(2)));
        let p = plan(
            &m,
            Lookup {
                previous: found(2, false),
                ..Lookup::default()
            },
        );
        assert_eq!(p.target, Target::Existing(ProfileId(2)));
        assert_eq!(
            p.attach,
            vec![Identity {
                kind: IdentityKind::User,
                value: "new".into()
            }]
        );
    }
}
