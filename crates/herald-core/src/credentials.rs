//! Write keys and admin tokens.
//!
//! A write key lets a source send events and nothing else; it is stored as a SHA-256 digest, which
//! is enough because keys are random and long. An admin token unlocks the management API; a user
//! may choose it, so it is stored as an Argon2id hash. Neither ever shows in `Debug` output or logs.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use sha2::{Digest, Sha256};
use std::fmt;

/// A secret string that never prints.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself: call only where it must be used or shown to its owner once.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// SHA-256 of a write key, as stored and looked up.
pub fn write_key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// Why a credential could not be hashed.
#[derive(Debug, thiserror::Error)]
#[error("could not hash the admin token: {0}")]
pub struct HashError(String);

/// Hashes an admin token with Argon2id and a fresh salt from `salt_bytes` (16 random bytes).
pub fn hash_admin_token(token: &str, salt_bytes: &[u8; 16]) -> Result<String, HashError> {
    Argon2::default()
        .hash_password_with_salt(token.as_bytes(), salt_bytes)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Checks a presented token against a stored hash.
pub fn verify_admin_token(token: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash)
        .map(|h| {
            Argon2::default()
                .verify_password(token.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Digest for remembering already-verified tokens in memory without keeping the token itself.
pub fn token_fingerprint(token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"herald-admin-token:");
    h.update(token.as_bytes());
    h.finalize().into()
}

/// Keyed digest of an erased person's id: enough to recognise the id again, useless to read it.
pub fn erased_id_digest(salt: &[u8], kind_code: i64, value: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(kind_code.to_le_bytes());
    h.update(value.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_tokens_verify_only_themselves() {
        let hash = hash_admin_token("correct horse", &[7; 16]).unwrap();
        assert!(!hash.contains("correct horse"));
        assert!(verify_admin_token("correct horse", &hash));
        assert!(!verify_admin_token("wrong", &hash));
        assert!(!verify_admin_token("correct horse", "not a hash"));
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
    }
}
