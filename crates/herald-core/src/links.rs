//! Signed tokens for the links Herald puts in messages: the open pixel, click redirects, one-click
//! unsubscribe and the preference centre.
//!
//! A token names what it is for, the message, and for a click the link's position and its URL;
//! an HMAC-SHA256 with the store's link key (truncated to 128 bits) seals it. The server acts only
//! on tokens it signed: a tampered or invented token is refused, and a click can only ever
//! redirect to a URL the message itself linked to (no open redirect).
//!
//! Form: `base64url(payload) "." base64url(tag)`, where the payload is the purpose letter, the
//! message id, the link index and the URL separated by `\n` (none of which may contain one).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use std::fmt;

/// Bytes of the tag kept in a token.
const TAG_BYTES: usize = 16;

/// What a link does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkPurpose {
    Open,
    Click,
    Unsubscribe,
    Preferences,
}

impl LinkPurpose {
    fn letter(self) -> char {
        match self {
            LinkPurpose::Open => 'o',
            LinkPurpose::Click => 'c',
            LinkPurpose::Unsubscribe => 'u',
            LinkPurpose::Preferences => 'p',
        }
    }

    fn from_letter(c: &str) -> Option<LinkPurpose> {
        Some(match c {
            "o" => LinkPurpose::Open,
            "c" => LinkPurpose::Click,
            "u" => LinkPurpose::Unsubscribe,
            "p" => LinkPurpose::Preferences,
            _ => return None,
        })
    }
}

/// What a token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkToken {
    pub purpose: LinkPurpose,
    pub message_id: String,
    /// A click's link, by position in the message.
    pub link: Option<u32>,
    /// A click's destination.
    pub url: Option<String>,
}

/// Why a token could not be made.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("{0} may not contain a line break")]
pub struct TokenError(&'static str);

/// The store's key for link tokens: 32 random bytes made at `herald init`. Never printed.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(<redacted>)")
    }
}

impl LinkKey {
    pub fn new(bytes: [u8; 32]) -> LinkKey {
        LinkKey(bytes)
    }

    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length");
        mac.update(payload);
        mac
    }

    /// The token for `token`'s contents.
    pub fn sign(&self, token: &LinkToken) -> Result<String, TokenError> {
        if token.message_id.contains('\n') {
            return Err(TokenError("a message id"));
        }
        if token.url.as_deref().is_some_and(|u| u.contains('\n')) {
            return Err(TokenError("a URL"));
        }
        let payload = format!(
            "{}\n{}\n{}\n{}",
            token.purpose.letter(),
            token.message_id,
            token.link.map(|l| l.to_string()).unwrap_or_default(),
            token.url.as_deref().unwrap_or_default()
        );
        let tag = self.mac(payload.as_bytes()).finalize().into_bytes();
        Ok(format!(
            "{}.{}",
            B64.encode(payload),
            B64.encode(&tag[..TAG_BYTES])
        ))
    }

    /// What a token says, if this key signed it (checked in constant time).
    pub fn verify(&self, token: &str) -> Option<LinkToken> {
        let (payload, tag) = token.split_once('.')?;
        let payload = B64.decode(payload).ok()?;
        let tag = B64.decode(tag).ok()?;
        if tag.len() != TAG_BYTES {
            return None;
        }
        self.mac(&payload).verify_truncated_left(&tag).ok()?;
        let text = String::from_utf8(payload).ok()?;
        let mut parts = text.splitn(4, '\n');
        let purpose = LinkPurpose::from_letter(parts.next()?)?;
        let message_id = parts.next()?.to_owned();
        let link = match parts.next()? {
            "" => None,
            n => Some(n.parse().ok()?),
        };
        let url = match parts.next()? {
            "" => None,
            u => Some(u.to_owned()),
        };
        Some(LinkToken {
            purpose,
            message_id,
            link,
            url,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn click() -> LinkToken {
        LinkToken {
            purpose: LinkPurpose::Click,
            message_id: "welcome_series.1.7.1.0".into(),
            link: Some(2),
            url: Some("https://shop.example/shoes?utm_source=herald".into()),
        }
    }

    #[test]
    fn tokens_round_trip_and_only_for_their_key() {
        let key = LinkKey::new([7; 32]);
        let t = key.sign(&click()).unwrap();
        assert_eq!(key.verify(&t), Some(click()));
        assert!(!t.contains(['/', '+', '=', '\n']), "URL-safe: {t}");
        assert_eq!(LinkKey::new([8; 32]).verify(&t), None);
        let open = LinkToken {
            purpose: LinkPurpose::Open,
            message_id: "m1".into(),
            link: None,
            url: None,
        };
        assert_eq!(key.verify(&key.sign(&open).unwrap()), Some(open));
    }

    #[test]
    fn tampering_is_refused() {
        let key = LinkKey::new([7; 32]);
        let t = key.sign(&click()).unwrap();
        let (payload, tag) = t.split_once('.').unwrap();
        // Another destination with the old tag.
        let mut other = click();
        other.url = Some("https://evil.example/".into());
        let forged_payload = key.sign(&other).unwrap();
        let forged = format!("{}.{tag}", forged_payload.split_once('.').unwrap().0);
        assert_eq!(key.verify(&forged), None);
        // A flipped tag bit, a cut tag, garbage.
        let mut bytes = B64.decode(tag).unwrap();
        bytes[0] ^= 1;
        assert_eq!(
            key.verify(&format!("{payload}.{}", B64.encode(&bytes))),
            None
        );
        assert_eq!(key.verify(&format!("{payload}.{}", &tag[..10])), None);
        for junk in ["", ".", "abc", "a.b.c", "%%%.%%%"] {
            assert_eq!(key.verify(junk), None, "{junk}");
        }
        let mut bad = click();
        bad.url = Some("https://x\n".into());
        assert!(key.sign(&bad).is_err());
        assert_eq!(format!("{key:?}"), "LinkKey(<redacted>)");
    }
}
